//! Integration tests for `Local` and `LocalStack`.
//!
//! # Provenance
//!
//! `cpython` ports CPython's `Lib/test/test_threading_local.py` (class
//! `BaseLocalTest`); each test is named after the CPython test it ports, and
//! was rewritten for this API (Python's `local.x = v` is `get_or(|| v)`, a
//! missing attribute is `get() == None`, `weakref`s to values are a drop
//! counter):
//! - `test_local_refs`: values of joined threads are freed (exactly: CPython
//!   lets `_threading_local` keep the last one, here none survives its `join`);
//! - `test_derived`: concurrent first use; CPython sleeps inside `__init__` to
//!   provoke a thread switch there, here every initialiser waits on one barrier,
//!   so all of them are inside `get_or` at once;
//! - `test_derived_cycle_dealloc`: new `Local`s, which may reuse a dropped
//!   one's memory, show a thread none of its old values;
//! - `test_threading_local` (`_test_one_class`): a thread never sees another's value;
//! - `test_threading_local_clear_race`: threads exit while the `Local`s they used
//!   are dropped (here each value must be dropped exactly once).
//!
//! Left out: `test_arguments`, `test_dict_attribute`, `test_error` (Python's
//! object model), `test_cycle_collection` (no garbage collector: Rust ownership
//! has no cycles to collect through a `Local`), `test_settrace_leak` (tracing
//! hooks), `test_threading_local_subclass` (no subclasses).
//!
//! `werkzeug` ports werkzeug's `test_local_stack` (push, top, pop, `pop` on an
//! empty stack gives `None`) and checks the rest of the SPEC's `LocalStack`:
//! isolation, `push_scoped` (also when unwinding, entries above it dropped
//! first), leftovers dropped at thread exit.
//!
//! The other modules check SPEC promises beyond those suites (`spec_*`), what a
//! value's destructor sees (`destructors`), a `LocalRef` kept alive by another
//! thread-local's destructor (`kept_ref`), and 10,000 short-lived threads
//! (`churn`). `regressions` holds the tests of soundness bugs found in earlier designs of `src/local`.
//!
//! # Timing rules
//!
//! No sleep orders threads: barriers, events and channels do, each bounded by
//! `HANDSHAKE`. A thread's values are dropped by its thread-local destructors,
//! which run before `JoinHandle::join` (or `ScopedJoinHandle::join`) returns,
//! so the drop counts after an explicit `join` are exact. The implicit join at
//! the end of `thread::scope` does NOT wait for them (std only waits for the
//! closure to return), so every test joins its scoped threads explicitly.
#![cfg(not(loom))]

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::panic;
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;
use std::sync::{Arc, Barrier, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use threadkit::{Event, Local, LocalRef, LocalStack, LocalStackGuard};

mod common;
use common::*;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Counts the values a test creates and drops. Each test has its own `static`
/// one (tests run in parallel), so values can point to it from any thread and
/// from a `static Local`.
struct Counter {
    created: AtomicUsize,
    dropped: AtomicUsize,
}

impl Counter {
    const fn new() -> Counter {
        Counter {
            created: AtomicUsize::new(0),
            dropped: AtomicUsize::new(0),
        }
    }

    /// A new value, counted.
    fn value(&'static self, id: usize) -> Counted {
        self.created.fetch_add(1, SeqCst);
        Counted {
            id,
            alive: ALIVE,
            counter: self,
        }
    }

    fn created(&self) -> usize {
        self.created.load(SeqCst)
    }

    fn dropped(&self) -> usize {
        self.dropped.load(SeqCst)
    }

    /// Values created and not yet dropped (`dropped` read first, so this never
    /// underflows; it may count a value dropped meanwhile).
    fn live(&self) -> usize {
        let dropped = self.dropped();
        self.created() - dropped
    }
}

/// `Counted::alive` of a value not yet dropped.
const ALIVE: u64 = 0x5EED_CAFE;

/// A value that counts its drop in its test's [`Counter`].
struct Counted {
    id: usize,
    /// [`ALIVE`] until dropped.
    alive: u64,
    counter: &'static Counter,
}

impl Counted {
    /// The id, checking that the value was not dropped.
    #[track_caller]
    fn id(&self) -> usize {
        assert_eq!(self.alive, ALIVE, "read a dropped value (id {})", self.id);
        self.id
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.alive = 0;
        self.counter.dropped.fetch_add(1, SeqCst);
    }
}

/// A thread's result, re-raising its panic (with its message) in the test.
#[track_caller]
fn joined<T>(result: thread::Result<T>) -> T {
    result.unwrap_or_else(|payload| panic::resume_unwind(payload))
}

/// Joins every handle (see [`joined`]).
#[track_caller]
fn join_all<T>(handles: Vec<JoinHandle<T>>) -> Vec<T> {
    handles.into_iter().map(|h| joined(h.join())).collect()
}

fn sorted(ids: impl IntoIterator<Item = usize>) -> Vec<usize> {
    let mut ids: Vec<usize> = ids.into_iter().collect();
    ids.sort_unstable();
    ids
}

/// Spawns `n` threads that each put their value (`id` = their index) in the
/// shared `local`, let go of it, report, and then stay alive until `go` is
/// set. Returns once all of them have let go, so the caller can take the
/// `Local` back (`Arc::into_inner`) while they live: the way to reach live
/// threads' values through `&mut Local`.
fn parked_threads(
    n: usize,
    local: &Arc<Local<Counted>>,
    counter: &'static Counter,
    go: &Arc<Event>,
) -> Vec<JoinHandle<()>> {
    let (ready_tx, ready_rx) = mpsc::channel();
    let handles = (0..n)
        .map(|i| {
            let (local, go, ready) = (Arc::clone(local), Arc::clone(go), ready_tx.clone());
            thread::spawn(move || {
                assert_eq!(local.get_or(|| counter.value(i)).id(), i);
                drop(local);
                ready.send(()).unwrap();
                assert!(go.wait_for(HANDSHAKE), "thread {i} was never let go");
            })
        })
        .collect();
    for _ in 0..n {
        recv(&ready_rx);
    }
    handles
}

/// Gives the current thread its slot, which it gets when it first stores a
/// value in any `Local` (until then `get` answers `None` without looking): a
/// later `get` then really reads the thread's, perhaps reused, slot. Uses a
/// `Local` of its own, which holds no old values.
fn take_a_slot() {
    let local = Local::new();
    local.get_or(|| ());
}

/// Set in the environment of a child process run by [`run_child`].
const CHILD_ENV: &str = "THREADKIT_LOCAL_TEST_CHILD";

/// Whether this process is a child run by [`run_child`]. A child test (which
/// aborts the process on purpose) is `#[ignore]`d and does nothing otherwise,
/// so `cargo test -- --ignored` cannot abort the run.
fn is_child() -> bool {
    std::env::var_os(CHILD_ENV).is_some()
}

/// Runs the ignored test `name` of this test binary alone in a child process;
/// returns its exit status and standard error. A sanitizer's report in the
/// child fails the test: the child's standard error is not shown otherwise.
fn run_child(name: &str) -> (ExitStatus, String) {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--include-ignored", "--nocapture"])
        .args(["--test-threads=1"])
        .env(CHILD_ENV, "1")
        .output()
        .expect("could not run the test binary");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !stderr.contains("Sanitizer: "),
        "a sanitizer reported in the child:\n{stderr}"
    );
    (output.status, stderr)
}

