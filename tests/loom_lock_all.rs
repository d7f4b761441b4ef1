//! Loom models of `lock_all` and its timed form.
//!
//! Run with `RUSTFLAGS="--cfg loom -C debug-assertions" cargo test --release
//! --target-dir target/loom --test loom_lock_all` (`LOOM_MAX_PREEMPTIONS=2`
//! bounds the search). Under loom, threadkit runs on loom's types, so these
//! check the crate's real `lock_all` over its real locks. Its tries are the raw
//! mutex's own atomics, not `loom::sync::Mutex::try_lock` (loom issue 376: a
//! preempted `try_lock` there can be reported as a false deadlock).
//!
//! Properties, in every model: no deadlock (a cycle of threads blocked on each
//! other is a loom deadlock report), mutual exclusion (a witness per lock fails
//! the model if two threads are inside at once) and no lost update (the
//! counters at the end). Every model runs twice ([`model`]), so each contended
//! unlock is explored both as a fair hand-off and as a barging unlock.
#![cfg(loom)]

mod loom_common;

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::thread;
use loom_common::model;
use std::time::Duration;
use threadkit::{Lock, LockGuard, lock_all, lock_all_for};

/// A counter behind a lock, and a witness of the threads inside its critical section.
type Counted = (Lock<usize>, AtomicUsize);

/// Two counted locks, `a` and `b`.
type Pair = Arc<(Counted, Counted)>;

fn pair() -> Pair {
    Arc::new((
        (Lock::new(0), AtomicUsize::new(0)),
        (Lock::new(0), AtomicUsize::new(0)),
    ))
}

/// Runs a critical section under both locks' guards: fails the model if
/// another thread is inside either lock's section meanwhile, and increments
/// both counters.
fn both(pair: &Pair, a: LockGuard<'_, usize>, b: LockGuard<'_, usize>) {
    both_then(pair, a, b, thread::yield_now); // let loom interleave inside the section
}

/// [`both`], running `inside` (a yield, or nothing) in the critical section.
fn both_then(pair: &Pair, mut a: LockGuard<'_, usize>, mut b: LockGuard<'_, usize>, inside: fn()) {
    let (a_inside, b_inside) = (&(pair.0).1, &(pair.1).1);
    assert_eq!(a_inside.fetch_add(1, SeqCst), 0, "two threads hold a");
    assert_eq!(b_inside.fetch_add(1, SeqCst), 0, "two threads hold b");
    inside();
    *a += 1;
    *b += 1;
    a_inside.fetch_sub(1, SeqCst);
    b_inside.fetch_sub(1, SeqCst);
}

/// Spawns a thread that runs `body` on the pair.
fn spawn(pair: &Pair, body: fn(&Pair)) -> thread::JoinHandle<()> {
    let pair = Arc::clone(pair);
    thread::spawn(move || body(&pair))
}

/// Both counters after the threads are done; neither lock may still be held.
fn counts(pair: &Pair) -> (usize, usize) {
    let (a, b) = (&(pair.0).0, &(pair.1).0);
    assert!(!a.is_locked() && !b.is_locked(), "a lock is still held");
    (*a.lock(), *b.lock())
}

/// `lock_all((&a, &b))` against `lock_all((&b, &a))` on another thread.
#[test]
fn lock_all_against_opposite_lock_all() {
    model(|| {
        let pair = pair();
        let other = spawn(&pair, |pair| {
            let (b, a) = lock_all((&(pair.1).0, &(pair.0).0));
            both(pair, a, b);
        });
        let (a, b) = lock_all((&(pair.0).0, &(pair.1).0));
        both(&pair, a, b);
        other.join().unwrap();
        assert_eq!(counts(&pair), (2, 2));
    });
}

/// The seeds' scenario: `lock_all((&a, &b))` against plain `b.lock()` then
/// `a.lock()` on another thread (the array form, for variety).
#[test]
fn lock_all_against_opposite_plain_locks() {
    model(|| {
        let pair = pair();
        let other = spawn(&pair, |pair| {
            let b = (pair.1).0.lock();
            let a = (pair.0).0.lock();
            both(pair, a, b);
        });
        let [a, b] = lock_all([&(pair.0).0, &(pair.1).0]);
        both(&pair, a, b);
        other.join().unwrap();
        assert_eq!(counts(&pair), (2, 2));
    });
}

/// `lock_all_for` against plain locks in the opposite order. Under loom a timed
/// wait may time out after one yield, so both outcomes are explored. Giving up
/// must hold nothing: a lock left held would block the other thread forever (a
/// loom deadlock report) or fail the final check. The timed thread takes its
/// locks again with `lock_all` after giving up, so every run counts two updates.
#[test]
fn timed_lock_all_gives_up_holding_nothing() {
    model(|| {
        let pair = pair();
        let other = spawn(&pair, |pair| {
            let b = (pair.1).0.lock();
            let a = (pair.0).0.lock();
            both(pair, a, b);
        });
        let (a, b) = (&(pair.0).0, &(pair.1).0);
        let (a, b) =
            lock_all_for((a, b), Duration::from_secs(1)).unwrap_or_else(|| lock_all((a, b)));
        both(&pair, a, b);
        other.join().unwrap();
        assert_eq!(counts(&pair), (2, 2));
    });
}

/// A zero timeout tries once: it never blocks (a blocked thread with the other
/// thread done would be a deadlock report) and holds nothing when it fails.
#[test]
fn zero_timeout_lock_all_tries_once() {
    model(|| {
        let pair = pair();
        let other = spawn(&pair, |pair| {
            let (b, a) = lock_all((&(pair.1).0, &(pair.0).0));
            both(pair, a, b);
        });
        let (a, b) = (&(pair.0).0, &(pair.1).0);
        let took = match lock_all_for((a, b), Duration::ZERO) {
            Some((a, b)) => {
                both(&pair, a, b);
                1
            }
            None => 0,
        };
        other.join().unwrap();
        assert_eq!(counts(&pair), (1 + took, 1 + took));
    });
}

/// Three threads: `lock_all((&a, &b))`, `lock_all([&b, &a])` and plain
/// `b.lock()` then `a.lock()`, so that a `lock_all` can find its second lock
/// taken by either kind of opponent, and a retry round meet the third thread.
#[test]
fn lock_all_against_lock_all_and_plain_locks() {
    model(|| {
        let pair = pair();
        let tuple = spawn(&pair, |pair| {
            let (a, b) = lock_all((&(pair.0).0, &(pair.1).0));
            both_then(pair, a, b, || {});
        });
        let array = spawn(&pair, |pair| {
            let [b, a] = lock_all([&(pair.1).0, &(pair.0).0]);
            both_then(pair, a, b, || {});
        });
        let b = (pair.1).0.lock();
        let a = (pair.0).0.lock();
        both_then(&pair, a, b, || {});
        tuple.join().unwrap();
        array.join().unwrap();
        assert_eq!(counts(&pair), (3, 3));
    });
}
