//! Regression tests for the contract bugs of issue 7 ("harden the first six
//! primitives"), each named after the promise it checks. Each was seen to fail
//! on the code before its fix.

mod common;

use std::mem;
use std::panic::{self, AssertUnwindSafe, RefUnwindSafe, UnwindSafe};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use common::{HANDSHAKE, spin_until};
use threadkit::{
    Barrier, BarrierWaitError, BarrierWaitResult, BoundedSemaphore, BrokenBarrier, Condition,
    Event, Lock, LockGuard, OwnedSemaphorePermit, RLock, Semaphore, SemaphorePermit,
};

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

/// Runs one round of a 2-party barrier whose action blocks until told to
/// return: a first party waits with `first` (its wait is queued before the
/// second arrives), the second with `wait()`, and `during` runs while the
/// action does. Returns both arrival indexes (or errors) and the barrier.
fn round_with_a_blocked_action<R: Send>(
    first: impl FnOnce(&Barrier) -> Result<BarrierWaitResult, R> + Send,
    during: impl FnOnce(&Barrier),
) -> (Result<usize, R>, Result<usize, BrokenBarrier>, Barrier) {
    let (started_tx, started) = mpsc::channel();
    let (go, go_rx) = mpsc::channel::<()>();
    let barrier = Barrier::with_action(2, move || {
        started_tx.send(()).unwrap();
        go_rx.recv_timeout(HANDSHAKE).unwrap();
    });
    let (first, second) = thread::scope(|s| {
        let barrier = &barrier;
        let first = s.spawn(move || first(barrier));
        spin_until("the first party to queue", || barrier.n_waiting() == 1);
        let second = s.spawn(|| barrier.wait());
        started.recv_timeout(HANDSHAKE).unwrap();
        during(barrier);
        go.send(()).unwrap();
        (first.join().unwrap(), second.join().unwrap())
    });
    let index = |arrival: BarrierWaitResult| arrival.index();
    (first.map(index), second.map(index), barrier)
}

/// SPEC, Barrier: a round trips when its last party arrives, and a waiter of
/// that round is released with it (not timed out) even if its deadline passes
/// while the action runs, as in Python and Java. The barrier stays intact.
#[test]
fn barrier_waiter_whose_deadline_passes_during_the_action_is_released() {
    // Long enough that the leader surely arrives first even on a loaded machine.
    let deadline = Instant::now() + Duration::from_secs(3);
    let (waiter, leader, barrier) = round_with_a_blocked_action(
        |barrier| barrier.wait_until(deadline),
        |_| {
            assert!(
                Instant::now() < deadline,
                "the leader arrived after the deadline: machine too slow to judge"
            );
            // Let the waiter's deadline pass while the action still runs.
            thread::sleep(
                deadline.saturating_duration_since(Instant::now()) + Duration::from_millis(50),
            );
        },
    );
    assert_eq!((waiter, leader), (Ok(0), Ok(1)));
    assert!(!barrier.is_broken(), "a completed round broke the barrier");
}

/// SPEC, Barrier: `abort()` during the action takes effect after that round is
/// released (in Python it waits for the lock the action holds).
#[test]
fn barrier_abort_during_the_action_breaks_after_the_round_is_released() {
    let (waiter, leader, barrier) = round_with_a_blocked_action(Barrier::wait, Barrier::abort);
    assert_eq!((waiter, leader), (Ok(0), Ok(1)));
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
    let (waiter, leader, barrier) = round_with_a_blocked_action(Barrier::wait, |barrier| {
        barrier.abort();
        barrier.reset();
    });
    assert_eq!((waiter, leader), (Ok(0), Ok(1)));
    assert!(!barrier.is_broken());
}

