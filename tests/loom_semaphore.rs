//! Loom models of `Semaphore` and `BoundedSemaphore` (the shared FIFO engine).
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test --release --test loom_semaphore`.
#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::thread;
use std::time::Duration;
use threadkit::{BoundedSemaphore, Semaphore};

/// Holds `n` of the semaphore's permits inside a section: fails the model if the
/// threads inside ever hold more than `limit`.
fn hold(inside: &AtomicUsize, n: usize, limit: usize) {
    let now = inside.fetch_add(n, SeqCst) + n;
    assert!(now <= limit, "{now} permits held, only {limit} exist");
    thread::yield_now();
    inside.fetch_sub(n, SeqCst);
}

#[test]
fn semaphore_permits_never_exceed_the_count() {
    loom::model(|| {
        let shared = Arc::new((Semaphore::new(2), AtomicUsize::new(0)));
        let many = {
            let shared = Arc::clone(&shared);
            thread::spawn(move || {
                let _two = shared.0.acquire_many(2);
                hold(&shared.1, 2, 2);
            })
        };
        {
            let _one = shared.0.acquire();
            hold(&shared.1, 1, 2);
        }
        many.join().unwrap();
        assert_eq!(shared.0.available_permits(), 2);
    });
}

#[test]
fn semaphore_release_never_loses_a_wakeup() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let waiter = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || sem.acquire().forget()) // a lost wake-up: loom deadlock
        };
        sem.release(1);
        waiter.join().unwrap();
        assert_eq!(sem.available_permits(), 0);
    });
}

#[test]
fn semaphore_acquire_many_collects_released_permits() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let waiter = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || sem.acquire_many(2).num_permits())
        };
        sem.release(1);
        assert_eq!(waiter.join().unwrap(), 2);
        assert_eq!(sem.available_permits(), 2); // the permit came back on drop
    });
}

#[test]
fn semaphore_timed_out_request_loses_no_permit() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let waiter = {
            let sem = Arc::clone(&sem);
            // May time out holding one collected permit: it must pass it on.
            thread::spawn(move || sem.acquire_many_for(2, Duration::from_secs(1)).is_some())
        };
        sem.release(1);
        waiter.join().unwrap();
        assert_eq!(
            sem.available_permits(),
            2,
            "every permit is back, timed out or not"
        );
    });
}

#[test]
fn bounded_semaphore_never_exceeds_its_initial_count() {
    loom::model(|| {
        let sem = Arc::new(BoundedSemaphore::new(1));
        let permit = sem.acquire();
        let releaser = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || sem.release(1).is_ok())
        };
        drop(permit); // after the explicit release, the excess is discarded
        let released = releaser.join().unwrap();
        assert_eq!(
            sem.available_permits(),
            1,
            "count above the bound (released: {released})"
        );
        assert!(
            sem.release(1).is_err(),
            "a full bounded semaphore refuses a release"
        );
        assert_eq!(
            sem.available_permits(),
            1,
            "a refused release changes nothing"
        );
    });
}
