//! Loom models of `Local` and `LocalStack` (per-object thread-locals whose
//! values are dropped when their thread exits).
//!
//! Run with `LOOM_MAX_PREEMPTIONS=2 RUSTFLAGS="--cfg loom -C debug-assertions" cargo
//! test --release --target-dir target/loom --test loom_local`. Each model is 2-3
//! threads and names the property it checks. Under loom a `Local`'s table runs on
//! loom's atomics, mutex and cells (a value read and written at once is a
//! data-race report), and thread identity and the thread-locals are loom's.
//!
//! Loom drops a thread's thread-locals, and so runs its `Local` exit hook, when
//! the loom thread ends, which is *after* its `JoinHandle::join` has returned
//! (natively it is before). So whatever the joining thread does next (drop the
//! `Local`, `clear`, `iter_mut`) races with the joined thread's exit hook, and
//! the models explore that race. "Dropped exactly once" is therefore checked
//! when the whole execution has finished, by the [`Ledger`]; a second drop
//! fails at once, in the value's destructor.
//!
//! A thread takes a slot (its entry in every table) on its first value and frees
//! it at exit. The slot allocator is a std mutex, which loom cannot see; what
//! orders a reused entry for loom is the table's lock, which both the exit hook
//! that empties an entry and the insert that fills it take
//! (`local_thread_spawned_after_a_join_never_sees_the_old_value`). Most models
//! keep their threads alive until every thread has its slot ([`rendezvous`]),
//! so that each explores its own property rather than slot reuse.
//!
//! A failing model may abort the whole test binary ("panic in a destructor
//! during cleanup"): after the first panic, loom drops the remaining threads'
//! thread-locals outside the model, and their exit hooks then touch loom's
//! mutex. Run one model with `-- --exact NAME` to see its own report.
#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::thread;
use std::cell::RefCell;
use threadkit::{Local, LocalStack};

/// The most labels a model uses.
const LABELS: usize = 8;

/// Per label, how many values were created and dropped in the running
/// execution. A *std* thread-local of the OS thread that runs the model: loom
/// runs every thread of every execution on it (one after the other), and the
/// test harness runs each model on its own OS thread, so models that run in
/// parallel keep their own ledgers.
struct Ledger;

std::thread_local! {
    static LEDGER: RefCell<[(usize, usize); LABELS]> = const { RefCell::new([(0, 0); LABELS]) };
}

impl Ledger {
    /// Checks that the execution that just ended dropped every value it
    /// created exactly once, then starts afresh.
    fn check_and_reset() {
        let counts = LEDGER.with(|ledger| ledger.replace([(0, 0); LABELS]));
        for (label, (created, dropped)) in counts.into_iter().enumerate() {
            assert_eq!(
                created, dropped,
                "value {label}: {created} created but {dropped} dropped by the end of an execution"
            );
        }
    }

    /// How many values with `label` are alive now.
    fn alive(label: usize) -> usize {
        LEDGER.with(|ledger| {
            let (created, dropped) = ledger.borrow()[label];
            created - dropped
        })
    }
}

/// Loom's branch limit per execution, at least: every `iter_mut`, `clear` and
/// drop of a `Local` loads each of its table's bucket pointers (8 under loom;
/// a loom branch each), so a model with a few of them can exceed loom's default
/// of 1000. The loads race with nothing, so they add no executions.
const MAX_BRANCHES: usize = 10_000;

/// Held by each model while it runs. Slots come from one allocator per
/// process (a std mutex, not loom's), smallest free first: a model running
/// beside another would see its threads' slots, and so its tables' bucket
/// allocations, change from one execution to the next, which loom reports as
/// a nondeterministic model (or worse, replays wrongly). One model at a time,
/// every execution starts with the same free slots (each execution's threads
/// free theirs as they exit).
static ONE_MODEL_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `f` as a loom model, checking the [`Ledger`] after every execution.
fn model(f: impl Fn() + Send + Sync + 'static) {
    let _alone = ONE_MODEL_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    LEDGER.with(|ledger| ledger.replace([(0, 0); LABELS]));
    let mut builder = loom::model::Builder::new();
    builder.max_branches = builder.max_branches.max(MAX_BRANCHES);
    builder.check(move || {
        Ledger::check_and_reset(); // of the previous execution
        f();
    });
    Ledger::check_and_reset(); // of the last execution
}

