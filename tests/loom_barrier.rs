//! Loom models of `Barrier`.
//!
//! Run with `RUSTFLAGS="--cfg loom -C debug-assertions" cargo test --release
//! --target-dir target/loom --test loom_barrier`.
#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use loom::thread;
use std::time::Duration;
use threadkit::{Barrier, BarrierWaitError, BarrierWaitResult, BrokenBarrier};

/// Yields to loom until `flag` is up.
fn until(flag: &AtomicBool) {
    while !flag.load(SeqCst) {
        thread::yield_now();
    }
}

/// The two arrivals of one round of a 2-party barrier: indices 0 and 1,
/// exactly one leader.
fn one_round(a: BarrierWaitResult, b: BarrierWaitResult) {
    let mut indices = [a.index(), b.index()];
    indices.sort_unstable();
    assert_eq!(indices, [0, 1], "arrival indices of one round");
    assert!(
        a.is_leader() != b.is_leader(),
        "exactly one leader per round"
    );
}

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

/// Issue 7, item 17: a thread arriving while the action runs belongs to the
/// next round. Main and T1 form round 0, whose action waits until T2 is about
/// to arrive; T2 and main's second wait form round 1. Properties: each round's
/// parties get `Ok` with indices 0 and 1 and exactly one leader; T2 is not
/// released by round 0 (it sees both actions done when it returns).
#[test]
fn barrier_arrival_during_the_action_joins_the_next_round() {
    loom::model(|| {
        // (actions finished, round 0's action runs, T2 is arriving)
        let flags = Arc::new((
            AtomicUsize::new(0),
            AtomicBool::new(false),
            AtomicBool::new(false),
        ));
        let barrier = {
            let flags = Arc::clone(&flags);
            Arc::new(Barrier::with_action(2, move || {
                if flags.0.load(SeqCst) == 0 {
                    flags.1.store(true, SeqCst);
                    until(&flags.2); // T2 arrives while this runs, or just after
                }
                flags.0.fetch_add(1, SeqCst);
            }))
        };
        let t1 = {
            let (barrier, flags) = (Arc::clone(&barrier), Arc::clone(&flags));
            thread::spawn(move || {
                let arrival = barrier.wait().expect("nobody breaks this barrier");
                assert!(
                    flags.0.load(SeqCst) >= 1,
                    "released before its round's action"
                );
                arrival
            })
        };
        let t2 = {
            let (barrier, flags) = (Arc::clone(&barrier), Arc::clone(&flags));
            thread::spawn(move || {
                until(&flags.1);
                flags.2.store(true, SeqCst);
                let arrival = barrier.wait().expect("nobody breaks this barrier");
                assert_eq!(
                    flags.0.load(SeqCst),
                    2,
                    "a late arrival was released before its own round's action"
                );
                arrival
            })
        };
        let round0 = barrier.wait().expect("nobody breaks this barrier");
        let round1 = barrier.wait().expect("nobody breaks this barrier");
        one_round(round0, t1.join().unwrap());
        one_round(round1, t2.join().unwrap());
        assert_eq!(flags.0.load(SeqCst), 2, "one action per round");
        assert!(!barrier.is_broken());
    });
}

/// Issue 7, bug 2 (the lead's rule): a round trips when its last party arrives,
/// so a waiter of that round whose deadline passes while the action runs is
/// released with it. Under loom T1's timed park yields once and then times out,
/// and the action yields, so T1's deadline is explored passing before main
/// arrives (T1 times out, main gets `Broken`) and during the action. Property:
/// if the action ran, both get `Ok` (one leader) and the barrier stays intact.
#[test]
fn barrier_timed_waiter_of_a_tripped_round_is_released_with_it() {
    loom::model(|| {
        let actions = Arc::new(AtomicUsize::new(0));
        let barrier = {
            let actions = Arc::clone(&actions);
            Arc::new(Barrier::with_action(2, move || {
                thread::yield_now(); // let T1's deadline pass during the action
                actions.fetch_add(1, SeqCst);
            }))
        };
        let t1 = {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || barrier.wait_for(Duration::from_secs(1)))
        };
        let main = barrier.wait();
        let t1 = t1.join().unwrap();
        if actions.load(SeqCst) == 1 {
            match (main, t1) {
                (Ok(a), Ok(b)) => one_round(a, b),
                outcome => panic!("the round tripped, yet {outcome:?}"),
            }
            assert!(!barrier.is_broken(), "a tripped round broke the barrier");
        } else {
            assert_eq!(
                (main, t1),
                (Err(BrokenBarrier), Err(BarrierWaitError::Timeout))
            );
            assert!(barrier.is_broken());
        }
    });
}

