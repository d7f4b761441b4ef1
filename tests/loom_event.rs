//! Loom models of `Event`.
//!
//! Run with `RUSTFLAGS="--cfg loom -C debug-assertions" cargo test --release
//! --target-dir target/loom --test loom_event`.
#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use loom::thread;
use std::time::Duration;
use threadkit::Event;

/// `set` wakes every waiter, and each `wait` it releases happens-after it:
/// a value written (Relaxed) before `set` is seen by both waiters, whether a
/// waiter queued before the `set` or found the flag up. (A lost wake-up is a
/// loom deadlock report.)
#[test]
fn event_set_wakes_every_waiter() {
    loom::model(|| {
        let shared = Arc::new((Event::new(), AtomicUsize::new(0)));
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let shared = Arc::clone(&shared);
                thread::spawn(move || {
                    shared.0.wait();
                    assert!(shared.0.is_set(), "released while the flag is down");
                    // Relaxed on purpose: only the event orders it.
                    assert_eq!(shared.1.load(Relaxed), 42, "set's write not visible");
                })
            })
            .collect();
        shared.1.store(42, Relaxed);
        shared.0.set();
        for waiter in waiters {
            waiter.join().unwrap();
        }
    });
}

#[test]
fn event_set_then_clear_still_wakes_a_queued_waiter() {
    loom::model(|| {
        let event = Arc::new(Event::new());
        let waiter = {
            let event = Arc::clone(&event);
            thread::spawn(move || event.wait())
        };
        while event.queued_waiters() == 0 {
            thread::yield_now();
        }
        event.set();
        event.clear(); // the queued waiter was handed its wake-up: it must return
        waiter.join().unwrap();
        assert!(!event.is_set());
    });
}

#[test]
fn event_set_happens_before_a_true_wait() {
    loom::model(|| {
        let shared = Arc::new((Event::new(), AtomicUsize::new(0)));
        let waiter = {
            let shared = Arc::clone(&shared);
            thread::spawn(move || {
                if shared.0.wait_for(Duration::from_secs(1)) {
                    // Relaxed on purpose: only the event orders it.
                    assert_eq!(shared.1.load(Relaxed), 42, "set's writes not visible");
                }
            })
        };
        shared.1.store(42, Relaxed);
        shared.0.set();
        waiter.join().unwrap();
    });
}