// ---------------------------------------------------------------------------
// CPython's Lib/test/test_threading_local.py
// ---------------------------------------------------------------------------

mod cpython {
    use super::*;

    /// `_local_refs(n)` for n = 20, 50, 100: each of `n` threads, run one after
    /// the other, stores a value; each value is dropped by the time its thread
    /// is joined. The main thread's own value ("assignment to the same thread
    /// local") changes nothing, and is dropped with the `Local`.
    #[test]
    fn test_local_refs() {
        static COUNTER: Counter = Counter::new();
        let mut dropped = 0;
        for n in [20, 50, 100].map(scaled) {
            let local = Local::new();
            for i in 0..n {
                let id = thread::scope(|s| {
                    joined(s.spawn(|| local.get_or(|| COUNTER.value(i)).id()).join())
                });
                assert_eq!(id, i);
                dropped += 1;
                assert_eq!(
                    COUNTER.dropped(),
                    dropped,
                    "thread {i} of {n}: its value outlived its join"
                );
            }
            assert_eq!(local.get_or(|| COUNTER.value(1000)).id(), 1000);
            assert_eq!(COUNTER.dropped(), dropped);
            drop(local);
            dropped += 1;
            assert_eq!(COUNTER.dropped(), dropped, "the Local dropped its value");
            assert_eq!(COUNTER.created(), dropped);
        }
    }

    /// `test_derived`: threads that create their values at the same time each
    /// get their own. Every initialiser waits for all the others, so all of
    /// them race to allocate the table and its buckets; each initialiser runs
    /// once per thread.
    #[test]
    fn test_derived() {
        static COUNTER: Counter = Counter::new();
        const N: usize = 16;
        let local = Local::new();
        let inits = AtomicUsize::new(0);
        let in_init = Barrier::new(N);
        thread::scope(|s| {
            let handles: Vec<_> = (0..N)
                .map(|i| {
                    let (local, inits, in_init) = (&local, &inits, &in_init);
                    s.spawn(move || {
                        let value = local.get_or(|| {
                            inits.fetch_add(1, SeqCst);
                            in_init.wait();
                            COUNTER.value(i)
                        });
                        assert_eq!(value.id(), i, "thread {i} got another thread's value");
                        let again = local.get_or(|| panic!("thread {i}: initialised twice"));
                        assert_eq!(again.id(), i);
                        for _ in 0..scaled(50) {
                            assert_eq!(local.get().expect("value lost").id(), i);
                            assert_eq!(local.with(|v| v.map(Counted::id)), Some(i));
                            thread::yield_now();
                        }
                    })
                })
                .collect();
            for handle in handles {
                joined(handle.join());
            }
        });
        assert_eq!(inits.load(SeqCst), N, "one initialisation per thread");
        assert_eq!(COUNTER.created(), N);
        assert_eq!(COUNTER.dropped(), N);
        assert!(
            local.get().is_none(),
            "the main thread never stored a value"
        );
    }

    /// `test_derived_cycle_dealloc`: a thread stores a value in a `Local` that
    /// is then dropped; new `Local`s (which may reuse its memory) show that
    /// thread nothing.
    #[test]
    fn test_derived_cycle_dealloc() {
        static COUNTER: Counter = Counter::new();
        let (dropped_tx, dropped_rx) = mpsc::channel();
        let (locals_tx, locals_rx) = mpsc::channel::<Arc<Vec<Local<Counted>>>>();
        let thread = thread::spawn(move || {
            // 1) and 2): a value in a Local that goes away.
            let local = Box::new(Local::new());
            local.get_or(|| COUNTER.value(1));
            drop(local);
            dropped_tx.send(()).unwrap();
            // 4) The new Locals are empty for this thread.
            let locals = recv(&locals_rx);
            for (i, local) in locals.iter().enumerate() {
                assert!(local.get().is_none(), "new Local {i} shows an old value");
                assert_eq!(local.get_or(|| COUNTER.value(2)).id(), 2);
            }
        });
        recv(&dropped_rx);
        assert_eq!(COUNTER.dropped(), 1, "the Local dropped the thread's value");
        // 3) New Locals, allocated as the old one was.
        let locals: Vec<Local<Counted>> = (0..10).map(|_| Local::new()).collect();
        locals_tx.send(Arc::new(locals)).unwrap();
        joined(thread.join());
        assert_eq!(COUNTER.created(), 11);
        assert_eq!(COUNTER.dropped(), 11);
    }

    /// `_test_one_class` (`test_threading_local`): a thread that has not
    /// stored a value sees none, while another thread holds one.
    #[test]
    fn test_threading_local() {
        let local: Arc<Local<String>> = Arc::new(Local::new());
        let (stored, done) = (Arc::new(Event::new()), Arc::new(Event::new()));
        let t1 = {
            let (local, stored, done) =
                (Arc::clone(&local), Arc::clone(&stored), Arc::clone(&done));
            thread::spawn(move || {
                local.get_or(|| String::from("foo"));
                stored.set();
                assert!(done.wait_for(HANDSHAKE));
                assert_eq!(*local.get().unwrap(), "foo");
            })
        };
        assert!(stored.wait_for(HANDSHAKE));
        let t2 = {
            let local = Arc::clone(&local);
            thread::spawn(move || {
                assert!(local.get().is_none(), "saw another thread's value");
                assert_eq!(local.with(|v| v.cloned()), None);
            })
        };
        joined(t2.join());
        done.set();
        joined(t1.join());
    }