/// Issue 7, item 7: a `try_` or timed form never panics for a request that can
/// never succeed: it returns `None` (the timed form after its timeout, as
/// Python's `acquire(timeout=...)` returns `False`), and it does not queue, so
/// it holds back no acquire behind it. The untimed form panics.
#[test]
fn impossible_semaphore_requests_do_not_panic_in_try_and_timed_forms() {
    const TIMEOUT: Duration = Duration::from_millis(50);
    let zero = BoundedSemaphore::new(0);
    assert!(zero.try_acquire().is_none());
    assert!(zero.try_acquire_many(3).is_none());
    let (result, elapsed) = common::timed(|| zero.acquire_for(TIMEOUT));
    assert!(result.is_none());
    common::assert_waited(elapsed, TIMEOUT);

    let sem = Arc::new(Semaphore::new(1));
    assert!(sem.try_acquire_many(usize::MAX).is_none());
    // Detached: it waits out its minute alone while the test goes on.
    let hopeless = Arc::clone(&sem);
    let hopeless =
        thread::spawn(move || drop(hopeless.acquire_many_for(usize::MAX, Duration::from_secs(60))));
    // Give it time to start; it must not sit at the front of the queue.
    common::yield_a_while(|| assert_eq!(sem.queued_waiters(), 0, "the impossible request queued"));
    let permit = sem.acquire_for(HANDSHAKE);
    assert!(permit.is_some(), "held back by an impossible request");
    common::detach(hopeless);
}

/// Issue 7, item 6: misuse panics point at the caller's line and name the
/// method the caller called.
#[test]
fn misuse_panics_name_the_called_method_at_the_callers_line() {
    let sem = BoundedSemaphore::new(1);
    let (message, file) = panic_with_location(|| drop(sem.acquire_many(2)));
    assert!(
        message.contains("BoundedSemaphore::acquire_many"),
        "{message}"
    );
    assert_eq!(file, file!());
    let sem = Arc::new(BoundedSemaphore::new(0));
    let (message, file) = panic_with_location(|| drop(sem.acquire_arc()));
    assert!(
        message.contains("BoundedSemaphore::acquire_arc"),
        "{message}"
    );
    assert_eq!(file, file!());
    let (message, file) = panic_with_location(|| Semaphore::new(usize::MAX).release(1));
    assert!(message.contains("usize::MAX / 2"), "{message}");
    assert_eq!(file, file!());
    let (message, file) = panic_with_location(|| drop(Barrier::new(0)));
    assert!(message.contains("parties must be at least 1"), "{message}");
    assert_eq!(file, file!());
}

/// Runs `f`, which must panic, and returns its message and the file of the
/// location the panic reported.
fn panic_with_location(f: impl FnOnce()) -> (String, String) {
    thread_local!(static LOCATION: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) });
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let file = info.location().map(|l| l.file().to_owned());
            LOCATION.with(|slot| *slot.borrow_mut() = file);
            previous(info);
        }));
    });
    let payload = panic::catch_unwind(AssertUnwindSafe(f)).expect_err("no panic");
    let file = LOCATION
        .with(|slot| slot.borrow_mut().take())
        .expect("the hook saw the panic");
    (common::panic_message(&*payload).to_owned(), file)
}

/// Issue 7, item 5: the primitives whose state a panic cannot leave
/// half-done are `UnwindSafe` and `RefUnwindSafe`, so `catch_unwind` takes them.
#[test]
fn primitives_without_user_data_are_unwind_safe() {
    fn unwind_safe<T: UnwindSafe + RefUnwindSafe>() {}
    unwind_safe::<Event>();
    unwind_safe::<Condition>();
    unwind_safe::<Semaphore>();
    unwind_safe::<BoundedSemaphore>();
    unwind_safe::<Barrier>();
    unwind_safe::<SemaphorePermit<'static>>();
    unwind_safe::<OwnedSemaphorePermit>();
    let event = Event::new();
    assert!(panic::catch_unwind(|| event.set()).is_ok());
    assert!(event.is_set());
}

/// SPEC, owned guards: `lock_arc` and `acquire_arc` give guards with no
/// lifetime; a permit moves into a `'static` thread and is released there.
#[test]
fn owned_guards_and_permits_outlive_the_borrow() {
    let lock = Arc::new(Lock::new(Vec::new()));
    let mut guard = lock.lock_arc();
    guard.push(1);
    assert!(lock.try_lock_arc().is_none());
    assert!(lock.try_lock_arc_for(Duration::ZERO).is_none());
    drop(guard);
    assert_eq!(*lock.try_lock_arc_until(Instant::now()).expect("free"), [1]);

    let pool = Arc::new(Semaphore::new(2));
    let permits = pool.acquire_many_arc(2);
    assert_eq!(permits.num_permits(), 2);
    assert!(pool.try_acquire_arc().is_none());
    let worker = thread::spawn(move || drop(permits));
    worker.join().unwrap();
    assert_eq!(pool.available_permits(), 2);

    let bounded = Arc::new(BoundedSemaphore::new(1));
    let permit = bounded.try_acquire_arc_for(Duration::ZERO).expect("free");
    bounded.release(1).unwrap(); // released twice: the permit's drop discards the excess
    drop(permit);
    assert_eq!(bounded.available_permits(), 1);
    bounded.acquire_arc().forget();
    assert_eq!(bounded.available_permits(), 0);
}