/// A barrier and the results of main and T1 in its round 0.
type Round0 = (
    Arc<Barrier>,
    Result<BarrierWaitResult, BrokenBarrier>,
    Result<BarrierWaitResult, BrokenBarrier>,
);

/// Runs round 0 of a 2-party barrier with main and T1, while a third thread
/// calls `control` once the round's action has started; the action returns
/// only after `control` has. Returns the barrier and both parties' results
/// (main's first), with the third thread joined.
fn round_0_while_the_action_runs(control: fn(&Barrier)) -> Round0 {
    // (the action has started, `control` returned)
    let flags = Arc::new((AtomicBool::new(false), AtomicBool::new(false)));
    let barrier = {
        let flags = Arc::clone(&flags);
        Arc::new(Barrier::with_action(2, move || {
            if !flags.0.swap(true, SeqCst) {
                until(&flags.1); // round 0 only
            }
        }))
    };
    let controller = {
        let (barrier, flags) = (Arc::clone(&barrier), Arc::clone(&flags));
        thread::spawn(move || {
            until(&flags.0);
            control(&barrier);
            flags.1.store(true, SeqCst);
        })
    };
    let t1 = {
        let barrier = Arc::clone(&barrier);
        thread::spawn(move || barrier.wait())
    };
    let main = barrier.wait();
    let t1 = t1.join().unwrap();
    controller.join().unwrap();
    (barrier, main, t1)
}

/// `abort` while the action runs takes effect after that round: the round's
/// parties all arrived, so both get `Ok` (one leader); then the barrier is
/// broken and a later `wait` fails at once.
#[test]
fn barrier_abort_during_the_action_breaks_after_the_round() {
    loom::model(|| {
        let (barrier, main, t1) = round_0_while_the_action_runs(Barrier::abort);
        match (main, t1) {
            (Ok(a), Ok(b)) => one_round(a, b),
            outcome => panic!("an abort during the action broke its round: {outcome:?}"),
        }
        assert!(barrier.is_broken(), "the abort was lost");
        assert_eq!(barrier.wait(), Err(BrokenBarrier));
    });
}

/// `reset` while the action runs lets the round pass and cancels a break
/// requested meanwhile (an `abort`): both parties get `Ok`, the barrier is not
/// broken, and the next round works.
#[test]
fn barrier_reset_during_the_action_cancels_a_pending_abort() {
    loom::model(|| {
        let (barrier, main, t1) = round_0_while_the_action_runs(|barrier| {
            barrier.abort();
            barrier.reset();
        });
        match (main, t1) {
            (Ok(a), Ok(b)) => one_round(a, b),
            outcome => panic!("a reset during the action broke its round: {outcome:?}"),
        }
        assert!(!barrier.is_broken(), "the abort outlived the reset");
        // Usable: a 1-party round would not show it; run round 1 with T1 again.
        let t1 = {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || barrier.wait())
        };
        match (barrier.wait(), t1.join().unwrap()) {
            (Ok(a), Ok(b)) => one_round(a, b),
            outcome => panic!("the round after the reset failed: {outcome:?}"),
        }
    });
}

/// `reset` while a thread waits: that waiter gets `Broken` at once, and the
/// barrier is usable after: its retry and main's wait form a round (`Ok`,
/// indices 0 and 1, one leader), and the barrier is not broken.
#[test]
fn barrier_reset_breaks_the_waiters_and_leaves_it_usable() {
    loom::model(|| {
        let barrier = Arc::new(Barrier::new(2));
        let t1 = {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                let first = barrier.wait();
                assert_eq!(first, Err(BrokenBarrier), "a waiter queued at reset");
                barrier.wait().expect("the barrier is usable after reset")
            })
        };
        while barrier.n_waiting() == 0 {
            thread::yield_now();
        }
        barrier.reset();
        let main = barrier.wait().expect("the barrier is usable after reset");
        one_round(main, t1.join().unwrap());
        assert!(!barrier.is_broken());
    });
}
