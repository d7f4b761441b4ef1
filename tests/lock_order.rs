//! Lock-order checking (cargo feature `lock-order`): an acquisition that
//! inverts an order seen before panics before it blocks, naming both call
//! sites, in runs that never deadlock.
//!
//! Run with `cargo test --features lock-order --test lock_order`.
#![cfg(all(feature = "lock-order", not(loom)))]

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread;

use common::panic_message;
use threadkit::{Condition, Lock, RLock};

/// Runs `f`, which must panic with a lock-order violation; returns the message.
fn violation(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("no lock-order violation");
    let message = panic_message(&*payload).to_owned();
    assert!(message.contains("lock-order violation"), "{message}");
    message
}

/// `file:line` of the line this is called on, minus `back` lines.
macro_rules! site {
    ($back:expr) => {
        format!("{}:{}:", file!(), line!() - $back)
    };
}

#[test]
fn the_seeds_inversion_on_one_thread_panics_naming_both_call_sites() {
    let (lock1, lock2) = (Lock::new("accounts"), Lock::new("ledger"));
    {
        let _first = lock1.lock();
        let _second = lock2.lock();
    }
    let earlier = site!(2);
    let message = violation(|| {
        let _second = lock2.lock();
        let _first = lock1.lock(); // the inversion: panics before blocking
    });
    let here = site!(2);
    assert!(message.contains(&here), "this call site missing: {message}");
    assert!(
        message.contains(&earlier),
        "the earlier call site missing: {message}"
    );
    // The failed acquisition left nothing held, and its edge was not recorded:
    // the first order still works, and the inversion is still caught.
    assert!(!lock1.is_locked() && !lock2.is_locked());
    drop((lock1.lock(), lock2.lock()));
    violation(|| drop((lock2.lock(), lock1.lock())));
}

#[test]
fn the_seeds_inversion_across_two_threads_panics_in_the_second() {
    let locks = Arc::new((Lock::new(0), Lock::new(0)));
    let first = Arc::clone(&locks);
    thread::spawn(move || {
        let _a = first.0.lock();
        let _b = first.1.lock();
    })
    .join()
    .unwrap();
    let second = Arc::clone(&locks);
    let result = thread::spawn(move || {
        let _b = second.1.lock();
        let _a = second.0.lock();
    })
    .join();
    let payload = result.expect_err("the opposite order on another thread passed");
    assert!(panic_message(&*payload).contains("lock-order violation"));
}

#[test]
fn a_three_lock_cycle_is_caught() {
    let (a, b, c) = (Lock::new(()), Lock::new(()), Lock::new(()));
    drop((a.lock(), b.lock()));
    drop((b.lock(), c.lock()));
    let message = violation(|| drop((c.lock(), a.lock())));
    assert!(message.contains("a cycle of 3 locks"), "{message}");
}

#[test]
fn rlock_inversions_are_caught_and_re_entry_adds_no_edge() {
    let (r, l) = (RLock::new(()), Lock::new(()));
    {
        let _r = r.lock();
        let _l = l.lock();
        // Re-entering `r` while holding `l` would be `l -> r`: a re-entry
        // cannot block, so it adds no edge and does not panic.
        let _again = r.lock();
    }
    violation(|| drop((l.lock(), r.lock())));
}

#[test]
fn try_lock_adds_no_edge() {
    let (a, b) = (Lock::new(()), Lock::new(()));
    drop((a.lock(), b.lock()));
    // The opposite order, but the second acquisition cannot block.
    let _b = b.lock();
    assert!(a.try_lock().is_some());
}

#[test]
fn timed_acquisitions_are_checked() {
    let (a, b) = (Lock::new(()), Lock::new(()));
    drop((a.lock(), b.lock()));
    violation(|| {
        let _b = b.lock();
        let _ = a.try_lock_for(std::time::Duration::from_millis(1));
    });
}

#[test]
fn a_consistent_order_and_condition_waits_are_quiet() {
    let outer = Lock::new(0);
    let state = Arc::new((Lock::new(false), Condition::new()));
    let notifier = Arc::clone(&state);
    let _outer = outer.lock();
    let waiter = thread::spawn(move || {
        *notifier.0.lock() = true;
        notifier.1.notify_all();
    });
    // `outer -> state.0` each time the wait takes the lock again: consistent.
    let mut ready = state.0.lock();
    state.1.wait_while(&mut ready, |ready| !*ready);
    waiter.join().unwrap();
}