/// SPEC: `LockGuard::map` narrows a guard; the lock stays held until the mapped
/// guard drops.
#[test]
fn mapped_guard_holds_the_lock() {
    let lock = Lock::new((String::from("a"), 1));
    let mut name = LockGuard::map(lock.lock(), |pair| &mut pair.0);
    name.push('b');
    assert!(lock.is_locked());
    assert_eq!(format!("{name} {name:?}"), "ab \"ab\"");
    drop(name);
    assert!(!lock.is_locked());
    let kept =
        LockGuard::try_map(lock.lock(), |_| None::<&mut u8>).expect_err("None keeps the guard");
    assert!(lock.is_locked());
    drop(kept);
    assert_eq!(lock.into_inner(), (String::from("ab"), 1));
}

/// A timed acquire whose timeout cannot be a deadline (`Duration::MAX`) is the
/// untimed form: a request that can never be granted panics instead of
/// blocking forever.
#[test]
fn impossible_request_with_an_endless_timeout_panics_instead_of_hanging() {
    // On a thread of its own, so that a hang fails the test instead of hanging it.
    let (done, outcome) = mpsc::channel();
    let thread = thread::spawn(move || {
        let sem = BoundedSemaphore::new(1);
        let bounded = panic_with_location(|| drop(sem.acquire_many_for(2, Duration::MAX)));
        let sem = Arc::new(Semaphore::new(0));
        let plain =
            panic_with_location(|| drop(sem.try_acquire_many_arc_for(usize::MAX, Duration::MAX)));
        done.send((bounded, plain)).unwrap();
    });
    let ((message, file), (plain, _)) = outcome
        .recv_timeout(HANDSHAKE)
        .expect("an impossible request with Duration::MAX hung");
    thread.join().unwrap();
    assert!(
        message.contains("BoundedSemaphore::acquire_many_for"),
        "{message}"
    );
    assert_eq!(file, file!());
    assert!(
        plain.contains("Semaphore::try_acquire_many_arc_for"),
        "{plain}"
    );
}

/// `reset()` while the action runs resets the barrier after that round, also
/// when the action then panics and breaks the round (in Python, `reset` waits
/// for the lock the action holds, so it comes after the break).
#[test]
fn barrier_reset_during_a_panicking_action_leaves_it_usable() {
    let (started_tx, started) = mpsc::channel();
    let (go, go_rx) = mpsc::channel::<()>();
    let mut round = 0;
    let barrier = Barrier::with_action(2, move || {
        round += 1;
        if round == 1 {
            started_tx.send(()).unwrap();
            go_rx.recv_timeout(HANDSHAKE).unwrap();
            common::throw("the first round's action fails");
        }
    });
    thread::scope(|s| {
        let waiter = s.spawn(|| barrier.wait());
        spin_until("the waiter to queue", || barrier.n_waiting() == 1);
        let leader = s.spawn(|| panic::catch_unwind(AssertUnwindSafe(|| barrier.wait())));
        started.recv_timeout(HANDSHAKE).unwrap();
        barrier.reset();
        go.send(()).unwrap();
        assert_eq!(
            waiter.join().unwrap(),
            Err(BrokenBarrier),
            "the panic broke the round"
        );
        assert!(
            leader.join().unwrap().is_err(),
            "the action's panic propagates"
        );
    });
    assert!(!barrier.is_broken(), "the reset was lost");
    thread::scope(|s| {
        let other = s.spawn(|| barrier.wait());
        assert!(barrier.wait().is_ok() && other.join().unwrap().is_ok());
    });
}
