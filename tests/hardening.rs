//! Regression tests for the contract bugs of issue 7 ("harden the first six
//! primitives"), each named after the promise it checks. Each was seen to fail
//! on the code before its fix.

mod common;

use std::mem;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::{HANDSHAKE, spin_until};
use threadkit::{Barrier, BarrierWaitError, RLock};

/// SPEC, RLock: ownership is tied to a thread identity unique for the life of
/// the process. A thread that leaks a guard and exits keeps the lock held; a
/// later thread, which may get the dead thread's thread-local storage (and so
/// the same TLS address), is never taken for its owner.
#[test]
fn rlock_leaked_by_a_dead_thread_is_owned_by_no_later_thread() {
    let lock = RLock::new(());
    thread::scope(|s| {
        s.spawn(|| mem::forget(lock.lock()));
    });
    assert!(lock.is_locked(), "a leaked guard keeps the lock held");
    for _ in 0..20 {
        thread::scope(|s| {
            s.spawn(|| {
                assert!(!lock.is_owned_by_current_thread());
                assert_eq!(lock.hold_count(), 0);
                assert!(
                    lock.try_lock().is_none(),
                    "a new thread re-entered a dead thread's lock"
                );
            });
        });
    }
}

/// The action of a 2-party barrier that blocks until told to return, and a
/// channel that says when it started.
fn blocking_action_barrier() -> (Barrier, mpsc::Receiver<()>, mpsc::Sender<()>) {
    let (started_tx, started_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let barrier = Barrier::with_action(2, move || {
        started_tx.send(()).unwrap();
        go_rx.recv_timeout(HANDSHAKE).unwrap();
    });
    (barrier, started_rx, go_tx)
}

/// SPEC, Barrier: a round trips when its last party arrives, and a waiter of
/// that round is released with it (not timed out) even if its deadline passes
/// while the action runs, as in Python and Java. The barrier stays intact.
#[test]
fn barrier_waiter_whose_deadline_passes_during_the_action_is_released() {
    // Long enough that the leader surely arrives first even on a loaded machine.
    const TIMEOUT: Duration = Duration::from_secs(3);
    let (barrier, started, go) = blocking_action_barrier();
    thread::scope(|s| {
        let deadline = Instant::now() + TIMEOUT;
        let barrier = &barrier;
        let waiter = s.spawn(move || barrier.wait_until(deadline));
        spin_until("the waiter to queue", || barrier.n_waiting() == 1);
        let leader = s.spawn(|| barrier.wait());
        started.recv_timeout(HANDSHAKE).unwrap();
        assert!(
            Instant::now() < deadline,
            "the leader arrived after the deadline: machine too slow to judge"
        );
        // Let the waiter's deadline pass while the action still runs.
        thread::sleep(
            deadline.saturating_duration_since(Instant::now()) + Duration::from_millis(50),
        );
        go.send(()).unwrap();
        assert_eq!(waiter.join().unwrap().map(|r| r.index()), Ok(0));
        assert_eq!(leader.join().unwrap().map(|r| r.index()), Ok(1));
    });
    assert!(!barrier.is_broken(), "a completed round broke the barrier");
}

/// SPEC, Barrier: `abort()` during the action takes effect after that round is
/// released (in Python it waits for the lock the action holds).
#[test]
fn barrier_abort_during_the_action_breaks_after_the_round_is_released() {
    let (barrier, started, go) = blocking_action_barrier();
    thread::scope(|s| {
        let waiter = s.spawn(|| barrier.wait());
        spin_until("the waiter to queue", || barrier.n_waiting() == 1);
        let leader = s.spawn(|| barrier.wait());
        started.recv_timeout(HANDSHAKE).unwrap();
        barrier.abort();
        go.send(()).unwrap();
        assert_eq!(waiter.join().unwrap().map(|r| r.index()), Ok(0));
        assert_eq!(leader.join().unwrap().map(|r| r.index()), Ok(1));
    });
    assert!(barrier.is_broken(), "the abort was lost");
    assert_eq!(
        barrier.wait_for(Duration::ZERO),
        Err(BarrierWaitError::Broken)
    );
}

/// `reset()` during the action lets that round pass and leaves the barrier
/// usable; an `abort` before it in the same action is undone.
#[test]
fn barrier_reset_during_the_action_lets_the_round_pass() {
    let (barrier, started, go) = blocking_action_barrier();
    thread::scope(|s| {
        let waiter = s.spawn(|| barrier.wait());
        spin_until("the waiter to queue", || barrier.n_waiting() == 1);
        let leader = s.spawn(|| barrier.wait());
        started.recv_timeout(HANDSHAKE).unwrap();
        barrier.abort();
        barrier.reset();
        go.send(()).unwrap();
        assert!(waiter.join().unwrap().is_ok());
        assert!(leader.join().unwrap().is_ok());
    });
    assert!(!barrier.is_broken());
}