#[test]
fn a_condition_wait_whose_reacquisition_inverts_the_order_panics_before_waiting() {
    let (a, b) = (Lock::new(()), Lock::new(false));
    let cond = Condition::new();
    drop((b.lock(), a.lock())); // sets b -> a
    let mut flag = b.lock();
    let _a = a.try_lock().expect("free"); // a try: no edge
    // The wait releases `b` and must take it again while holding `a`: a -> b.
    violation(|| {
        let _ = cond.wait_for(&mut flag, std::time::Duration::from_secs(60));
    });
    assert!(
        b.is_locked(),
        "the guard still holds its lock after the panic"
    );
}

#[test]
fn a_dropped_lock_takes_its_edges_with_it() {
    let (a, b) = (Lock::new(()), Lock::new(()));
    {
        let between = Lock::new(());
        drop((a.lock(), between.lock())); // a -> between
        drop((between.lock(), b.lock())); // between -> b
        // While `between` lives, b -> a closes the cycle a -> between -> b -> a.
        let message = violation(|| drop((b.lock(), a.lock())));
        assert!(message.contains("a cycle of 3 locks"), "{message}");
    }
    // `between` is gone, and with it the only path from a to b.
    drop((b.lock(), a.lock()));
}

#[test]
fn dropped_locks_leave_the_graph() {
    // Many short-lived pairs in alternating orders: each pair is new, even
    // where the allocator hands out the same addresses again.
    for round in 0..common::scaled(5_000) {
        let pair = Box::new((Lock::new(round), Lock::new(round)));
        if round % 2 == 0 {
            drop((pair.0.lock(), pair.1.lock()));
        } else {
            drop((pair.1.lock(), pair.0.lock()));
        }
    }
}

#[test]
fn lock_all_adds_no_edges_among_its_locks() {
    let (a, b) = (Lock::new(1), Lock::new(2));
    drop(threadkit::lock_all((&a, &b)));
    drop(threadkit::lock_all((&b, &a)));
    drop(threadkit::lock_all([&b, &a]));
    // Nor does it leave any: the two plain orders are still both open.
    drop((a.lock(), b.lock()));
}

#[test]
fn lock_all_records_edges_from_the_locks_already_held() {
    let (outer, a, b) = (Lock::new(()), Lock::new(()), Lock::new(()));
    {
        let _outer = outer.lock();
        let _both = threadkit::lock_all((&a, &b)); // outer -> a, outer -> b
    }
    let earlier = site!(2);
    let message = violation(|| {
        let _b = b.lock();
        let _outer = outer.lock(); // b -> outer inverts outer -> b
    });
    assert!(
        message.contains(&earlier),
        "lock_all's call site missing: {message}"
    );
}

#[test]
fn a_lock_taken_by_lock_all_is_named_by_the_lock_all_call_site() {
    let (a, b, c) = (Lock::new(()), Lock::new(()), Lock::new(()));
    drop((c.lock(), a.lock())); // c -> a
    let taken_at = format!("{}:{}:", file!(), line!() + 2);
    let message = violation(|| {
        let _both = threadkit::lock_all((&a, &b));
        let _c = c.lock(); // a -> c inverts c -> a
    });
    assert!(
        message.contains(&format!("holding the lock acquired at {taken_at}")),
        "{message}"
    );
}

#[test]
fn an_owned_guard_holding_its_locks_last_arc_releases_it_cleanly() {
    // The temporary `Arc` is gone at the `;`: the guard owns the last one, so
    // dropping the guard frees the lock (and its node in the order graph)
    // before the guard's record of the held lock is dropped. Miri reports a
    // use of the freed node if that record reads it.
    let guard = Arc::new(Lock::new(0)).lock_arc();
    drop(guard);
    // The record left this thread's held locks: nothing is held now.
    let (a, b) = (Lock::new(()), Lock::new(()));
    drop((b.lock(), a.lock()));
    drop((a.lock(), b.try_lock()));
}
