//! Loom models of `Event`.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test --release --test loom_event`.
#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use loom::thread;
use std::time::Duration;
use threadkit::Event;

#[test]
fn event_set_wakes_every_waiter() {
    loom::model(|| {
        let event = Arc::new(Event::new());
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let event = Arc::clone(&event);
                thread::spawn(move || event.wait()) // a lost wake-up: loom deadlock
            })
            .collect();
        event.set();
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
