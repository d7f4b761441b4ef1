//! Loom models of `Condition`'s wait morphing: a waiter notified while its
//! `Lock` is held is moved onto the lock's queue (it is not woken into a held
//! lock), and the unlock wakes it or hands the lock straight to it.
//!
//! Run with `RUSTFLAGS="--cfg loom -C debug-assertions" cargo test --release
//! --test loom_morph`. Each model runs in both starting phases of the model
//! parking lot (first contended unlock a fair hand-off, or a barging unlock),
//! so both ways a moved waiter can get the lock are explored.
#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::thread;
use std::time::Duration;
use threadkit::loom_hooks::{self, LotPhase};
use threadkit::{Condition, Lock};

/// Runs `f` as a loom model once per [`LotPhase`].
fn model(f: impl Fn() + Sync + Send + 'static) {
    let f = std::sync::Arc::new(f);
    for phase in LotPhase::BOTH {
        let f = std::sync::Arc::clone(&f);
        loom_hooks::with_lot_phase(phase, || loom::model(move || f()));
    }
}

/// Takes the lock once the waiter is queued on the condition (it released the
/// lock inside `wait`), yielding to loom meanwhile.
fn lock_once_queued<'a, T>(lock: &'a Lock<T>, cond: &Condition) -> threadkit::LockGuard<'a, T> {
    loop {
        let guard = lock.lock();
        if cond.queued_waiters() == 1 {
            return guard;
        }
        drop(guard);
        thread::yield_now();
    }
}

/// No lost wake-up through the lock's queue: a notify under the lock moves the
/// parked waiter there; the unlock must then wake it (a stranded waiter is a
/// loom deadlock), and it returns holding the lock, seeing the notifier's write.
#[test]
fn waiter_moved_onto_the_held_lock_is_woken_by_its_unlock() {
    model(|| {
        let shared = Arc::new((Lock::new(0usize), Condition::new()));
        let waiter = {
            let shared = Arc::clone(&shared);
            thread::spawn(move || {
                let (lock, cond) = &*shared;
                let mut value = lock.lock();
                cond.wait(&mut value); // no predicate: relies on no spurious wake-up
                assert_eq!(*value, 1, "woken without the notifier's write");
                *value = 2;
            })
        };
        let (lock, cond) = &*shared;
        let mut value = lock_once_queued(lock, cond);
        *value = 1;
        assert!(cond.notify_one(), "the queued waiter was not woken");
        drop(value);
        waiter.join().unwrap();
        assert_eq!(*lock.lock(), 2);
    });
}

/// Mutual exclusion with a moved waiter: a third thread contends for the lock
/// while the notified waiter sits on its queue; the waiter's return and the
/// third thread's section never overlap, and nobody is stranded.
#[test]
fn moved_waiter_and_a_contender_exclude_each_other() {
    model(|| {
        let shared = Arc::new((Lock::new(false), Condition::new(), AtomicUsize::new(0)));
        let waiter = {
            let shared = Arc::clone(&shared);
            thread::spawn(move || {
                let (lock, cond, inside) = &*shared;
                let mut ready = lock.lock();
                while !*ready {
                    cond.wait(&mut ready);
                }
                assert_eq!(inside.fetch_add(1, SeqCst), 0, "two threads inside at once");
                thread::yield_now();
                inside.fetch_sub(1, SeqCst);
            })
        };
        let contender = {
            let shared = Arc::clone(&shared);
            thread::spawn(move || {
                let (lock, _, inside) = &*shared;
                let _held = lock.lock();
                assert_eq!(inside.fetch_add(1, SeqCst), 0, "two threads inside at once");
                thread::yield_now();
                inside.fetch_sub(1, SeqCst);
            })
        };
        let (lock, cond, _) = &*shared;
        let mut ready = lock_once_queued(lock, cond);
        *ready = true;
        cond.notify_one();
        drop(ready);
        waiter.join().unwrap();
        contender.join().unwrap();
        assert!(!lock.is_locked());
    });
}

/// A timed waiter moved onto the lock's queue whose deadline passes there was
/// notified: it reports a wake-up, not a timeout (the notify counted it), and
/// leaves the lock's queue consistent (no stranded thread, lock free at the end).
#[test]
fn moved_timed_waiter_reports_the_notify_not_a_timeout() {
    model(|| {
        // The flag says the waiter's wait has returned.
        let shared = Arc::new((Lock::new(false), Condition::new()));
        let waiter = {
            let shared = Arc::clone(&shared);
            thread::spawn(move || {
                let (lock, cond) = &*shared;
                let mut returned = lock.lock();
                let woken = !cond
                    .wait_for(&mut returned, Duration::from_secs(1))
                    .timed_out();
                *returned = true;
                woken
            })
        };
        let (lock, cond) = &*shared;
        let guard = loop {
            let guard = lock.lock();
            // Queued, or already timed out and gone (then it will not be notified).
            if cond.queued_waiters() == 1 || *guard {
                break guard;
            }
            drop(guard);
            thread::yield_now();
        };
        let notified = cond.notify_one();
        drop(guard);
        let woken = waiter.join().unwrap();
        assert_eq!(
            notified, woken,
            "notify and the waiter disagree about the wake-up"
        );
        assert!(!lock.is_locked());
    });
}
