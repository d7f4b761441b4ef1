//! Loom models of `Barrier`.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test --release --test loom_barrier`.
#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::thread;
use std::time::Duration;
use threadkit::{Barrier, BarrierWaitError};

#[test]
fn barrier_generation_handover_keeps_slots() {
    loom::model(|| {
        // leaders[round], rounds run by the action
        let shared = Arc::new((Barrier::new(2), [AtomicUsize::new(0), AtomicUsize::new(0)]));
        let party = |shared: Arc<(Barrier, [AtomicUsize; 2])>| {
            for round in 0..2 {
                // A fast thread re-enters round 1 while the other may still be
                // waking from round 0: it must not take that thread's slot.
                let arrival = shared.0.wait().expect("nobody breaks this barrier");
                assert!(arrival.index() < 2);
                if arrival.is_leader() {
                    shared.1[round].fetch_add(1, SeqCst);
                }
            }
        };
        let other = {
            let shared = Arc::clone(&shared);
            thread::spawn(move || party(shared))
        };
        party(Arc::clone(&shared));
        other.join().unwrap();
        assert_eq!(shared.1[0].load(SeqCst), 1, "one leader in round 0");
        assert_eq!(shared.1[1].load(SeqCst), 1, "one leader in round 1");
    });
}

#[test]
fn barrier_action_runs_once_before_release() {
    loom::model(|| {
        let rounds = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&rounds);
        let barrier = Arc::new(Barrier::with_action(2, move || {
            counter.fetch_add(1, SeqCst);
        }));
        let other = {
            let (barrier, rounds) = (Arc::clone(&barrier), Arc::clone(&rounds));
            thread::spawn(move || {
                barrier.wait().unwrap();
                assert_eq!(rounds.load(SeqCst), 1, "released before the action ran");
            })
        };
        barrier.wait().unwrap();
        assert_eq!(rounds.load(SeqCst), 1);
        other.join().unwrap();
    });
}

#[test]
fn barrier_abort_wakes_every_waiter() {
    loom::model(|| {
        let barrier = Arc::new(Barrier::new(3));
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let barrier = Arc::clone(&barrier);
                thread::spawn(move || barrier.wait().is_err())
            })
            .collect();
        barrier.abort();
        for waiter in waiters {
            assert!(
                waiter.join().unwrap(),
                "only 2 of 3 arrived: the wait must fail"
            );
        }
        assert!(barrier.is_broken());
    });
}

#[test]
fn barrier_timeout_breaks_it_for_the_others() {
    loom::model(|| {
        let barrier = Arc::new(Barrier::new(2));
        let timed = {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || barrier.wait_for(Duration::from_secs(1)).map(|_| ()))
        };
        let untimed = barrier.wait().map(|_| ()).map_err(BarrierWaitError::from);
        let timed = timed.join().unwrap();
        let outcome = (timed, untimed);
        assert!(
            outcome == (Ok(()), Ok(()))
                || outcome
                    == (
                        Err(BarrierWaitError::Timeout),
                        Err(BarrierWaitError::Broken)
                    ),
            "unexpected outcome {outcome:?}"
        );
    });
}