    /// `test_threading_local_clear_race`: threads exit while the `Local`s they
    /// used are being dropped (by whichever thread lets go of each last). Every
    /// value is dropped exactly once: by its thread's exit or by its `Local`.
    #[test]
    fn test_threading_local_clear_race() {
        static COUNTER: Counter = Counter::new();
        const LOCALS: usize = scaled(16);
        for round in 0..scaled(40) {
            let locals: Vec<Arc<Local<Counted>>> =
                (0..LOCALS).map(|_| Arc::new(Local::new())).collect();
            let handles: Vec<_> = (0..2)
                .map(|t| {
                    let mine = locals.clone();
                    thread::spawn(move || {
                        for local in &mine {
                            assert_eq!(local.get_or(|| COUNTER.value(t)).id(), t);
                        }
                    })
                })
                .collect();
            for local in &locals {
                assert_eq!(local.get_or(|| COUNTER.value(9)).id(), 9);
            }
            drop(locals);
            join_all(handles);
            // Every Local is gone now, so every value must be too.
            assert_eq!(COUNTER.created(), (round + 1) * LOCALS * 3);
            assert_eq!(
                COUNTER.live(),
                0,
                "round {round}: values leaked or dropped twice"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// The SPEC beyond CPython's tests: creation, iteration, clear, drop, reuse
// ---------------------------------------------------------------------------

mod spec_values {
    use super::*;

    #[test]
    fn each_thread_sees_its_own_value() {
        let local = Local::new();
        assert!(local.get().is_none());
        assert_eq!(local.with(|v: Option<&u32>| v.copied()), None);
        assert_eq!(*local.get_or(|| 0), 0);
        thread::scope(|s| {
            let handles: Vec<_> = (1..=4u32)
                .map(|i| {
                    let local = &local;
                    s.spawn(move || {
                        assert!(
                            local.get().is_none(),
                            "thread {i} saw a value before storing"
                        );
                        assert_eq!(*local.get_or(|| i), i);
                        assert_eq!(*local.get_or(|| 99), i, "created twice");
                        assert_eq!(local.with(|v| v.copied()), Some(i));
                    })
                })
                .collect();
            for handle in handles {
                joined(handle.join());
            }
        });
        assert_eq!(*local.get().unwrap(), 0, "the main thread's value changed");
    }

    #[test]
    fn get_or_default_creates_once_and_values_mutate_through_cells() {
        let local: Local<Cell<u32>> = Local::new();
        for expected in 1..=3 {
            let hits = local.get_or_default();
            hits.set(hits.get() + 1);
            assert_eq!(local.get().unwrap().get(), expected);
        }
        thread::scope(|s| {
            joined(
                s.spawn(|| assert_eq!(local.get_or_default().get(), 0))
                    .join(),
            );
        });
        assert_eq!(local.get().unwrap().get(), 3);
    }

    /// A panicking initialiser stores nothing; the next `get_or` initialises.
    #[test]
    fn a_panic_in_create_stores_nothing() {
        static COUNTER: Counter = Counter::new();
        let local: Local<Counted> = Local::new();
        let msg = panic_of("a panicking initialiser", || {
            local.get_or(|| throw("create failed"));
        });
        assert_eq!(msg, "create failed");
        assert!(local.get().is_none());
        assert_eq!(local.get_or(|| COUNTER.value(5)).id(), 5);
        drop(local);
        assert_eq!((COUNTER.created(), COUNTER.dropped()), (1, 1));
    }

    /// An initialiser that creates the same thread's value itself panics (as
    /// documented); nothing leaks and nothing is dropped twice.
    #[test]
    fn a_reentrant_create_panics() {
        static COUNTER: Counter = Counter::new();
        let local: Local<Counted> = Local::new();
        thread::scope(|s| {
            joined(
                s.spawn(|| {
                    let msg = panic_of("a re-entrant get_or", || {
                        local.get_or(|| {
                            local.get_or(|| COUNTER.value(1));
                            COUNTER.value(2)
                        });
                    });
                    assert!(msg.contains("re-entrant"), "{msg}");
                    assert_eq!(COUNTER.dropped(), 1, "the outer value was dropped");
                    // The thread's `Local` still works.
                    assert!(local.get().is_some());
                })
                .join(),
            );
        });
        assert_eq!((COUNTER.created(), COUNTER.dropped()), (2, 2));
    }

    /// Values of many threads alive at once are each dropped by the time their
    /// thread is joined, and only theirs.
    #[test]
    fn values_are_dropped_when_their_threads_exit() {
        static COUNTER: Counter = Counter::new();
        const N: usize = 8;
        let local = Local::new();
        local.get_or(|| COUNTER.value(N));
        let all_stored = Barrier::new(N);
        let exit = Barrier::new(N);
        thread::scope(|s| {
            let handles: Vec<_> = (0..N)
                .map(|i| {
                    let (local, all_stored, exit) = (&local, &all_stored, &exit);
                    s.spawn(move || {
                        local.get_or(|| COUNTER.value(i));
                        all_stored.wait();
                        assert_eq!(
                            COUNTER.dropped(),
                            0,
                            "a value dropped before its thread exited"
                        );
                        exit.wait();
                    })
                })
                .collect();
            for (joined_so_far, handle) in handles.into_iter().enumerate() {
                joined(handle.join());
                assert!(COUNTER.dropped() > joined_so_far);
            }
        });
        assert_eq!(COUNTER.dropped(), N, "every thread's value, and only those");
        assert_eq!(local.get().unwrap().id(), N);
    }

    /// Dropping the `Local` drops every value still alive, also those of live
    /// threads (which then find nothing to drop when they exit).
    #[test]
    fn dropping_the_local_drops_every_live_value() {
        static COUNTER: Counter = Counter::new();
        const N: usize = 4;
        let local = Arc::new(Local::new());
        local.get_or(|| COUNTER.value(N));
        let go = Arc::new(Event::new());
        let handles = parked_threads(N, &local, &COUNTER, &go);
        let local = Arc::into_inner(local).expect("every thread let go of the Local");
        assert_eq!(COUNTER.dropped(), 0);
        drop(local);
        assert_eq!(
            COUNTER.dropped(),
            N + 1,
            "values of live threads were not dropped"
        );
        go.set();
        join_all(handles);
        assert_eq!(
            COUNTER.dropped(),
            N + 1,
            "a thread dropped its value again at exit"
        );
    }

    #[test]
    fn iter_mut_reaches_every_live_threads_value() {
        static COUNTER: Counter = Counter::new();
        const N: usize = 4;
        let local = Arc::new(Local::new());
        local.get_or(|| COUNTER.value(N));
        let go = Arc::new(Event::new());
        let handles = parked_threads(N, &local, &COUNTER, &go);
        let mut local = Arc::into_inner(local).expect("every thread let go of the Local");
        assert_eq!(local.iter_mut().len(), N + 1);
        assert_eq!(
            sorted(local.iter_mut().map(|v| v.id())),
            (0..=N).collect::<Vec<_>>()
        );
        for value in local.iter_mut() {
            value.id += 100;
        }
        assert_eq!(
            local.get().unwrap().id(),
            N + 100,
            "iter_mut's write not seen"
        );
        go.set();
        join_all(handles);
        assert_eq!(COUNTER.dropped(), N, "the exited threads' values");
        assert_eq!(sorted(local.iter_mut().map(|v| v.id())), [N + 100]);
        drop(local);
        assert_eq!(COUNTER.dropped(), N + 1);
    }

    /// Exited threads' values are gone; only the current thread's remains.
    #[test]
    fn iter_mut_after_threads_exit_yields_the_current_threads_value() {
        let mut local: Local<Cell<u32>> = Local::new();
        assert_eq!(local.iter_mut().len(), 0, "a new Local has no values");
        local.get_or_default().set(5);
        thread::scope(|s| {
            let handles: Vec<_> = (0..3)
                .map(|_| s.spawn(|| local.get_or_default().set(1)))
                .collect();
            for handle in handles {
                joined(handle.join());
            }
        });
        let values: Vec<u32> = local.iter_mut().map(|v| v.get()).collect();
        assert_eq!(values, [5]);
    }

    /// While `iter_mut`'s borrows may be alive, a thread that exits leaves
    /// its value in place; the next call on the `Local` drops it.
    #[test]
    fn threads_exiting_while_iter_mut_lends_leave_their_values_to_the_next_call() {
        static COUNTER: Counter = Counter::new();
        const N: usize = 3;
        let local = Arc::new(Local::new());
        let go = Arc::new(Event::new());
        let handles = parked_threads(N, &local, &COUNTER, &go);
        let mut local = Arc::into_inner(local).expect("every thread let go of the Local");
        {
            let mut values = local.iter_mut();
            go.set(); // the threads exit now, and want to drop their values
            let mut ids = Vec::new();
            for value in values.by_ref() {
                yield_a_while(|| ());
                ids.push(value.id());
            }
            assert_eq!(sorted(ids), (0..N).collect::<Vec<_>>());
            assert_eq!(
                COUNTER.dropped(),
                0,
                "a value was dropped while iter_mut lent it"
            );
            drop(values);
        }
        join_all(handles);
        assert_eq!(COUNTER.dropped(), 0, "dropped while the borrows may live");
        assert!(local.get().is_none(), "the main thread has no value");
        assert_eq!(COUNTER.dropped(), N, "the next call drops the left values");
        assert_eq!(local.iter_mut().len(), 0);
    }

    /// `clear` drops every thread's value (live threads' too), and each thread
    /// starts afresh.
    #[test]
    fn clear_drops_every_value_and_each_thread_starts_afresh() {
        static COUNTER: Counter = Counter::new();
        const N: usize = 3;
        let go = Arc::new(Event::new());
        let (report_tx, report_rx) = mpsc::channel();
        let mut inboxes = Vec::new();
        let mut handles = Vec::new();
        for i in 0..N {
            let (inbox, rx) = mpsc::channel::<Arc<Local<Counted>>>();
            inboxes.push(inbox);
            let (report, go) = (report_tx.clone(), Arc::clone(&go));
            handles.push(thread::spawn(move || {
                let local = recv(&rx);
                local.get_or(|| COUNTER.value(i));
                drop(local);
                report.send(()).unwrap();
                let local = recv(&rx);
                assert!(
                    local.get().is_none(),
                    "thread {i} still sees its cleared value"
                );
                assert_eq!(local.get_or(|| COUNTER.value(10 + i)).id(), 10 + i);
                drop(local);
                report.send(()).unwrap();
                assert!(go.wait_for(HANDSHAKE));
            }));
        }
        // Lends the Local to every thread, and takes it back once they let go.
        let share = |local: Local<Counted>| {
            let shared = Arc::new(local);
            for inbox in &inboxes {
                inbox.send(Arc::clone(&shared)).unwrap();
            }
            for _ in 0..N {
                recv(&report_rx);
            }
            Arc::into_inner(shared).expect("every thread let go of the Local")
        };

        let local = Local::new();
        local.get_or(|| COUNTER.value(N));
        let mut local = share(local);
        assert_eq!(local.iter_mut().len(), N + 1);
        local.clear();
        assert_eq!(COUNTER.dropped(), N + 1, "clear dropped every value");
        assert!(local.get().is_none());
        assert_eq!(local.iter_mut().len(), 0);

        assert_eq!(local.get_or(|| COUNTER.value(10 + N)).id(), 10 + N);
        let mut local = share(local);
        assert_eq!(
            sorted(local.iter_mut().map(|v| v.id())),
            (10..=10 + N).collect::<Vec<_>>()
        );
        // A `&self` call ends iter_mut's lending: the exits below drop at once.
        assert!(local.get().is_some());
        go.set();
        join_all(handles);
        assert_eq!(
            COUNTER.dropped(),
            2 * N + 1,
            "the threads' new values, at exit"
        );
        drop(local);
        assert_eq!(COUNTER.created(), 2 * N + 2);
        assert_eq!(COUNTER.dropped(), 2 * N + 2);
    }
}

mod spec_reuse {
    use super::*;

    /// Threads run one after the other reuse one slot: none sees its
    /// predecessor's value, and every value is dropped once.
    #[test]
    fn a_new_thread_never_sees_an_old_threads_value() {
        static LOCAL: Local<Counted> = Local::new();
        static COUNTER: Counter = Counter::new();
        const N: usize = scaled(200);
        const ROUNDS: usize = scaled(50);
        for i in 0..N {
            let handle = thread::spawn(move || {
                take_a_slot();
                assert!(LOCAL.get().is_none(), "thread {i} saw an old value");
                assert!(LOCAL.with(|v| v.is_none()), "thread {i} saw an old value");
                assert_eq!(LOCAL.get_or(|| COUNTER.value(i)).id(), i);
            });
            joined(handle.join());
        }
        // And a few at a time, so slots are freed and taken in other orders.
        for round in 0..ROUNDS {
            let start = Barrier::new(3);
            thread::scope(|s| {
                let handles: Vec<_> = (0..3)
                    .map(|t| {
                        let start = &start;
                        s.spawn(move || {
                            take_a_slot();
                            start.wait();
                            assert!(LOCAL.get().is_none(), "round {round}: saw an old value");
                            let id = N + round * 3 + t;
                            assert_eq!(LOCAL.get_or(|| COUNTER.value(id)).id(), id);
                        })
                    })
                    .collect();
                for handle in handles {
                    joined(handle.join());
                }
            });
        }
        assert_eq!(COUNTER.created(), N + 3 * ROUNDS);
        assert_eq!(COUNTER.dropped(), N + 3 * ROUNDS);
    }

    /// A new `Local`, also one in the memory of a dropped one, has no value.
    #[test]
    fn a_new_local_never_sees_an_old_value() {
        static COUNTER: Counter = Counter::new();
        const N: usize = 1000;
        let mut addresses = BTreeSet::new();
        // All N natively; under Miri `scaled(N)`, and on while no address
        // has come back yet (up to N).
        let mut boxes = 0;
        while boxes < scaled(N) || (addresses.len() == boxes && boxes < N) {
            let i = boxes;
            let local = Box::new(Local::new());
            addresses.insert(&*local as *const Local<Counted> as usize);
            assert!(local.get().is_none(), "Local {i} shows an old value");
            assert!(local.with(|v| v.is_none()), "Local {i} shows an old value");
            assert_eq!(local.get_or(|| COUNTER.value(i)).id(), i);
            drop(local);
            assert_eq!(COUNTER.dropped(), i + 1);
            boxes += 1;
        }
        // The same on the stack, where every iteration uses the same address.
        for i in 0..scaled(N) {
            let local = Local::new();
            assert!(local.get().is_none(), "Local {i} shows an old value");
            local.get_or(|| COUNTER.value(i));
        }
        assert_eq!(COUNTER.dropped(), boxes + scaled(N));
        assert!(addresses.len() < boxes, "the boxes never reused an address");
    }
}

// ---------------------------------------------------------------------------
// What a value's destructor sees
// ---------------------------------------------------------------------------

/// A destructor run at thread exit that reads a `Local` (`get`, `with`) sees
/// no value: the thread's values are gone from its view before any is
/// dropped. A destructor that calls `get_or` (or `get_or_default`) there
/// panics ("used from a thread-local destructor"), and a panic in a
/// thread-local destructor aborts the process, so that is checked in a child
/// process (`get_or_in_a_destructor_at_exit_aborts`).
mod destructors {
    use super::*;

    #[test]
    fn a_destructor_reading_its_own_local_sees_nothing() {
        static LOCAL: Local<Probe> = Local::new();
        struct Probe(mpsc::Sender<[bool; 2]>);
        impl Drop for Probe {
            fn drop(&mut self) {
                // No assertion here: a panic in a thread's exit would abort.
                let by_get = LOCAL.get().is_none();
                let by_with = LOCAL.with(|value| value.is_none());
                let _ = self.0.send([by_get, by_with]);
            }
        }
        let (tx, rx) = mpsc::channel();
        joined(
            thread::spawn(move || {
                LOCAL.get_or(|| Probe(tx));
                assert!(LOCAL.get().is_some());
            })
            .join(),
        );
        assert_eq!(
            rx.try_recv(),
            Ok([true, true]),
            "[get is None, with sees None]"
        );
    }

    #[test]
    fn a_destructor_reading_another_local_sees_nothing() {
        static OTHER: Local<u32> = Local::new();
        static LOCAL: Local<Probe> = Local::new();
        struct Probe(mpsc::Sender<Option<u32>>);
        impl Drop for Probe {
            fn drop(&mut self) {
                let _ = self.0.send(OTHER.with(|v| v.copied()));
            }
        }
        // The exit hook drops a thread's values in the order the thread first
        // used their `Local`s: OTHER's value is dropped after the probe in the
        // first thread, before it in the second. The probe sees none either way.
        for other_first in [false, true] {
            let (tx, rx) = mpsc::channel();
            joined(
                thread::spawn(move || {
                    if other_first {
                        OTHER.get_or(|| 7);
                    }
                    LOCAL.get_or(|| Probe(tx));
                    OTHER.get_or(|| 7);
                })
                .join(),
            );
            assert_eq!(rx.try_recv(), Ok(None), "OTHER used first: {other_first}");
        }
    }

    /// Runs `child_get_or_in_a_destructor` in a child process: it must abort,
    /// with threadkit's panic message.
    #[test]
    #[cfg_attr(miri, ignore = "Miri cannot spawn processes")]
    fn get_or_in_a_destructor_at_exit_aborts() {
        let (status, stderr) = run_child("destructors::child_get_or_in_a_destructor");
        assert!(
            !status.success(),
            "the child survived get_or in a destructor:\n{stderr}"
        );
        assert!(
            stderr.contains("threadkit::Local used from a thread-local destructor"),
            "not threadkit's panic:\n{stderr}"
        );
        assert!(
            !stderr.contains("child reached its end"),
            "the child went on after the abort:\n{stderr}"
        );
    }

    /// The child of `get_or_in_a_destructor_at_exit_aborts` (does nothing
    /// unless run as such).
    #[test]
    #[ignore = "run (in a child process) by get_or_in_a_destructor_at_exit_aborts"]
    fn child_get_or_in_a_destructor() {
        static LOCAL: Local<Reenter> = Local::new();
        struct Reenter;
        impl Drop for Reenter {
            fn drop(&mut self) {
                let _ = LOCAL.get_or(|| Reenter);
            }
        }
        if !is_child() {
            return;
        }
        let _ = thread::spawn(|| {
            LOCAL.get_or(|| Reenter);
        })
        .join();
        eprintln!("child reached its end");
    }
}

// ---------------------------------------------------------------------------
// LocalRef
// ---------------------------------------------------------------------------

mod local_ref {
    use super::*;

    #[test]
    fn derefs_clones_and_formats_as_its_value() {
        let local = Local::new();
        let copy = {
            let value: LocalRef<'_, String> = local.get_or(|| String::from("value"));
            assert_eq!(value.len(), 5);
            assert_eq!(&*value, "value");
            let copied: String = value.clone(); // the value, not the borrow
            assert_eq!(copied, "value");
            LocalRef::clone(&value)
        };
        assert_eq!(*copy, "value");
        assert_eq!(format!("{copy}"), "value");
        assert_eq!(format!("{copy:?}"), format!("{:?}", "value"));
        assert_eq!(
            format!("{copy:>7}"),
            "  value",
            "Display forwards the flags"
        );
        assert_debug_shows(&local, &["Local", "\"value\""]);
        thread::scope(|s| {
            joined(s.spawn(|| assert_debug_shows(&local, &["None"])).join());
        });
    }

    /// `LocalRef`s cloned and dropped (here: going out of scope) in any
    /// order all show the one value, which is dropped at thread exit as usual
    /// once they are gone (whether or not `LocalRef` counts borrows).
    #[test]
    fn clones_all_show_the_value_which_drops_at_exit() {
        static COUNTER: Counter = Counter::new();
        let local = Local::new();
        thread::scope(|s| {
            joined(
                s.spawn(|| {
                    let b;
                    let d;
                    {
                        let a = local.get_or(|| COUNTER.value(1));
                        b = LocalRef::clone(&a);
                        let c = local.get().unwrap();
                        d = LocalRef::clone(&c);
                        assert_eq!(a.id() + c.id(), 2);
                    }
                    let e = local.get_or(|| COUNTER.value(2));
                    assert_eq!(b.id() + d.id() + e.id(), 3);
                })
                .join(),
            );
        });
        assert_eq!((COUNTER.created(), COUNTER.dropped()), (1, 1));
    }

    /// `Local<T>` and `LocalStack<T>` are `Send + Sync` for every `T: Send`
    /// (`Cell` is not `Sync`); `LocalRef` and `LocalStackGuard` are neither
    /// (the compile-time check below fails to build if one of them is).
    #[test]
    fn auto_traits() {
        fn assert_send_sync<T: Send + Sync>() {}
        fn for_every_send<T: Send>() {
            assert_send_sync::<Local<T>>();
            assert_send_sync::<LocalStack<T>>();
        }
        for_every_send::<Cell<u8>>();
        for_every_send::<RefCell<String>>();

        // `<X as AmbiguousIf*<_>>::check` names a single impl, and so compiles,
        // only if `X` is not `Send` (resp. `Sync`).
        trait AmbiguousIfSend<A> {
            fn check() {}
        }
        impl<T: ?Sized> AmbiguousIfSend<()> for T {}
        impl<T: ?Sized + Send> AmbiguousIfSend<u8> for T {}
        trait AmbiguousIfSync<A> {
            fn check() {}
        }
        impl<T: ?Sized> AmbiguousIfSync<()> for T {}
        impl<T: ?Sized + Sync> AmbiguousIfSync<u8> for T {}
        <LocalRef<'static, u8> as AmbiguousIfSend<_>>::check();
        <LocalRef<'static, u8> as AmbiguousIfSync<_>>::check();
        <LocalStackGuard<'static, u8> as AmbiguousIfSend<_>>::check();
    }
}

// ---------------------------------------------------------------------------
// A LocalRef that outlives the exit hook
// ---------------------------------------------------------------------------

/// std runs a thread's thread-local destructors last-registered first, and
/// registers one at the first use of its thread-local. A `thread_local!` used
/// before the thread's first `Local` is therefore destroyed after threadkit's
/// exit hook dropped the thread's values: a `LocalRef` it holds must not reach
/// its dropped value. The implementation panics on such a deref (a panic in a
/// thread-local destructor aborts the process: checked in a child process);
/// merely dropping the `LocalRef` there is harmless.
mod kept_ref {
    use super::*;

    /// What the holder's destructor saw.
    #[derive(Debug, PartialEq)]
    struct Seen {
        /// The exit hook had run (the thread's `Local`s looked empty).
        exit_hook_ran: bool,
        /// Drops counted so far.
        dropped: usize,
        /// The value read through the `LocalRef`, if the holder read it.
        id: Option<usize>,
    }

    struct Holder {
        local: &'static Local<Counted>,
        counter: &'static Counter,
        value: LocalRef<'static, Counted>,
        /// Whether to read the value through `value`.
        read: bool,
        report: mpsc::Sender<Seen>,
    }

    impl Drop for Holder {
        fn drop(&mut self) {
            // No assertion here: a panic in a thread's exit aborts.
            let exit_hook_ran = self.local.get().is_none();
            let dropped = self.counter.dropped();
            let id = self.read.then(|| self.value.id);
            let _ = self.report.send(Seen {
                exit_hook_ran,
                dropped,
                id,
            });
        }
    }

    thread_local! {
        static HOLDER: RefCell<Option<Holder>> = const { RefCell::new(None) };
    }

    /// Runs a thread that stores a value and keeps a `LocalRef` to it in
    /// `HOLDER`, used before (`holder_first`) or after its first `Local`.
    fn run(
        local: &'static Local<Counted>,
        counter: &'static Counter,
        holder_first: bool,
        read: bool,
    ) -> Seen {
        let (tx, rx) = mpsc::channel();
        joined(
            thread::spawn(move || {
                if holder_first {
                    HOLDER.with(|_| ());
                }
                let value = local.get_or(|| counter.value(7));
                HOLDER.with(|holder| {
                    *holder.borrow_mut() = Some(Holder {
                        local,
                        counter,
                        value,
                        read,
                        report: tx,
                    });
                });
            })
            .join(),
        );
        rx.try_recv()
            .expect("the holder's destructor did not report")
    }

    /// A holder destroyed before the exit hook reads the value; the hook
    /// then drops it as usual.
    #[test]
    fn a_local_ref_released_before_the_exit_hook() {
        static LOCAL: Local<Counted> = Local::new();
        static COUNTER: Counter = Counter::new();
        let seen = run(&LOCAL, &COUNTER, false, true);
        assert_eq!(
            seen,
            Seen {
                exit_hook_ran: false,
                dropped: 0,
                id: Some(7)
            }
        );
        assert_eq!(COUNTER.dropped(), 1, "the exit hook dropped the value");
    }

    /// A holder destroyed after the exit hook: the hook found the value
    /// still borrowed, so it kept it (and retired the slot) instead of
    /// dropping it under the borrow; new threads get fresh slots.
    #[test]
    fn a_local_ref_alive_at_the_exit_hook_keeps_its_value() {
        static LOCAL: Local<Counted> = Local::new();
        static COUNTER: Counter = Counter::new();
        let seen = run(&LOCAL, &COUNTER, true, false);
        assert_eq!(
            seen,
            Seen {
                exit_hook_ran: true,
                dropped: 0,
                id: None
            },
            "setup: the holder must be destroyed after threadkit's exit hook, \
             and the borrowed value must not be dropped"
        );
        for i in 0..3 {
            let id = joined(
                thread::spawn(move || {
                    assert!(LOCAL.get().is_none(), "a new thread saw an old value");
                    LOCAL.get_or(|| COUNTER.value(8 + i)).id()
                })
                .join(),
            );
            assert_eq!(id, 8 + i);
        }
        // The kept value lives on with the (static) Local; the others were
        // dropped at their threads' exits.
        assert_eq!((COUNTER.created(), COUNTER.dropped()), (4, 3));
    }

    /// A holder destroyed after the exit hook that reads through its
    /// `LocalRef` reads the kept value, never a dropped one.
    #[test]
    fn a_local_ref_read_after_the_exit_hook_reads_the_kept_value() {
        static LOCAL: Local<Counted> = Local::new();
        static COUNTER: Counter = Counter::new();
        let seen = run(&LOCAL, &COUNTER, true, true);
        assert_eq!(
            seen,
            Seen {
                exit_hook_ran: true,
                dropped: 0,
                id: Some(7)
            }
        );
        assert_eq!(COUNTER.dropped(), 0, "a borrowed value was dropped");
    }
}

// ---------------------------------------------------------------------------
// Churn: a server that runs each request on a fresh thread must not grow
// ---------------------------------------------------------------------------

mod churn {
    use super::*;

    /// Many short-lived threads (10,000 natively), 4 at a time, each store a
    /// value: no more than 4 values are ever alive, and none once they are
    /// joined.
    #[test]
    fn short_lived_threads_do_not_accumulate_values() {
        static LOCAL: Local<Counted> = Local::new();
        static COUNTER: Counter = Counter::new();
        const AT_ONCE: usize = 4;
        const THREADS: usize = AT_ONCE * scaled(10_000 / AT_ONCE);
        let most_alive = Arc::new(AtomicUsize::new(0));
        for batch in 0..THREADS / AT_ONCE {
            let handles: Vec<_> = (0..AT_ONCE)
                .map(|t| {
                    let most_alive = Arc::clone(&most_alive);
                    thread::spawn(move || {
                        take_a_slot();
                        assert!(LOCAL.get().is_none(), "a new thread saw an old value");
                        let id = batch * AT_ONCE + t;
                        assert_eq!(LOCAL.get_or(|| COUNTER.value(id)).id(), id);
                        most_alive.fetch_max(COUNTER.live(), SeqCst);
                    })
                })
                .collect();
            join_all(handles);
            assert_eq!(
                COUNTER.live(),
                0,
                "batch {batch}: values outlived their threads"
            );
        }
        assert_eq!(COUNTER.created(), THREADS);
        assert_eq!(COUNTER.dropped(), THREADS);
        let most_alive = most_alive.load(SeqCst);
        assert!(most_alive <= AT_ONCE, "{most_alive} values alive at once");
    }
}

// ---------------------------------------------------------------------------
// werkzeug's LocalStack tests, and the rest of the SPEC's LocalStack
// ---------------------------------------------------------------------------

mod werkzeug {
    use super::*;

    /// werkzeug's `test_local_stack` (without its `LocalProxy` part).
    #[test]
    fn test_local_stack() {
        let ls = LocalStack::new();
        assert_eq!(ls.top(), None);
        ls.push(42);
        assert_eq!(ls.top(), Some(42));
        ls.push(23);
        assert_eq!(ls.top(), Some(23));
        assert_eq!(ls.pop(), Some(23));
        assert_eq!(ls.top(), Some(42));
        assert_eq!(ls.pop(), Some(42));
        assert_eq!(ls.top(), None);
        assert_eq!(ls.pop(), None);
        assert_eq!(ls.pop(), None);
    }

    #[test]
    fn lifo_len_is_empty_and_with_top() {
        let stack = LocalStack::new();
        assert!(stack.is_empty());
        assert_eq!(stack.len(), 0);
        assert_eq!(stack.with_top(|top: Option<&String>| top.cloned()), None);
        for (n, word) in ["a", "b", "c"].into_iter().enumerate() {
            stack.push(word.to_owned());
            assert_eq!(stack.len(), n + 1);
            assert!(!stack.is_empty());
        }
        assert_eq!(stack.with_top(|top| top.map(String::len)), Some(1));
        assert_eq!(stack.top().as_deref(), Some("c"));
        assert_debug_shows(&stack, &["LocalStack", "[\"a\", \"b\", \"c\"]"]);
        let popped: Vec<String> = std::iter::from_fn(|| stack.pop()).collect();
        assert_eq!(popped, ["c", "b", "a"]);
        assert!(stack.is_empty());
        assert_eq!(stack.pop(), None);
    }

    /// `with_top`'s closure may not push (documented panic); the stack stays usable.
    #[test]
    fn pushing_inside_with_top_panics_and_leaves_the_stack_usable() {
        let stack = LocalStack::new();
        stack.push(1);
        panic_of("push inside with_top", || stack.with_top(|_| stack.push(2)));
        assert_eq!(stack.len(), 1);
        stack.push(3);
        assert_eq!(stack.pop(), Some(3));
    }

    /// Threads never see each other's entries.
    #[test]
    fn threads_have_their_own_stacks() {
        const N: usize = 4;
        let stack = LocalStack::new();
        stack.push(usize::MAX);
        let phase = Barrier::new(N);
        thread::scope(|s| {
            let handles: Vec<_> = (0..N)
                .map(|i| {
                    let (stack, phase) = (&stack, &phase);
                    s.spawn(move || {
                        assert!(stack.is_empty(), "thread {i} sees entries it never pushed");
                        assert_eq!(stack.top(), None);
                        assert_eq!(stack.pop(), None);
                        phase.wait();
                        stack.push(i);
                        stack.push(100 + i);
                        phase.wait(); // every thread pushed its two
                        assert_eq!(stack.len(), 2);
                        assert_eq!(stack.top(), Some(100 + i));
                        assert_eq!(stack.pop(), Some(100 + i));
                        assert_eq!(stack.pop(), Some(i));
                        assert_eq!(stack.pop(), None);
                    })
                })
                .collect();
            for handle in handles {
                joined(handle.join());
            }
        });
        assert_eq!(stack.len(), 1);
        assert_eq!(stack.top(), Some(usize::MAX));
    }

    /// An entry that logs its drop.
    struct Logged {
        name: &'static str,
        log: Arc<Mutex<Vec<&'static str>>>,
    }

    impl Drop for Logged {
        fn drop(&mut self) {
            self.log.lock().unwrap().push(self.name);
        }
    }

    fn logger() -> (
        Arc<Mutex<Vec<&'static str>>>,
        impl Fn(&'static str) -> Logged,
    ) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let make = {
            let log = Arc::clone(&log);
            move |name| Logged {
                name,
                log: Arc::clone(&log),
            }
        };
        (log, make)
    }

    fn taken(log: &Mutex<Vec<&'static str>>) -> Vec<&'static str> {
        std::mem::take(&mut *log.lock().unwrap())
    }

    /// `push_scoped` pops its own entry, after the entries pushed above it
    /// inside its scope (top down), and nothing below it.
    #[test]
    fn push_scoped_pops_its_entry_and_those_above_it() {
        let (log, entry) = logger();
        let stack = LocalStack::new();
        stack.push(entry("base"));
        {
            let _app = stack.push_scoped(entry("app"));
            {
                let _request = stack.push_scoped(entry("request"));
                stack.push(entry("leftover 1"));
                stack.push(entry("leftover 2"));
                assert_eq!(stack.len(), 5);
                assert_eq!(
                    stack.with_top(|top| top.map(|e| e.name)),
                    Some("leftover 2")
                );
            }
            assert_eq!(taken(&log), ["leftover 2", "leftover 1", "request"]);
            assert_eq!(stack.len(), 2);
            assert_eq!(stack.with_top(|top| top.map(|e| e.name)), Some("app"));
        }
        assert_eq!(taken(&log), ["app"]);
        assert_eq!(stack.len(), 1);
        assert_eq!(stack.with_top(|top| top.map(|e| e.name)), Some("base"));
    }

    #[test]
    fn push_scoped_pops_during_a_panic() {
        let (log, entry) = logger();
        let stack = LocalStack::new();
        stack.push(entry("base"));
        let msg = panic_of("the handler", || {
            let _request = stack.push_scoped(entry("request"));
            stack.push(entry("inner"));
            throw("handler failed");
        });
        assert_eq!(msg, "handler failed");
        assert_eq!(taken(&log), ["inner", "request"]);
        assert_eq!(stack.len(), 1);
        assert_eq!(stack.with_top(|top| top.map(|e| e.name)), Some("base"));
    }

    /// An entry's destructor may use the stack while a guard pops it.
    #[test]
    fn an_entry_destructor_may_use_the_stack() {
        static STACK: LocalStack<Reader> = LocalStack::new();
        struct Reader(mpsc::Sender<usize>);
        impl Drop for Reader {
            fn drop(&mut self) {
                let _ = self.0.send(STACK.len());
            }
        }
        let (tx, rx) = mpsc::channel();
        thread::scope(|s| {
            joined(
                s.spawn(|| {
                    let _guard = STACK.push_scoped(Reader(tx.clone()));
                    STACK.push(Reader(tx.clone()));
                })
                .join(),
            );
        });
        assert_eq!(
            rx.try_iter().collect::<Vec<_>>(),
            [1, 0],
            "lengths seen while popping"
        );
    }

    /// A thread's leftover entries (also a forgotten guard's) are dropped when
    /// it exits.
    #[test]
    fn leftover_entries_are_dropped_at_thread_exit() {
        static COUNTER: Counter = Counter::new();
        let stack = LocalStack::new();
        thread::scope(|s| {
            joined(
                s.spawn(|| {
                    stack.push(COUNTER.value(1));
                    stack.push(COUNTER.value(2));
                    std::mem::forget(stack.push_scoped(COUNTER.value(3)));
                    assert_eq!(stack.len(), 3);
                })
                .join(),
            );
        });
        assert_eq!(COUNTER.dropped(), 3);
        assert!(stack.is_empty());
    }
}

// ---------------------------------------------------------------------------
// Bugs found in src/ (failing tests, ignored until fixed)
// ---------------------------------------------------------------------------

/// Regressions: each of these found a soundness bug in an earlier design.
mod regressions {
    use super::*;

    /// `IterMut` yields `&'a mut T` for the whole `&'a mut Local` borrow,
    /// which may outlive the iterator. Collect the references, drop the
    /// iterator, let a live thread exit: its exit hook must leave the value
    /// the references still point to (an earlier design held a lock only for
    /// the iterator's life, and dropped it), and the next call drops it.
    #[test]
    fn iter_mut_items_keep_their_values_alive() {
        static COUNTER: Counter = Counter::new();
        let local = Arc::new(Local::new());
        let go = Arc::new(Event::new());
        let handles = parked_threads(1, &local, &COUNTER, &go);
        let mut local = Arc::into_inner(local).expect("the thread let go of the Local");
        let values: Vec<&mut Counted> = local.iter_mut().collect();
        go.set();
        // Joined on a helper thread, in case a fix makes the exit wait for `values`.
        let (exited_tx, exited_rx) = mpsc::channel();
        let joiner = thread::spawn(move || {
            join_all(handles);
            let _ = exited_tx.send(());
        });
        let exited = exited_rx.recv_timeout(Duration::from_secs(2)).is_ok();
        let dropped = COUNTER.dropped();
        // Not read through `values` if it is dangling.
        assert_eq!(
            dropped, 0,
            "the thread exited ({exited}) and dropped its value while iter_mut's `&mut` to it was alive"
        );
        assert_eq!(values.len(), 1);
        drop(values);
        joined(joiner.join());
        assert_eq!(
            COUNTER.dropped(),
            0,
            "left in place: the borrows might live"
        );
        assert!(local.get().is_none());
        assert_eq!(COUNTER.dropped(), 1, "dropped by the next call");
    }

    /// A leaked `LocalRef<'static, T>` gives a `&'static T` that outlives the
    /// thread's exit: with `T: Sync` another thread (here the main one) can
    /// read it. The borrow count keeps the value alive for good (an earlier
    /// design checked the thread's identity on deref instead, which a leaked
    /// `&T` bypasses, and dropped the value under it).
    #[test]
    fn a_leaked_local_ref_keeps_its_value_alive() {
        static LOCAL: Local<Counted> = Local::new();
        static COUNTER: Counter = Counter::new();
        let value: &'static Counted = joined(
            thread::spawn(|| {
                let leaked: &'static LocalRef<'static, Counted> =
                    leak(LOCAL.get_or(|| COUNTER.value(1)));
                &**leaked
            })
            .join(),
        );
        // Not read before the check: with the bug, `value` dangles.
        assert_eq!(
            COUNTER.dropped(),
            0,
            "the thread's exit dropped a value still borrowed `&'static`"
        );
        assert_eq!(value.id(), 1);
    }

    static SLOW: SlowState = SlowState {
        in_drop: Event::new(),
        gate: Event::new(),
        local_dropped: AtomicUsize::new(0),
        seen_local_dropped: AtomicUsize::new(0),
        done: Event::new(),
    };

    struct SlowState {
        in_drop: Event,
        gate: Event,
        local_dropped: AtomicUsize,
        seen_local_dropped: AtomicUsize,
        done: Event,
    }

    /// A value whose destructor takes a while (and would read data it borrows).
    struct Slow;

    impl Drop for Slow {
        fn drop(&mut self) {
            SLOW.in_drop.set();
            // A fixed `Local::drop` waits for this destructor; the gate is
            // then never opened and the wait times out.
            let _ = SLOW.gate.wait_for(Duration::from_secs(2));
            SLOW.seen_local_dropped
                .store(SLOW.local_dropped.load(SeqCst), SeqCst);
            SLOW.done.set();
        }
    }

    /// The implicit join of `thread::scope` returns once the closure returned,
    /// before the thread-local destructors run. An exiting thread must drop
    /// its value under the table's lock, so that `Local::drop` waits for it
    /// (an earlier design dropped it outside, so `Local::drop` could return
    /// while that value was still being dropped). With `T` borrowing
    /// from the caller's frame (allowed: `T` need not be `'static` with scoped
    /// threads, and the borrowed data only has to outlive the `Local`), the
    /// caller then frees the data under the destructor: a use-after-free in
    /// safe code. Here the value is `'static`, and the test only checks the
    /// order.
    #[test]
    fn local_drop_waits_for_values_being_dropped_by_exiting_threads() {
        let local = Local::new();
        thread::scope(|s| {
            s.spawn(|| {
                local.get_or(|| Slow);
            });
        });
        assert!(
            SLOW.in_drop.wait_for(HANDSHAKE),
            "the thread never dropped its value"
        );
        drop(local);
        SLOW.local_dropped.store(1, SeqCst);
        SLOW.gate.set();
        assert!(SLOW.done.wait_for(HANDSHAKE));
        assert_eq!(
            SLOW.seen_local_dropped.load(SeqCst),
            0,
            "Local::drop returned while its value was still being dropped"
        );
    }
}

// ---------------------------------------------------------------------------
// A destructor at thread exit that reaches its own Local
// ---------------------------------------------------------------------------

/// A value dropped at its thread's exit may drop the last handle of its own
/// `Local` or clear it, and two exiting threads may drop each other's
/// `Local`s from their values' destructors at the same time: every exit
/// completes and every value is dropped once. Each test runs `bounded`, so a
/// deadlock fails it instead of hanging the suite.
mod exit_reaching_its_local {
    use super::*;

    /// Spawns a thread that stores `value()` in `local` and then waits for
    /// `go` before it exits (so the caller can drop its own handles first).
    fn store_then_exit_on<T: Send + 'static>(
        local: &Arc<Local<T>>,
        value: impl FnOnce() -> T + Send + 'static,
    ) -> (JoinHandle<()>, mpsc::Sender<()>) {
        let (stored_tx, stored_rx) = mpsc::channel();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let local = Arc::clone(local);
        let handle = thread::spawn(move || {
            local.get_or(value);
            drop(local);
            stored_tx.send(()).unwrap();
            let _ = go_rx.recv();
        });
        recv(&stored_rx);
        (handle, go_tx)
    }

    #[test]
    fn a_value_may_drop_the_last_handle_of_its_own_local() {
        struct HoldsItsLocal(Option<Arc<Local<HoldsItsLocal>>>, Arc<AtomicUsize>);
        impl Drop for HoldsItsLocal {
            fn drop(&mut self) {
                self.1.fetch_add(1, SeqCst);
                drop(self.0.take()); // the last handle: drops the `Local` here
            }
        }
        bounded(|| {
            let dropped = Arc::new(AtomicUsize::new(0));
            let local = Arc::new(Local::new());
            let (me, count) = (Arc::clone(&local), Arc::clone(&dropped));
            let (exiting, go) = store_then_exit_on(&local, move || HoldsItsLocal(Some(me), count));
            drop(local);
            drop(go);
            joined(exiting.join());
            assert_eq!(dropped.load(SeqCst), 1);
        });
    }

    #[test]
    fn a_value_may_clear_its_own_local() {
        type Shared = Arc<threadkit::Lock<Local<ClearsItsLocal>>>;
        struct ClearsItsLocal(Option<Shared>, Arc<AtomicUsize>);
        impl Drop for ClearsItsLocal {
            fn drop(&mut self) {
                self.1.fetch_add(1, SeqCst);
                if let Some(shared) = self.0.take() {
                    shared.lock().clear(); // drops the other threads' values too
                }
            }
        }
        bounded(|| {
            let dropped = Arc::new(AtomicUsize::new(0));
            let shared: Shared = Arc::new(threadkit::Lock::new(Local::new()));
            shared
                .lock()
                .get_or(|| ClearsItsLocal(None, Arc::clone(&dropped)));
            let (clears, count) = (Arc::clone(&shared), Arc::clone(&dropped));
            let (stored_tx, stored_rx) = mpsc::channel();
            let exiting = {
                let shared = Arc::clone(&shared);
                thread::spawn(move || {
                    shared
                        .lock()
                        .get_or(move || ClearsItsLocal(Some(clears), count));
                    stored_tx.send(()).unwrap();
                })
            };
            recv(&stored_rx);
            joined(exiting.join());
            assert_eq!(
                dropped.load(SeqCst),
                2,
                "both values, the main thread's by the clear"
            );
            assert!(shared.lock().get().is_none());
        });
    }

    #[test]
    fn two_exiting_threads_may_drop_each_others_locals() {
        /// Waits at `meet` (so both threads are inside their exit drops at
        /// once), then drops the last handle of the other thread's `Local`.
        struct Tangled(Option<Arc<Local<Tangled>>>, Arc<Barrier>, Arc<AtomicUsize>);
        impl Drop for Tangled {
            fn drop(&mut self) {
                self.1.wait();
                drop(self.0.take());
                self.2.fetch_add(1, SeqCst);
            }
        }
        bounded(|| {
            let dropped = Arc::new(AtomicUsize::new(0));
            let meet = Arc::new(Barrier::new(2));
            let (x, y) = (Arc::new(Local::new()), Arc::new(Local::new()));
            let tangled = |other: &Arc<Local<Tangled>>| {
                let (other, meet, count) =
                    (Arc::clone(other), Arc::clone(&meet), Arc::clone(&dropped));
                move || Tangled(Some(other), meet, count)
            };
            let (a, go_a) = store_then_exit_on(&x, tangled(&y));
            let (b, go_b) = store_then_exit_on(&y, tangled(&x));
            drop((x, y)); // each `Local`'s last handle is in the other's value
            drop((go_a, go_b));
            joined(a.join());
            joined(b.join());
            assert_eq!(dropped.load(SeqCst), 2);
        });
    }
}
