//! A panic in code threadkit runs but did not write (a value's destructor, an
//! entry's, a thread that holds a lock) leaves no thread blocked, loses no
//! value, drops none twice, and leaves the primitive usable: the rows of the
//! fault matrix in `docs/semantics.md` that the primitives' own test files do
//! not cover.

mod common;

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, mpsc};
use std::thread;

use common::{bounded, panic_message, recv, throw};
use threadkit::{Local, LocalStack, Lock};

/// A value that counts its drops in `dropped`, and panics in its drop if
/// `panics`.
struct Noted {
    dropped: Arc<AtomicUsize>,
    panics: bool,
}

impl Drop for Noted {
    fn drop(&mut self) {
        self.dropped.fetch_add(1, SeqCst);
        if self.panics {
            throw("a value's destructor panicked");
        }
    }
}

fn noted(dropped: &Arc<AtomicUsize>, panics: bool) -> Noted {
    Noted {
        dropped: Arc::clone(dropped),
        panics,
    }
}

/// Stores a value in `local` from each of `threads` threads that stay alive
/// until the returned sender is dropped: the values live while the test acts.
fn values_in_live_threads(
    local: &Arc<Local<Noted>>,
    dropped: &Arc<AtomicUsize>,
    panicking: usize,
    threads: usize,
) -> (Vec<thread::JoinHandle<()>>, mpsc::Sender<()>) {
    let (stored_tx, stored_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let go_rx = Arc::new(std::sync::Mutex::new(go_rx));
    let handles = (0..threads)
        .map(|k| {
            let (local, dropped, stored_tx, go_rx) = (
                Arc::clone(local),
                Arc::clone(dropped),
                stored_tx.clone(),
                Arc::clone(&go_rx),
            );
            thread::spawn(move || {
                local.get_or(|| noted(&dropped, k == panicking));
                drop(local);
                stored_tx.send(()).unwrap();
                let _ = go_rx.lock().unwrap().recv();
            })
        })
        .collect();
    for _ in 0..threads {
        recv(&stored_rx);
    }
    (handles, go_tx)
}

/// `Local`'s drop with a value whose destructor panics: every other value is
/// dropped too, once, the panic reaches the dropper, and the threads whose
/// values they were exit normally.
#[test]
fn a_panicking_value_in_a_locals_drop_still_drops_every_other_value() {
    bounded(|| {
        let dropped = Arc::new(AtomicUsize::new(0));
        let local = Arc::new(Local::new());
        let (threads, go) = values_in_live_threads(&local, &dropped, 1, 3);
        let local = Arc::into_inner(local).expect("the threads let go of the Local");
        let payload = panic::catch_unwind(AssertUnwindSafe(move || drop(local)))
            .expect_err("the destructor's panic reaches the Local's dropper");
        assert_eq!(panic_message(&*payload), "a value's destructor panicked");
        assert_eq!(dropped.load(SeqCst), 3, "each value dropped once");
        drop(go);
        for thread in threads {
            thread
                .join()
                .expect("a thread whose value was dropped for it exits");
        }
        assert_eq!(dropped.load(SeqCst), 3, "no value dropped twice");
    });
}

/// `clear` with a value whose destructor panics: every other value is
/// dropped, once, and the `Local` stays usable (each thread starts afresh).
#[test]
fn a_panicking_value_in_clear_leaves_the_local_usable() {
    bounded(|| {
        let dropped = Arc::new(AtomicUsize::new(0));
        let local = Arc::new(Local::new());
        let (threads, go) = values_in_live_threads(&local, &dropped, 0, 2);
        let mut local = Arc::into_inner(local).expect("the threads let go of the Local");
        local.get_or(|| noted(&dropped, false));
        let payload = panic::catch_unwind(AssertUnwindSafe(|| local.clear()))
            .expect_err("the destructor's panic reaches the caller of clear");
        assert_eq!(panic_message(&*payload), "a value's destructor panicked");
        assert_eq!(dropped.load(SeqCst), 3, "each value dropped once");
        assert!(local.get().is_none(), "clear emptied this thread's value");
        assert_eq!(local.iter_mut().count(), 0, "clear emptied every value");
        local.get_or(|| noted(&dropped, false));
        assert_eq!(local.iter_mut().count(), 1, "the Local takes values again");
        drop(go);
        for thread in threads {
            thread.join().unwrap();
        }
        drop(local);
        assert_eq!(dropped.load(SeqCst), 4);
    });
}

/// A scoped entry's guard pops the entries pushed inside its scope and its
/// own, even when one of their destructors panics: the stack is back to its
/// depth before the scope, every entry dropped once, and usable.
#[test]
fn a_panicking_entry_while_a_scoped_guard_pops_still_pops_the_rest() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let stack = LocalStack::new();
    stack.push(noted(&dropped, false)); // below the scope: stays
    let payload = panic::catch_unwind(AssertUnwindSafe(|| {
        let _scope = stack.push_scoped(noted(&dropped, false));
        stack.push(noted(&dropped, true)); // pushed inside the scope
        stack.push(noted(&dropped, false));
    }))
    .expect_err("the entry's panic reaches the scope's caller");
    assert_eq!(panic_message(&*payload), "a value's destructor panicked");
    assert_eq!(
        dropped.load(SeqCst),
        3,
        "the scope's three entries, once each"
    );
    assert_eq!(stack.len(), 1, "back to the depth before the scope");
    stack.push(noted(&dropped, false));
    assert_eq!(stack.len(), 2, "the stack takes entries again");
    drop(stack.pop());
    drop(stack.pop());
    assert_eq!(dropped.load(SeqCst), 5);
}

/// `lock_all` blocked on a lock whose holder panics: the unwinding releases
/// it, and `lock_all` takes every lock.
#[test]
fn lock_all_gets_its_locks_when_another_holder_panics() {
    bounded(|| {
        let (a, b) = (Arc::new(Lock::new(0)), Arc::new(Lock::new(0)));
        let (held_tx, held_rx) = mpsc::channel();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let holder = {
            let b = Arc::clone(&b);
            thread::spawn(move || {
                let mut guard = b.lock();
                *guard = 1;
                held_tx.send(()).unwrap();
                let _ = go_rx.recv();
                throw("the holder panicked");
            })
        };
        recv(&held_rx);
        let taker = {
            let (a, b) = (Arc::clone(&a), Arc::clone(&b));
            thread::spawn(move || {
                let (mut a, mut b) = threadkit::lock_all((&*a, &*b));
                *a += 1;
                *b += 1;
            })
        };
        drop(go_tx);
        assert!(holder.join().is_err(), "the holder panicked");
        taker.join().expect("lock_all got both locks");
        assert_eq!((*a.lock(), *b.lock()), (1, 2));
    });
}