/// Waits (yielding to loom) until `arrived` threads, counting this one, have
/// called it: no thread of the group exits, and frees its slot, before every
/// thread of the group has taken one.
fn rendezvous(count: &AtomicUsize, arrived: usize) {
    count.fetch_add(1, Ordering::AcqRel);
    while count.load(Ordering::Acquire) < arrived {
        thread::yield_now();
    }
}

/// Waits (yielding to loom) until `flag` is up.
fn wait_for(flag: &AtomicBool) {
    while !flag.load(Ordering::Acquire) {
        thread::yield_now();
    }
}

/// A value that records its creation and drop in the [`Ledger`], and fails at
/// once if it is dropped a second time.
#[derive(Debug)]
struct Tracked {
    label: usize,
    /// Bumped through `iter_mut`.
    hits: usize,
    /// Raised (`Release`) once the value is dropped, if set.
    on_drop: Option<Arc<AtomicBool>>,
}

impl Tracked {
    fn new(label: usize) -> Tracked {
        LEDGER.with(|ledger| ledger.borrow_mut()[label].0 += 1);
        Tracked {
            label,
            hits: 0,
            on_drop: None,
        }
    }

    /// A value that raises `dropped` when it is dropped.
    fn announcing(label: usize, dropped: Arc<AtomicBool>) -> Tracked {
        let mut value = Tracked::new(label);
        value.on_drop = Some(dropped);
        value
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if let Some(dropped) = &self.on_drop {
            dropped.store(true, Ordering::Release);
        }
        let label = self.label;
        let (created, dropped) = LEDGER.with(|ledger| {
            let counts = &mut ledger.borrow_mut()[label];
            counts.1 += 1;
            *counts
        });
        if !std::thread::panicking() {
            assert!(
                dropped <= created,
                "value {label} dropped twice ({created} created, {dropped} dropped)"
            );
        }
    }
}

/// Sets the current thread's value (label `label`) and checks it sees that
/// value, and none before.
fn set_own(local: &Local<Tracked>, label: usize) {
    assert!(
        local.get().is_none(),
        "thread {label} sees a value before setting its own"
    );
    assert_eq!(local.get_or(|| Tracked::new(label)).label, label);
    assert_eq!(
        local.get().map(|value| value.label),
        Some(label),
        "thread {label} does not see its own value"
    );
}

/// Isolation: two threads (and main) each create their own value in one shared
/// `Local` at once; none sees another's, before or after setting its own. (Main
/// takes a slot first, so the two threads' slots share a bucket.)
#[test]
fn local_threads_see_only_their_own_value() {
    model(|| {
        let local = Arc::new(Local::new());
        let arrived = Arc::new(AtomicUsize::new(0));
        set_own(&local, 0);
        let threads: Vec<_> = [1, 2]
            .into_iter()
            .map(|label| {
                let (local, arrived) = (Arc::clone(&local), Arc::clone(&arrived));
                thread::spawn(move || {
                    set_own(&local, label);
                    rendezvous(&arrived, 2);
                    assert_eq!(local.get().map(|value| value.label), Some(label));
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(local.get().map(|value| value.label), Some(0));
    });
}

/// A value set in a thread that has exited is dropped exactly once: by the
/// thread's exit hook or by the `Local`'s drop, whichever wins the table lock.
#[test]
fn local_value_of_an_exited_thread_is_dropped_once_by_exit_or_by_drop() {
    model(|| {
        let local = Arc::new(Local::new());
        let thread = {
            let local = Arc::clone(&local);
            thread::spawn(move || set_own(&local, 1))
        };
        thread.join().unwrap();
        // The exit hook may still be to run (loom): it races with this drop.
        let local = Arc::try_unwrap(local).expect("the thread's clone dropped before join");
        drop(local);
    });
}

/// A value whose destructor, run by its thread's exit hook, drops the last
/// handle of its own `Local`, racing with main's drop of its handle: the
/// `Local` drops inside that drop without waiting for it, in every
/// interleaving, and the value is dropped once.
#[test]
fn local_value_dropping_its_own_local_at_exit_completes() {
    /// The value's own `Local`, and a ledger entry (dropped with it).
    struct HoldsItsLocal(
        Option<Arc<Local<HoldsItsLocal>>>,
        #[allow(dead_code)] Tracked,
    );
    impl Drop for HoldsItsLocal {
        fn drop(&mut self) {
            drop(self.0.take());
        }
    }
    model(|| {
        let local = Arc::new(Local::new());
        let thread = {
            let local = Arc::clone(&local);
            thread::spawn(move || {
                let me = Arc::clone(&local);
                local.get_or(|| HoldsItsLocal(Some(me), Tracked::new(1)));
            })
        };
        drop(local); // races with the thread's value and exit
        thread.join().unwrap();
    });
}

/// `clear` (through `&mut`, once the thread has been joined) races with the
/// thread's exit hook: the value is dropped exactly once, and the `Local` is
/// empty afterwards; main's own value set after `clear` is the only one left.
#[test]
fn local_clear_races_with_exit_and_drops_once() {
    model(|| {
        let mut local = Arc::new(Local::new());
        let thread = {
            let local = Arc::clone(&local);
            thread::spawn(move || set_own(&local, 1))
        };
        thread.join().unwrap();
        let only = Arc::get_mut(&mut local).expect("the thread's clone dropped before join");
        only.clear(); // races with the thread's exit hook
        assert_eq!(only.iter_mut().count(), 0, "a value survived clear");
        set_own(only, 0);
        let labels: Vec<_> = only.iter_mut().map(|value| value.label).collect();
        assert_eq!(labels, [0], "iter_mut after clear and a new value");
    });
}

/// A thread that takes the slot of a thread that has exited (in the
/// executions where the old thread freed it in time) never sees the old
/// value. Main orders the reuse through the old value's drop, which loom can
/// see (compare the ignored model below).
#[test]
fn local_reused_slot_never_shows_the_old_value() {
    model(|| {
        let local = Arc::new(Local::new());
        let dropped = Arc::new(AtomicBool::new(false));
        {
            let (local, dropped) = (Arc::clone(&local), Arc::clone(&dropped));
            thread::spawn(move || {
                assert_eq!(local.get_or(|| Tracked::announcing(1, dropped)).label, 1);
            })
            .join()
            .unwrap();
        }
        wait_for(&dropped); // by the old thread's exit hook: nothing else drops it
        let local2 = Arc::clone(&local);
        thread::spawn(move || set_own(&local2, 2)).join().unwrap();
        assert!(local.get().is_none(), "main sees a thread's value");
    });
}

/// As above, as a user writes it: join a thread, then spawn the next, which
/// may take the slot the first frees at exit. The table's lock orders the old
/// thread's exit hook before the new thread's insert into the same entry (an
/// earlier version filled the entry without it, and loom reported a race).
#[test]
fn local_thread_spawned_after_a_join_never_sees_the_old_value() {
    model(|| {
        let local = Arc::new(Local::new());
        for label in [1, 2] {
            let local = Arc::clone(&local);
            thread::spawn(move || set_own(&local, label))
                .join()
                .unwrap();
        }
        assert!(local.get().is_none(), "main sees a thread's value");
    });
}

/// `iter_mut` (through `&mut`) yields the values of threads that still hold
/// one (main's, and a thread waiting after setting its own), maybe the value of
/// a joined thread whose exit hook has not run yet (loom), and never a dropped
/// value; its mutation is seen afterwards. Then `clear` races with the waiting
/// thread's exit. (The exiting thread starts once the holder has its slot.)
#[test]
fn local_iter_mut_sees_only_live_values() {
    model(|| {
        let mut local = Arc::new(Local::new());
        let (holding, release) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        set_own(&local, 0);
        let holder = {
            let (local, holding, release) = (
                Arc::clone(&local),
                Arc::clone(&holding),
                Arc::clone(&release),
            );
            thread::spawn(move || {
                set_own(&local, 2);
                drop(local); // lets main borrow `&mut`; the value stays in the table
                holding.store(true, Ordering::Release);
                wait_for(&release);
            })
        };
        wait_for(&holding);
        let exited = {
            let local = Arc::clone(&local);
            thread::spawn(move || set_own(&local, 1))
        };
        exited.join().unwrap();
        let only = Arc::get_mut(&mut local).expect("both threads dropped their clones");
        let mut seen = Vec::new();
        for value in only.iter_mut() {
            assert_eq!(
                Ledger::alive(value.label),
                1,
                "iter_mut yielded value {}, which was dropped",
                value.label
            );
            value.hits += 1;
            seen.push(value.label);
        }
        seen.sort_unstable();
        assert!(
            seen == [0, 2] || seen == [0, 1, 2],
            "iter_mut yielded {seen:?}, expected main's and the holder's values \
             (and maybe the exiting thread's)"
        );
        assert_eq!(only.get().map(|value| value.hits), Some(1));
        release.store(true, Ordering::Release);
        holder.join().unwrap();
        only.clear(); // races with the holder's exit hook
        assert_eq!(only.iter_mut().count(), 0, "a value survived clear");
    });
}

/// A thread that exits while `iter_mut`'s borrows (which may outlive the
/// iterator) are alive leaves its value in place: it is never dropped under a
/// borrow, and the next `&self` call on the `Local` drops it (the ledger checks
/// exactly once).
#[test]
fn local_thread_exiting_while_iter_mut_lends_leaves_its_value_to_the_next_call() {
    model(|| {
        let mut local = Arc::new(Local::new());
        let (holding, release) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let holder = {
            let (local, holding, release) = (
                Arc::clone(&local),
                Arc::clone(&holding),
                Arc::clone(&release),
            );
            thread::spawn(move || {
                set_own(&local, 1);
                drop(local); // lets main borrow `&mut`; the value stays in the table
                holding.store(true, Ordering::Release);
                wait_for(&release);
            })
        };
        wait_for(&holding);
        let only = Arc::get_mut(&mut local).expect("the holder dropped its clone");
        let values: Vec<&mut Tracked> = only.iter_mut().collect();
        release.store(true, Ordering::Release);
        holder.join().unwrap(); // under loom its exit hook may run before or after the reads
        for value in values {
            assert_eq!(Ledger::alive(1), 1, "dropped under an iter_mut borrow");
            value.hits += 1;
        }
        thread::yield_now();
        assert!(only.get().is_none(), "main has no value"); // ends the lending
    });
}

/// Pushes a base entry and a scoped one on this thread's stack; checks the
/// thread sees only its own top, and that dropping the guard pops exactly its
/// own entry.
fn push_scoped_pops_its_own(stack: &LocalStack<Tracked>, base: usize) {
    assert!(
        stack.is_empty(),
        "thread {base} sees another thread's entries"
    );
    stack.push(Tracked::new(base));
    {
        let _scoped = stack.push_scoped(Tracked::new(base + 1));
        assert_eq!(stack.len(), 2);
        assert_eq!(
            stack.with_top(|top| top.map(|top| top.label)),
            Some(base + 1),
            "thread {base} sees another thread's top"
        );
    }
    assert_eq!(
        stack.len(),
        1,
        "the guard did not pop exactly its own entry"
    );
    assert_eq!(
        stack.with_top(|top| top.map(|top| top.label)),
        Some(base),
        "the guard popped the wrong entry"
    );
    assert_eq!(
        Ledger::alive(base + 1),
        0,
        "the popped entry was not dropped"
    );
    // The base entry is left over: dropped when the thread exits.
}

/// `LocalStack`: two threads push scoped entries on one shared stack at once;
/// each sees only its own top, and its guard brings its own stack back to the
/// previous depth. Leftover entries are dropped exactly once (the ledger).
#[test]
fn local_stack_scoped_guard_pops_its_own_entry() {
    model(|| {
        let stack = Arc::new(LocalStack::new());
        let arrived = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = [2, 4]
            .into_iter()
            .map(|base| {
                let (stack, arrived) = (Arc::clone(&stack), Arc::clone(&arrived));
                thread::spawn(move || {
                    push_scoped_pops_its_own(&stack, base);
                    rendezvous(&arrived, 2);
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert!(stack.is_empty(), "main sees a thread's entries");
    });
}
