//! Integration tests for the lock family: `Lock`, `RLock` and `Condition`.
//!
//! # Provenance
//!
//! The `cpython_*` modules port CPython's `Lib/test/lock_tests.py` (the 3.13/3.14
//! layout of the file: `Bunch` as a context manager, `wait_threads_blocked`,
//! `RLockTests.test_recursion_count`, `test_locked_with_2threads`), classes
//! `BaseLockTests` (run for both `Lock` and `RLock`, as CPython's
//! `test_threading` does), `LockTests`, `RLockTests` and `ConditionTests`. Each
//! test is named after the CPython test it ports (`test__is_owned` becomes
//! `test_is_owned`, since Rust frowns on double underscores). The tests were
//! rewritten for this API, not translated: guards instead of
//! `acquire`/`release`, `catch_unwind` instead of `with` + exception, explicit
//! hand-shakes (channels, `Barrier`, a second `Condition`) instead of the
//! `_wait()`/`wait_threads_blocked()` sleeps CPython uses to order threads.
//! CPython's `assertTimeout` lower bound (0.6 × timeout) is tightened to
//! "never earlier than the timeout", which the SPEC promises.
//!
//! Left out, and why:
//! - `test_constructor_noargs`, `test_weakref_exists`, `test_weakref_deleted`,
//!   `LockTests.test_at_fork_reinit`: Python-object concerns (call signatures,
//!   weak references, `fork`) with no counterpart in Rust.
//! - `BaseLockTests.test_timeout`'s error cases: `acquire(False, 1)` and a
//!   negative timeout cannot be expressed with `Duration`; a huge timeout is not an
//!   `OverflowError` here but "wait forever" (`Duration::MAX`, tested instead).
//! - `LockTests.test_reacquire` and `test_different_thread` rely on releasing a
//!   `Lock` from another thread. Guards are `!Send` (checked at compile time), so
//!   only the owner releases; the ports keep what can be written (the holder cannot
//!   take the lock again; a lock released by its owner is free for others).
//! - `RLockTests.test_release_unacquired`, `test_release_save_unacquired` and
//!   `test_different_thread` check Python's `RuntimeError` for releasing an RLock
//!   the thread does not own. Releasing is dropping a guard the thread owns, so
//!   that misuse cannot be written; the non-error halves are kept.
//! - `ConditionTests.test_unacquired_wait`: `wait` takes `&mut LockGuard`, so
//!   waiting without the lock does not compile. `test_unacquired_notify`: Rust
//!   (like std) allows notifying without the lock, so the port checks that instead.
//!   The default-`RLock` half of `test_acquire` is left out too: a `Condition` has
//!   no lock of its own and works with a `Lock` guard.
//! - The Event, Semaphore and Barrier classes of `lock_tests.py` belong to other
//!   primitives and other test files.
//!
//! The remaining modules check SPEC promises beyond CPython's tests (`spec_*`),
//! panic safety (`panic_safety`) and behaviour under load (`stress`).
//!
//! # Timing rules
//!
//! No sleep orders threads. Sleeps appear only where time must pass for a timeout
//! test. Timed waits are checked with `assert_waited`: never before the timeout,
//! and within `timeout + SLACK` so a loaded two-core machine cannot flake them.
//! A call that must return at once is given a `LONG` timeout and must return
//! within half of it (`assert_prompt`); a zero timeout or a past deadline runs
//! under `try_once`, which would end a wrongly blocking wait after `LONG`.
//! Every hand-shake has a long timeout, so a broken primitive fails a test and
//! does not hang it.
//!
//! A Condition's waiters count themselves under the Lock before they wait
//! (`spawn_waiter`), so once the main thread sees the count, they are queued.
//! A thread blocked in `Lock::lock` shows nowhere; the tests that let such
//! threads block (`let_others_run`) say why their assertions hold whether or
//! not the threads have blocked yet.
#![cfg(not(loom))]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use threadkit::{Condition, Lock, LockGuard, RLock, RLockGuard};

mod common;
use common::*;

/// A timeout long enough to measure and short enough to keep the file fast.
const TIMEOUT: Duration = Duration::from_millis(250);

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Waits on `progress` while `pred` holds; fails the test instead of hanging.
#[track_caller]
fn wait_state<S>(
    progress: &Condition,
    guard: &mut LockGuard<'_, S>,
    what: &str,
    pred: impl FnMut(&mut S) -> bool,
) {
    let result = progress.wait_while_for(guard, pred, HANDSHAKE);
    assert!(!result.timed_out(), "timed out waiting for {what}");
}

/// Fails to compile if `$ty` implements `Send`: with `Send`, both impls of
/// `AmbiguousIfSend` apply and the call below is ambiguous (the trick of the
/// `static_assertions` crate).
macro_rules! assert_not_send {
    ($ty:ty) => {{
        trait AmbiguousIfSend<A> {
            fn some_item() {}
        }
        impl<T: ?Sized> AmbiguousIfSend<()> for T {}
        #[allow(dead_code)]
        struct IsSend;
        impl<T: ?Sized + Send> AmbiguousIfSend<IsSend> for T {}
        <$ty as AmbiguousIfSend<_>>::some_item();
    }};
}

fn assert_send_sync<T: ?Sized + Send + Sync>() {}

/// State behind one `Lock`, with a `Condition` under test (`cond`), a second one
/// sharing the lock (`other`) and one the main thread uses to wait for progress.
struct Shared<S> {
    state: Lock<S>,
    cond: Condition,
    other: Condition,
    progress: Condition,
}

impl<S> Shared<S> {
    fn new(state: S) -> Arc<Self> {
        Arc::new(Shared {
            state: Lock::new(state),
            cond: Condition::new(),
            other: Condition::new(),
            progress: Condition::new(),
        })
    }
}

/// What waiters spawned by [`spawn_waiter`] record.
#[derive(Debug, Default)]
struct Waiters {
    /// How many waiters have queued themselves (they count under the lock, then wait).
    entered: usize,
    /// How many wake-ups the main thread has asked for so far.
    notified: usize,
    /// Ids of the waiters woken by a notify, in the order they returned.
    woken: Vec<usize>,
    /// Ids of the waiters whose timed wait timed out.
    timed_out: Vec<usize>,
    /// Waiters that returned "notified" when no notify was owed to them.
    spurious: usize,
}

/// Spawns waiter `id`: under the lock it counts itself in `entered` and waits on
/// `cond` (or `other`), so once the main thread sees the count under the lock, the
/// waiter is queued. It then records how its wait ended.
fn spawn_waiter(
    shared: &Arc<Shared<Waiters>>,
    id: usize,
    on_other: bool,
    timeout: Option<Duration>,
) -> JoinHandle<()> {
    let s = Arc::clone(shared);
    thread::spawn(move || {
        let cond = if on_other { &s.other } else { &s.cond };
        let mut g = s.state.lock();
        g.entered += 1;
        s.progress.notify_all();
        let notified = match timeout {
            None => {
                cond.wait(&mut g);
                true
            }
            Some(timeout) => !cond.wait_for(&mut g, timeout).timed_out(),
        };
        if notified {
            if g.woken.len() >= g.notified {
                g.spurious += 1;
            }
            g.woken.push(id);
        } else {
            g.timed_out.push(id);
        }
        s.progress.notify_all();
    })
}

/// Waits until `n` waiters have entered (so all of them are queued).
fn wait_entered(shared: &Shared<Waiters>, n: usize) {
    let mut g = shared.state.lock();
    wait_state(&shared.progress, &mut g, "waiters to queue", |st| {
        st.entered < n
    });
}

/// Spawns waiters `0..n` one at a time, each queued before the next starts, so
/// their queue order is their id order.
fn spawn_waiters_in_order(
    shared: &Arc<Shared<Waiters>>,
    n: usize,
    timeout: impl Fn(usize) -> Option<Duration>,
) -> Vec<JoinHandle<()>> {
    (0..n)
        .map(|id| {
            let handle = spawn_waiter(shared, id, false, timeout(id));
            wait_entered(shared, id + 1);
            handle
        })
        .collect()
}

fn sorted(ids: &[usize]) -> Vec<usize> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids
}

fn join_all(handles: Vec<JoinHandle<()>>) {
    for handle in handles {
        handle.join().expect("a test thread panicked");
    }
}

// ---------------------------------------------------------------------------
// CPython BaseLockTests, for Lock and for RLock
// ---------------------------------------------------------------------------

/// Ports `BaseLockTests`: the tests CPython runs for both `Lock` and `RLock`.
macro_rules! cpython_base_lock_tests {
    ($module:ident, $Lock:ident) => {
        #[doc = concat!("CPython `BaseLockTests`, run for `", stringify!($Lock), "`.")]
        mod $module {
            use super::*;

            #[test]
            fn test_constructor() {
                let lock = $Lock::new(());
                assert!(!lock.is_locked());
                let lock: $Lock<u8> = $Lock::default();
                assert_eq!(*lock.lock(), 0);
                let lock = $Lock::from(7u8);
                assert!(!lock.is_locked());
                assert_eq!(lock.into_inner(), 7);
            }

            /// `repr(lock)` is `Debug`: it shows the data when it can lock.
            #[test]
            fn test_repr() {
                let lock = $Lock::new(4242);
                let repr = format!("{lock:?}");
                assert!(repr.contains("4242"), "{repr}");
                assert!(!repr.contains("<locked>"), "{repr}");
                assert!(!lock.is_locked(), "Debug must not keep the lock");
            }

            /// A lock held by another thread shows as `<locked>`.
            #[test]
            fn test_locked_repr() {
                let lock = $Lock::new(4242);
                let guard = lock.lock();
                let repr = thread::scope(|s| s.spawn(|| format!("{lock:?}")).join().unwrap());
                assert!(repr.contains("<locked>"), "{repr}");
                assert!(!repr.contains("4242"), "{repr}");
                drop(guard);
            }

            /// Destroying a held lock is fine: no panic, and the value is dropped.
            #[test]
            fn test_acquire_destroy() {
                let value = Arc::new(());
                let lock = $Lock::new(Arc::clone(&value));
                std::mem::forget(lock.lock());
                assert!(lock.is_locked());
                drop(lock);
                assert_eq!(Arc::strong_count(&value), 1, "the value was not dropped");
            }

            #[test]
            fn test_acquire_release() {
                let lock = $Lock::new(());
                let guard = lock.lock();
                assert!(lock.is_locked());
                drop(guard);
                assert!(!lock.is_locked());
            }

            #[test]
            fn test_try_acquire() {
                let lock = $Lock::new(());
                let guard = lock.try_lock().expect("a free lock");
                assert!(lock.is_locked());
                drop(guard);
                assert!(!lock.is_locked());
            }

            #[test]
            fn test_try_acquire_contended() {
                let lock = $Lock::new(());
                let guard = lock.lock();
                let results = thread::scope(|s| {
                    s.spawn(|| {
                        (
                            lock.try_lock().is_some(),
                            // A zero timeout and a past deadline try once too.
                            lock.try_lock_for(Duration::ZERO).is_some(),
                            lock.try_lock_until(Instant::now()).is_some(),
                        )
                    })
                    .join()
                    .unwrap()
                });
                assert_eq!(results, (false, false, false));
                assert!(lock.is_locked());
                drop(guard);
            }

            #[test]
            fn test_acquire_contended() {
                const N: usize = 5;
                let lock = Arc::new($Lock::new(()));
                let started = Arc::new(AtomicUsize::new(0));
                let finished = Arc::new(AtomicUsize::new(0));
                let guard = lock.lock();
                let threads: Vec<_> = (0..N)
                    .map(|_| {
                        let (lock, started, finished) = (
                            Arc::clone(&lock),
                            Arc::clone(&started),
                            Arc::clone(&finished),
                        );
                        thread::spawn(move || {
                            started.fetch_add(1, SeqCst);
                            {
                                let _guard = lock.lock();
                            }
                            finished.fetch_add(1, SeqCst);
                        })
                    })
                    .collect();
                spin_until("every thread to start", || started.load(SeqCst) == N);
                // No thread can pass the held lock, whether it has blocked in
                // `lock()` yet or not: letting them run only makes it likelier
                // that they wait, and the order they take it in is not checked.
                let_others_run();
                assert_eq!(finished.load(SeqCst), 0, "a thread got past a held lock");
                drop(guard);
                join_all(threads);
                assert_eq!(finished.load(SeqCst), N);
                assert!(!lock.is_locked());
            }

            /// `with lock:` is a guard's scope; a panic in it releases the lock.
            #[test]
            fn test_with() {
                let lock = $Lock::new(());
                let lock_on_other_thread =
                    || thread::scope(|s| s.spawn(|| lock.try_lock().is_some()).join().unwrap());
                {
                    let _guard = lock.lock();
                    assert!(lock.is_locked());
                    assert!(!lock_on_other_thread());
                }
                assert!(lock_on_other_thread(), "the scope did not release the lock");

                let err = panic::catch_unwind(AssertUnwindSafe(|| {
                    let _guard = lock.lock();
                    throw("TypeError");
                }))
                .unwrap_err();
                assert_eq!(panic_message(&*err), "TypeError");
                assert!(!lock.is_locked());
                assert!(lock_on_other_thread(), "the panic did not release the lock");
            }

            /// Many short-lived threads use the lock; it ends up free and every
            /// thread got it.
            #[test]
            fn test_thread_leak() {
                let lock = $Lock::new(());
                let count = AtomicUsize::new(0);
                thread::scope(|s| {
                    for _ in 0..15 {
                        s.spawn(|| {
                            let _guard = lock.lock();
                            count.fetch_add(1, SeqCst);
                        });
                    }
                });
                assert_eq!(count.load(SeqCst), 15);
                assert!(!lock.is_locked());
            }

            #[test]
            fn test_timeout() {
                let lock = $Lock::new(());
                // TIMEOUT_MAX is ok: Duration::MAX means "no timeout", not an overflow.
                drop(lock.try_lock_for(Duration::MAX).expect("a free lock"));
                // A free lock is taken at once, without waiting for the timeout.
                let (guard, elapsed) = timed(|| lock.try_lock_for(LONG));
                assert!(guard.is_some());
                assert_prompt(elapsed, LONG);

                let (for_result, until_result) = thread::scope(|s| {
                    s.spawn(|| {
                        (
                            timed(|| lock.try_lock_for(TIMEOUT).is_some()),
                            timed(|| lock.try_lock_until(Instant::now() + TIMEOUT).is_some()),
                        )
                    })
                    .join()
                    .unwrap()
                });
                for (acquired, elapsed) in [for_result, until_result] {
                    assert!(!acquired, "took a lock another thread holds");
                    assert_waited(elapsed, TIMEOUT);
                }
                drop(guard);
            }
        }
    };
}

cpython_base_lock_tests!(cpython_baselock_lock, Lock);
cpython_base_lock_tests!(cpython_baselock_rlock, RLock);

// ---------------------------------------------------------------------------
// CPython LockTests
// ---------------------------------------------------------------------------

/// CPython `LockTests` (non-recursive locks).
mod cpython_lock {
    use super::*;

    /// A `Lock` is not reentrant: its holder cannot take it again until it has
    /// released it. (CPython's version has a second thread release the lock the
    /// first one is blocked on; only the owner can release here.)
    #[test]
    fn test_reacquire() {
        let lock = Lock::new(());
        let guard = lock.lock();
        assert!(lock.try_lock().is_none());
        let short = Duration::from_millis(20);
        let (acquired, elapsed) = timed(|| lock.try_lock_for(short).is_some());
        assert!(!acquired, "a Lock let its holder in twice");
        assert_waited(elapsed, short);
        drop(guard);
        assert!(lock.try_lock().is_some());
    }

    /// Python lets any thread release a `Lock`. Here a guard is `!Send`, so only
    /// the thread that took the lock releases it; once it has, another thread gets it.
    #[test]
    fn test_different_thread() {
        assert_not_send!(LockGuard<'static, ()>);
        let lock = Arc::new(Lock::new(()));
        let (locked_tx, locked_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let holder = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || {
                let guard = lock.lock();
                locked_tx.send(()).unwrap();
                release_rx.recv_timeout(HANDSHAKE).unwrap();
                drop(guard);
            })
        };
        locked_rx.recv_timeout(HANDSHAKE).unwrap();
        assert!(lock.is_locked());
        assert!(lock.try_lock().is_none());
        release_tx.send(()).unwrap();
        holder.join().unwrap();
        assert!(lock.try_lock().is_some());
    }

    /// Issue #11618: the lock is in a proper state after a (non-zero) timeout.
    #[test]
    fn test_state_after_timeout() {
        let lock = Lock::new(());
        let guard = lock.lock();
        let short = Duration::from_millis(10);
        let (acquired, elapsed) = timed(|| lock.try_lock_for(short).is_some());
        assert!(!acquired);
        assert_waited(elapsed, short);
        drop(guard);
        assert!(!lock.is_locked());
        assert!(lock.try_lock().is_some());
    }
}

// ---------------------------------------------------------------------------
// CPython RLockTests
// ---------------------------------------------------------------------------

/// CPython `RLockTests` (recursive locks). `_recursion_count()` is `hold_count()`,
/// `_is_owned()` is `is_owned_by_current_thread()`, `locked()` is `is_locked()`.
mod cpython_rlock {
    use super::*;

    /// gh-134322: the counts are right, and other threads see the lock as held.
    /// `Debug` shows no count, so the count is checked through `hold_count`.
    #[test]
    fn test_repr_count() {
        let lock = RLock::new(4242);
        assert_eq!(lock.hold_count(), 0);
        assert!(!format!("{lock:?}").contains("<locked>"));
        let a = lock.lock();
        let b = lock.lock();
        assert_eq!(lock.hold_count(), 2);
        // The owner re-enters to show the data; that leaves the count unchanged.
        assert!(format!("{lock:?}").contains("4242"));
        assert_eq!(lock.hold_count(), 2);
        let (repr, count) = thread::scope(|s| {
            s.spawn(|| (format!("{lock:?}"), lock.hold_count()))
                .join()
                .unwrap()
        });
        assert!(repr.contains("<locked>"), "{repr}");
        assert_eq!(
            count, 0,
            "hold_count counts the current thread's holds only"
        );
        drop((b, a));
        assert!(!lock.is_locked());
    }

    /// Also the non-error half of `test_release_unacquired` (the same sequence).
    #[test]
    fn test_reacquire() {
        let lock = RLock::new(());
        let a = lock.lock();
        let b = lock.lock();
        assert_eq!(lock.hold_count(), 2);
        drop(b);
        assert_eq!(lock.hold_count(), 1);
        let c = lock.lock();
        assert_eq!(lock.hold_count(), 2);
        drop(c);
        assert!(lock.is_locked());
        drop(a);
        assert_eq!(lock.hold_count(), 0);
        assert!(!lock.is_locked());
        // Re-entry never waits, whatever the timeout.
        let a = lock.lock();
        assert!(lock.try_lock().is_some());
        assert!(lock.try_lock_for(Duration::ZERO).is_some());
        assert!(lock.try_lock_until(Instant::now()).is_some());
        drop(a);
    }

    #[test]
    fn test_locked() {
        let lock = RLock::new(());
        assert!(!lock.is_locked());
        let a = lock.lock();
        assert!(lock.is_locked());
        let b = lock.lock();
        assert!(lock.is_locked());
        drop(b);
        assert!(lock.is_locked());
        drop(a);
        assert!(!lock.is_locked());
    }

    /// gh-134323: an RLock held by another thread is locked for this one too.
    #[test]
    fn test_locked_with_2threads() {
        let lock = Arc::new(RLock::new(()));
        let (locked_tx, locked_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let holder = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || {
                let before = lock.is_locked();
                let guard = lock.lock();
                locked_tx.send((before, lock.is_locked())).unwrap();
                release_rx.recv_timeout(HANDSHAKE).unwrap();
                drop(guard);
            })
        };
        let (before, after) = locked_rx.recv_timeout(HANDSHAKE).unwrap();
        assert!(!before);
        assert!(after);
        assert!(lock.is_locked());
        assert!(!lock.is_owned_by_current_thread());
        assert_eq!(lock.hold_count(), 0);
        release_tx.send(()).unwrap();
        holder.join().unwrap();
        assert!(!lock.is_locked());
    }

    #[test]
    fn test_recursion_count() {
        let lock = Arc::new(RLock::new(()));
        assert_eq!(lock.hold_count(), 0);
        let a = lock.lock();
        assert_eq!(lock.hold_count(), 1);
        let b = lock.lock();
        let c = lock.lock();
        assert_eq!(lock.hold_count(), 3);
        drop(c);
        assert_eq!(lock.hold_count(), 2);
        drop((b, a));
        assert_eq!(lock.hold_count(), 0);

        // Another thread's holds do not count for this one.
        let (phase_tx, phase_rx) = mpsc::channel();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let holder = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || {
                let a = lock.lock();
                let b = lock.lock();
                phase_tx.send(lock.hold_count()).unwrap();
                go_rx.recv_timeout(HANDSHAKE).unwrap();
                drop((b, a));
                phase_tx.send(lock.hold_count()).unwrap();
            })
        };
        assert_eq!(phase_rx.recv_timeout(HANDSHAKE), Ok(2));
        assert_eq!(lock.hold_count(), 0);
        assert!(lock.is_locked());
        go_tx.send(()).unwrap();
        assert_eq!(phase_rx.recv_timeout(HANDSHAKE), Ok(0));
        holder.join().unwrap();
        assert_eq!(lock.hold_count(), 0);
        assert!(!lock.is_locked());
    }

    /// Python raises `RuntimeError` when a non-owner releases. A guard is `!Send`,
    /// so that cannot be written; what remains is that a non-owner cannot get in.
    #[test]
    fn test_different_thread() {
        assert_not_send!(RLockGuard<'static, ()>);
        let lock = RLock::new(());
        let guard = lock.lock();
        let (acquired, owned) = thread::scope(|s| {
            s.spawn(|| (lock.try_lock().is_some(), lock.is_owned_by_current_thread()))
                .join()
                .unwrap()
        });
        assert!(!acquired);
        assert!(!owned);
        drop(guard);
    }

    /// Ports `test__is_owned`.
    #[test]
    fn test_is_owned() {
        let lock = RLock::new(());
        assert!(!lock.is_owned_by_current_thread());
        let a = lock.lock();
        assert!(lock.is_owned_by_current_thread());
        let b = lock.lock();
        assert!(lock.is_owned_by_current_thread());
        let other = thread::scope(|s| {
            s.spawn(|| lock.is_owned_by_current_thread())
                .join()
                .unwrap()
        });
        assert!(!other);
        drop(b);
        assert!(lock.is_owned_by_current_thread());
        drop(a);
        assert!(!lock.is_owned_by_current_thread());
    }
}

// ---------------------------------------------------------------------------
// CPython ConditionTests
// ---------------------------------------------------------------------------

/// CPython `ConditionTests`. Python's `wait_for(predicate)` is `wait_while` with
/// the predicate negated.
mod cpython_condition {
    use super::*;

    /// CPython checks that acquiring the condition acquires its lock. Here the
    /// guard is the acquisition: while a thread holds it the lock is taken; while
    /// the thread waits the lock is free; when `wait` returns it is held again.
    #[test]
    fn test_acquire() {
        let lock = Lock::new(());
        let cond = Condition::new();
        let mut guard = lock.lock();
        assert!(lock.try_lock().is_none());
        let waker_found_waiter = thread::scope(|sc| {
            let waker = sc.spawn(|| {
                // Blocks until the main thread's wait has released the lock.
                let taken = lock.lock();
                let found = cond.notify_one();
                drop(taken);
                found
            });
            let result = cond.wait_for(&mut guard, HANDSHAKE);
            assert!(!result.timed_out(), "the waker never got the lock");
            // The lock is held again on return.
            assert!(lock.is_locked());
            waker.join().unwrap()
        });
        assert!(
            waker_found_waiter,
            "the waker took the lock before we waited"
        );
        let taken_elsewhere =
            thread::scope(|sc| sc.spawn(|| lock.try_lock().is_some()).join().unwrap());
        assert!(!taken_elsewhere);
        drop(guard);
        assert!(!lock.is_locked());
    }

    /// Python raises `RuntimeError` when notifying without the lock. Rust (as std
    /// and parking_lot) allows it: it wakes a waiter and returns the count.
    #[test]
    fn test_unacquired_notify() {
        let cond = Condition::new();
        assert!(!cond.notify_one());
        assert_eq!(cond.notify(3), 0);
        assert_eq!(cond.notify_all(), 0);

        let s = Shared::new(Waiters::default());
        let waiter = spawn_waiter(&s, 0, false, None);
        wait_entered(&s, 1);
        s.state.lock().notified += 1;
        // Not holding the lock here.
        assert!(!s.state.is_locked());
        assert_eq!(s.cond.notify_all(), 1);
        waiter.join().unwrap();
        let g = s.state.lock();
        assert_eq!(g.woken, [0]);
        assert_eq!(g.spurious, 0);
    }

    #[derive(Default)]
    struct Phases {
        phase: usize,
        ready: usize,
        results1: Vec<usize>,
        results2: Vec<usize>,
    }

    /// `_check_notify`: five workers wait twice; `notify(3)`, `notify(5)` and
    /// `notify_all` wake exactly the expected threads (no spurious wake-ups).
    fn check_notify(s: &Arc<Shared<Phases>>) {
        const N: usize = 5;
        *s.state.lock() = Phases::default();
        let workers: Vec<_> = (0..N)
            .map(|_| {
                let s = Arc::clone(s);
                thread::spawn(move || {
                    let mut g = s.state.lock();
                    g.ready += 1;
                    s.progress.notify_all();
                    s.cond.wait(&mut g);
                    let phase = g.phase;
                    g.results1.push(phase);
                    g.ready += 1;
                    s.progress.notify_all();
                    s.cond.wait(&mut g);
                    let phase = g.phase;
                    g.results2.push(phase);
                    s.progress.notify_all();
                })
            })
            .collect();

        let mut g = s.state.lock();
        wait_state(
            &s.progress,
            &mut g,
            "all workers in their first wait",
            |st| st.ready < N,
        );
        assert!(g.results1.is_empty());

        // Notify 3 threads at first. They need the lock to return, so they see
        // the phase set after the notify.
        assert_eq!(s.cond.notify(3), 3);
        g.phase = 1;
        wait_state(&s.progress, &mut g, "phase 1", |st| {
            st.results1.len() < 3 || st.ready < N + 3
        });
        assert_eq!(g.results1, [1; 3]);
        assert!(g.results2.is_empty());

        // Notify 5 threads: two in their first wait, three in their second.
        assert_eq!(s.cond.notify(5), 5);
        g.phase = 2;
        wait_state(&s.progress, &mut g, "phase 2", |st| {
            st.results1.len() + st.results2.len() < N + 3 || st.ready < 2 * N
        });
        assert_eq!(g.results1, [1, 1, 1, 2, 2]);
        assert_eq!(g.results2, [2, 2, 2]);

        // Notify all: only the two in their second wait are left.
        assert_eq!(s.cond.notify_all(), 2);
        g.phase = 3;
        wait_state(&s.progress, &mut g, "phase 3", |st| st.results2.len() < N);
        assert_eq!(g.results1, [1, 1, 1, 2, 2]);
        assert_eq!(g.results2, [2, 2, 2, 3, 3]);
        assert_eq!(s.cond.notify_all(), 0);
        drop(g);
        join_all(workers);
    }

    #[test]
    fn test_notify() {
        let s = Shared::new(Phases::default());
        check_notify(&s);
        // A second time, to check internal state is still ok.
        check_notify(&s);
    }

    /// `N` threads wait at once, each for `TIMEOUT`: every wait times out, not
    /// before its timeout, and the waits overlap (each releases the lock while
    /// it waits, so the others can start theirs).
    #[test]
    fn test_timeout() {
        const N: usize = 5;
        let lock = Lock::new(());
        let cond = Condition::new();
        // The waits start together, so that they all overlap even when a
        // thread is slow to start: one that started `TIMEOUT` after another
        // would find it gone.
        let start = Barrier::new(N);
        let results: Vec<_> = thread::scope(|s| {
            let threads: Vec<_> = (0..N)
                .map(|_| {
                    s.spawn(|| {
                        start.wait();
                        let mut g = lock.lock();
                        let began = Instant::now();
                        let result = cond.wait_for(&mut g, TIMEOUT);
                        let ended = Instant::now();
                        assert!(lock.is_locked(), "the lock is held again on return");
                        (result.timed_out(), began, ended)
                    })
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        });
        for &(timed_out, began, ended) in &results {
            // No spurious wake-ups: nobody notified, so every wait timed out.
            assert!(timed_out);
            assert_waited(ended - began, TIMEOUT);
        }
        // Every wait began before any ended: all N waited at the same time.
        let last_began = results.iter().map(|r| r.1).max().unwrap();
        let first_ended = results.iter().map(|r| r.2).min().unwrap();
        assert!(
            last_began < first_ended,
            "the waits did not overlap: a wait kept the lock while it waited"
        );
        assert_eq!(cond.notify_all(), 0, "timed-out waiters left the queue");
    }

    #[derive(Default)]
    struct Counter {
        state: usize,
        checks: usize,
        done: bool,
    }

    /// `wait_for(lambda: state == 4)`: the worker re-checks its predicate after
    /// every notify. The main thread notifies only once the worker waits, so each
    /// `notify_one` must find it, and the predicate runs exactly five times.
    #[test]
    fn test_waitfor() {
        let s = Shared::new(Counter::default());
        let worker = {
            let s = Arc::clone(&s);
            thread::spawn(move || {
                let mut g = s.state.lock();
                s.cond.wait_while(&mut g, |st| {
                    st.checks += 1;
                    s.progress.notify_all();
                    st.state != 4
                });
                assert_eq!(g.state, 4);
                g.checks
            })
        };
        for i in 0..4 {
            let mut g = s.state.lock();
            wait_state(&s.progress, &mut g, "the worker to wait", |st| {
                st.checks < i + 1
            });
            g.state += 1;
            assert!(s.cond.notify_one(), "the worker should be waiting");
        }
        assert_eq!(worker.join().unwrap(), 5);
    }

    /// `wait_for(lambda: state == 4, timeout=0.1)` with only three increments:
    /// times out, not before the timeout, with the predicate still true.
    #[test]
    fn test_waitfor_timeout() {
        let timeout = Duration::from_millis(100);
        let s = Shared::new(Counter::default());
        let worker = {
            let s = Arc::clone(&s);
            thread::spawn(move || {
                let mut g = s.state.lock();
                let (result, elapsed) = timed(|| {
                    s.cond.wait_while_for(
                        &mut g,
                        |st| {
                            st.checks += 1;
                            s.progress.notify_all();
                            st.state != 4
                        },
                        timeout,
                    )
                });
                g.done = true;
                s.progress.notify_all();
                (result.timed_out(), elapsed, g.state)
            })
        };
        // Only increment 3 times, so state == 4 is never reached. Each increment
        // waits for the worker to be waiting again (unless it already gave up).
        for i in 0..3 {
            let mut g = s.state.lock();
            wait_state(&s.progress, &mut g, "the worker to wait", |st| {
                st.checks < i + 1 && !st.done
            });
            g.state += 1;
            s.cond.notify_one();
        }
        let (timed_out, elapsed, state) = worker.join().unwrap();
        assert!(timed_out);
        assert_waited(elapsed, timeout);
        assert!(state <= 3);
    }
}

// ---------------------------------------------------------------------------
// SPEC: Lock and RLock
// ---------------------------------------------------------------------------

mod spec_lock {
    use super::*;

    #[test]
    fn lock_is_one_byte_const_and_thread_safe() {
        // With `lock-order` each lock carries its node id in the order graph.
        let expected = if cfg!(feature = "lock-order") { 16 } else { 1 };
        assert_eq!(std::mem::size_of::<Lock<()>>(), expected);
        static LOG: Lock<Vec<u8>> = Lock::new(Vec::new());
        static COND: Condition = Condition::new();
        LOG.lock().push(1);
        assert_eq!(*LOG.lock(), [1]);
        assert_eq!(COND.notify_all(), 0);
        assert_send_sync::<Lock<Vec<u8>>>();
        assert_send_sync::<RLock<RefCell<Vec<u8>>>>();
        assert_send_sync::<Condition>();
    }

    #[test]
    fn lock_get_mut_into_inner_and_unlocked() {
        let mut lock = Lock::new(1);
        *lock.get_mut() += 1;
        {
            let mut guard = lock.lock();
            let free = LockGuard::unlocked(&mut guard, || !lock.is_locked());
            assert!(
                free,
                "unlocked() must release the lock while its closure runs"
            );
            assert!(lock.is_locked());
            *guard += 1;
        }
        assert_eq!(lock.into_inner(), 3);
        let mut rlock = RLock::new(1);
        *rlock.get_mut() += 1;
        assert_eq!(rlock.into_inner(), 2);
    }

    /// A guard formats as the data it guards, flags included: `LockGuard` with
    /// the data's `Display` and `Debug`, `RLockGuard` with its `Debug` (as
    /// std's and parking_lot's guards).
    #[test]
    fn guards_format_as_their_data() {
        let lock = Lock::new(String::from("say \"hi\""));
        let guard = lock.lock();
        assert_eq!(format!("{guard}"), "say \"hi\"");
        assert_eq!(format!("{guard:?}"), r#""say \"hi\"""#);
        drop(guard);
        let lock = Lock::new(7.5);
        assert_eq!(format!("{:>6.2}", lock.lock()), "  7.50");
        assert_eq!(format!("{:?}", lock.lock()), "7.5");
        let rlock = RLock::new(vec!["a"]);
        let outer = rlock.lock();
        let inner = rlock.lock();
        assert_eq!(format!("{inner:?}"), r#"["a"]"#);
        assert_eq!(format!("{outer:#?}"), "[\n    \"a\",\n]");
    }

    /// `Duration::MAX` waits forever, without an overflow panic: a contended
    /// `try_lock_for(Duration::MAX)` returns the lock once it is released.
    #[test]
    fn duration_max_waits_until_released() {
        let lock = Arc::new(Lock::new(0));
        let rlock = Arc::new(RLock::new(()));
        let barrier = Arc::new(Barrier::new(2));
        let guard = lock.lock();
        let rguard = rlock.lock();
        let waiter = {
            let (lock, rlock, barrier) =
                (Arc::clone(&lock), Arc::clone(&rlock), Arc::clone(&barrier));
            thread::spawn(move || {
                barrier.wait();
                let mut guard = lock
                    .try_lock_for(Duration::MAX)
                    .expect("Duration::MAX never times out");
                *guard += 1;
                drop(guard);
                let rguard = rlock
                    .try_lock_for(Duration::MAX)
                    .expect("Duration::MAX never times out");
                drop(rguard);
            })
        };
        barrier.wait();
        // Blocked yet or not, `try_lock_for(Duration::MAX)` must return the lock
        // once it is released (and not panic on the overflowing deadline), so
        // the assertions hold either way; letting the waiter run only makes it
        // likelier that it really waits.
        let_others_run();
        drop(guard);
        drop(rguard);
        waiter.join().unwrap();
        assert_eq!(*lock.lock(), 1);
    }

    /// Eventual fairness: a thread that wants the lock gets it in bounded time
    /// while two others take it back to back.
    #[test]
    fn lock_no_starvation_under_contention() {
        struct StopOnDrop<'a>(&'a AtomicBool);
        impl Drop for StopOnDrop<'_> {
            fn drop(&mut self) {
                self.0.store(true, SeqCst);
            }
        }
        let lock = Lock::new(0u64);
        let stop = AtomicBool::new(false);
        let worst = thread::scope(|s| {
            let _stop = StopOnDrop(&stop);
            for _ in 0..2 {
                s.spawn(|| {
                    while !stop.load(SeqCst) {
                        *lock.lock() += 1;
                    }
                });
            }
            spin_until("the hammering threads to run", || *lock.lock() > 1000);
            let mut worst = Duration::ZERO;
            for _ in 0..100 {
                let (guard, elapsed) = timed(|| lock.lock());
                drop(guard);
                worst = worst.max(elapsed);
            }
            worst
        });
        assert!(worst < SLACK, "a lock() waited {worst:?} under contention");
    }

    /// Other threads wait until the owner has dropped every one of its guards.
    #[test]
    fn rlock_other_threads_wait_for_every_guard() {
        let lock = Arc::new(RLock::new(()));
        let (to_main, from_thread) = mpsc::channel();
        let (to_thread, from_main) = mpsc::channel::<()>();
        let outer = lock.lock();
        let inner = lock.lock();
        let other = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || {
                to_main.send(lock.try_lock().is_some()).unwrap();
                from_main.recv_timeout(HANDSHAKE).unwrap();
                to_main.send(lock.try_lock().is_some()).unwrap();
                from_main.recv_timeout(HANDSHAKE).unwrap();
                let guard = lock.lock();
                to_main
                    .send(lock.is_owned_by_current_thread() && lock.hold_count() == 1)
                    .unwrap();
                drop(guard);
            })
        };
        assert_eq!(from_thread.recv_timeout(HANDSHAKE), Ok(false));
        drop(inner);
        assert_eq!(lock.hold_count(), 1);
        to_thread.send(()).unwrap();
        assert_eq!(
            from_thread.recv_timeout(HANDSHAKE),
            Ok(false),
            "one guard is still alive"
        );
        drop(outer);
        to_thread.send(()).unwrap();
        assert_eq!(from_thread.recv_timeout(HANDSHAKE), Ok(true));
        other.join().unwrap();
        assert!(!lock.is_locked());
    }

    /// `hold_count` and `is_owned_by_current_thread` are per thread: 0/false on
    /// every thread but the owner, whatever the owner holds.
    #[test]
    fn rlock_hold_count_seen_from_other_threads() {
        let lock = RLock::new(());
        let guards: Vec<_> = (0..4).map(|_| lock.lock()).collect();
        assert_eq!(lock.hold_count(), 4);
        let seen: Vec<_> = thread::scope(|s| {
            let threads: Vec<_> = (0..3)
                .map(|_| {
                    s.spawn(|| {
                        (
                            lock.hold_count(),
                            lock.is_owned_by_current_thread(),
                            lock.is_locked(),
                        )
                    })
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        });
        assert_eq!(seen, [(0, false, true); 3]);
        assert_eq!(lock.hold_count(), 4);
        drop(guards);
        assert_eq!(lock.hold_count(), 0);
    }

    /// `RLock<RefCell<_>>` is shared across threads; a thread's nested holds keep
    /// the others out for the whole outer scope.
    #[test]
    fn rlock_refcell_shared_across_threads() {
        const THREADS: usize = 4;
        const ROUNDS: usize = scaled(200);
        let log = Arc::new(RLock::new(RefCell::new(Vec::new())));
        let threads: Vec<_> = (0..THREADS)
            .map(|t| {
                let log = Arc::clone(&log);
                thread::spawn(move || {
                    for round in 0..ROUNDS {
                        let outer = log.lock();
                        outer.borrow_mut().push((t, round, "outer"));
                        {
                            let inner = log.lock();
                            assert_eq!(log.hold_count(), 2);
                            inner.borrow_mut().push((t, round, "inner"));
                        }
                        assert_eq!(log.hold_count(), 1);
                    }
                })
            })
            .collect();
        join_all(threads);
        let log = Arc::into_inner(log).unwrap().into_inner().into_inner();
        assert_eq!(log.len(), THREADS * ROUNDS * 2);
        for pair in log.chunks(2) {
            let [(t1, r1, first), (t2, r2, second)] = pair else {
                unreachable!()
            };
            assert_eq!((t1, r1, *first), (t2, r2, "outer"));
            assert_eq!(*second, "inner", "another thread got in between: {pair:?}");
        }
    }
}

// ---------------------------------------------------------------------------
// SPEC: Condition
// ---------------------------------------------------------------------------

mod spec_condition {
    use super::*;

    /// Notifies `cond` for `n` wakeups with the lock held, checks how many it woke
    /// and waits until they have returned from `wait`.
    fn notify_and_collect(
        s: &Shared<Waiters>,
        g: &mut LockGuard<'_, Waiters>,
        cond: &Condition,
        n: usize,
        expect_woken: usize,
    ) {
        let before = g.woken.len();
        g.notified += expect_woken;
        assert_eq!(
            cond.notify(n),
            expect_woken,
            "notify({n}) woke the wrong count"
        );
        wait_state(&s.progress, g, "notified waiters to return", |st| {
            st.woken.len() < before + expect_woken
        });
        assert_eq!(g.spurious, 0, "a waiter returned without a notify");
    }

    /// `notify(n)` wakes exactly `min(n, waiters)` and says so.
    #[test]
    fn notify_n_wakes_exactly_min_n_waiters() {
        let s = Shared::new(Waiters::default());
        let waiters = spawn_waiters_in_order(&s, 5, |_| None);
        let mut g = s.state.lock();
        assert_eq!(s.cond.notify(0), 0);
        // Threads woken together re-take the lock in any order: compare sets.
        notify_and_collect(&s, &mut g, &s.cond, 2, 2);
        assert_eq!(sorted(&g.woken), [0, 1], "not the two longest waiting");
        notify_and_collect(&s, &mut g, &s.cond, 10, 3);
        assert_eq!(sorted(&g.woken[2..]), [2, 3, 4]);
        assert_eq!(s.cond.notify(10), 0);
        assert_eq!(s.cond.notify_all(), 0);
        assert!(!s.cond.notify_one());
        drop(g);
        join_all(waiters);
    }

    /// `notify_one` wakes the longest-waiting thread first.
    #[test]
    fn notify_one_wakes_longest_waiting_first() {
        const N: usize = 6;
        let s = Shared::new(Waiters::default());
        let waiters = spawn_waiters_in_order(&s, N, |_| None);
        let mut g = s.state.lock();
        for k in 0..N {
            notify_and_collect(&s, &mut g, &s.cond, 1, 1);
            assert_eq!(g.woken, (0..=k).collect::<Vec<_>>());
        }
        assert!(!s.cond.notify_one());
        drop(g);
        join_all(waiters);
    }

    /// A timed-out waiter leaves the queue and the others keep their order.
    #[test]
    fn timed_out_waiter_leaves_queue_in_order() {
        let short = Duration::from_millis(50);
        let s = Shared::new(Waiters::default());
        let waiters = spawn_waiters_in_order(&s, 3, |id| (id == 1).then_some(short));
        let mut g = s.state.lock();
        wait_state(&s.progress, &mut g, "waiter 1 to time out", |st| {
            st.timed_out.is_empty()
        });
        assert_eq!(g.timed_out, [1]);
        notify_and_collect(&s, &mut g, &s.cond, 1, 1);
        assert_eq!(g.woken, [0]);
        notify_and_collect(&s, &mut g, &s.cond, 1, 1);
        assert_eq!(g.woken, [0, 2]);
        assert_eq!(s.cond.notify_all(), 0);
        drop(g);
        join_all(waiters);
    }

    /// Stray `Thread::unpark` calls (the park token is public) are not wake-ups.
    #[test]
    fn no_spurious_wakeup_from_stray_unparks() {
        let s = Shared::new(Waiters::default());
        let waiters = spawn_waiters_in_order(&s, 1, |_| None);
        yield_a_while(|| waiters[0].thread().unpark());
        let mut g = s.state.lock();
        assert!(g.woken.is_empty(), "wait returned on an unpark");
        notify_and_collect(&s, &mut g, &s.cond, 1, 1);
        assert_eq!(g.woken, [0]);
        drop(g);
        join_all(waiters);
    }

    /// A timed wait does not return early on stray unparks either.
    #[test]
    fn timed_wait_not_early_despite_stray_unparks() {
        let s = Shared::new(Waiters::default());
        let waiters = spawn_waiters_in_order(&s, 1, |_| Some(TIMEOUT));
        let start = Instant::now();
        while !waiters[0].is_finished() {
            assert!(
                start.elapsed() < TIMEOUT + SLACK,
                "the timed wait overslept"
            );
            waiters[0].thread().unpark();
            thread::yield_now();
        }
        let g = s.state.lock();
        assert_eq!(g.timed_out, [0], "{g:?}");
        assert!(g.woken.is_empty());
        drop(g);
        join_all(waiters);
    }

    /// `Condition::default()` is a new Condition (usable in a `static` too, via
    /// `new`); `Debug` shows how many threads wait.
    #[test]
    fn default_and_debug() {
        let s = Arc::new(Shared {
            state: Lock::new(Waiters::default()),
            cond: Condition::default(),
            other: Condition::default(),
            progress: Condition::default(),
        });
        assert_debug_shows(&s.cond, &["Condition", "waiting: 0"]);
        assert_eq!(s.cond.notify_all(), 0);
        let waiters = spawn_waiters_in_order(&s, 2, |_| None);
        assert_debug_shows(&s.cond, &["waiting: 2"]);
        assert_debug_shows(&s.other, &["waiting: 0"]);
        let mut g = s.state.lock();
        notify_and_collect(&s, &mut g, &s.cond, 1, 1);
        assert_eq!(g.woken, [0]);
        assert_debug_shows(&s.cond, &["waiting: 1"]);
        notify_and_collect(&s, &mut g, &s.cond, 1, 1);
        assert_eq!(g.woken, [0, 1]);
        assert_debug_shows(&s.cond, &["waiting: 0"]);
        drop(g);
        join_all(waiters);
    }

    /// Several Conditions share one Lock; notifying one never wakes the other's
    /// waiters.
    #[test]
    fn several_conditions_share_one_lock() {
        let s = Shared::new(Waiters::default());
        let on_cond = spawn_waiter(&s, 0, false, None);
        wait_entered(&s, 1);
        let on_other = spawn_waiter(&s, 1, true, None);
        wait_entered(&s, 2);
        let mut g = s.state.lock();
        notify_and_collect(&s, &mut g, &s.other, usize::MAX, 1);
        assert_eq!(g.woken, [1]);
        assert_eq!(s.other.notify_all(), 0);
        notify_and_collect(&s, &mut g, &s.cond, usize::MAX, 1);
        assert_eq!(g.woken, [1, 0]);
        drop(g);
        join_all(vec![on_cond, on_other]);
    }

    /// Waiting on a Condition with a second Lock while threads wait with another
    /// panics with a message naming the rule; nothing is left locked or queued.
    /// Once nobody waits, the Condition may be used with another Lock.
    #[test]
    fn waiting_with_a_second_lock_panics() {
        const RULE: &str = "all waiters of a Condition must use the same Lock";
        let s = Shared::new(Waiters::default());
        let waiter = spawn_waiter(&s, 0, false, None);
        wait_entered(&s, 1);

        let second = Lock::new(0);
        type Attempt<'a> = &'a dyn Fn(&mut LockGuard<'_, i32>);
        let attempts: [Attempt<'_>; 3] = [
            &|g| {
                let _ = s.cond.wait_for(g, TIMEOUT);
            },
            &|g| {
                let _ = s.cond.wait_until(g, Instant::now() + TIMEOUT);
            },
            &|g| {
                let _ = s.cond.wait_while_for(g, |_| true, TIMEOUT);
            },
        ];
        for attempt in attempts {
            let err = panic::catch_unwind(AssertUnwindSafe(|| {
                let mut g = second.lock();
                attempt(&mut g);
            }))
            .expect_err("waiting with a second Lock must panic");
            let msg = panic_message(&*err);
            assert!(msg.contains(RULE), "unclear panic message: {msg}");
            assert!(!second.is_locked(), "the panic left the second Lock locked");
        }

        // The first waiter is still queued, alone.
        let mut g = s.state.lock();
        notify_and_collect(&s, &mut g, &s.cond, usize::MAX, 1);
        assert_eq!(g.woken, [0]);
        drop(g);
        waiter.join().unwrap();

        // Nobody waits now: another Lock is fine.
        let mut g = second.lock();
        assert!(
            s.cond
                .wait_for(&mut g, Duration::from_millis(1))
                .timed_out()
        );
    }

    /// `Duration::MAX` means "no timeout": the wait returns when notified, not
    /// timed out, and never panics on overflow.
    #[test]
    fn duration_max_waits_until_notified() {
        let s = Shared::new(Waiters::default());
        let waiters = spawn_waiters_in_order(&s, 1, |_| Some(Duration::MAX));
        let mut g = s.state.lock();
        notify_and_collect(&s, &mut g, &s.cond, 1, 1);
        assert_eq!(g.woken, [0]);
        assert!(g.timed_out.is_empty());
        drop(g);
        join_all(waiters);

        let s = Shared::new(false);
        let worker = {
            let s = Arc::clone(&s);
            thread::spawn(move || {
                let mut ready = s.state.lock();
                let result = s
                    .cond
                    .wait_while_for(&mut ready, |ready| !*ready, Duration::MAX);
                (result.timed_out(), *ready)
            })
        };
        *s.state.lock() = true;
        s.cond.notify_all();
        assert_eq!(worker.join().unwrap(), (false, true));
    }

    /// A zero timeout (or a past deadline) tries once: it releases and re-takes
    /// the lock without blocking and reports a timeout.
    #[test]
    fn zero_timeout_tries_once() {
        let lock = Lock::new(0);
        let cond = Condition::new();
        let mut g = lock.lock();
        // A notify that comes only after `LONG` is not waited for.
        let notify = || {
            cond.notify_all();
        };
        let result = try_once(notify, || cond.wait_for(&mut g, Duration::ZERO));
        assert!(result.timed_out());
        assert!(lock.is_locked());
        *g += 1;
        let result = try_once(notify, || cond.wait_until(&mut g, Instant::now()));
        assert!(result.timed_out());
        let mut checks = 0;
        let result = try_once(notify, || {
            cond.wait_while_for(
                &mut g,
                |_| {
                    checks += 1;
                    true
                },
                Duration::ZERO,
            )
        });
        assert!(result.timed_out());
        assert_eq!(
            checks, 2,
            "checked before waiting and once after the timeout"
        );
        assert_eq!(cond.notify_all(), 0, "zero-timeout waiters left the queue");
        assert_eq!(*g, 1);
    }

    /// `wait_while*` reports a timeout only if the predicate still holds: a false
    /// predicate returns at once, not timed out.
    #[test]
    fn wait_while_false_predicate_returns_at_once() {
        let lock = Lock::new(5);
        let cond = Condition::new();
        let mut g = lock.lock();
        let mut checks = 0;
        let (result, elapsed) = timed(|| {
            cond.wait_while_for(
                &mut g,
                |n| {
                    checks += 1;
                    *n < 5
                },
                LONG,
            )
        });
        assert!(!result.timed_out());
        assert_eq!(checks, 1);
        assert_prompt(elapsed, LONG);
        cond.wait_while(&mut g, |n| *n < 5);
        let result = cond.wait_while_until(&mut g, |n| *n < 5, Instant::now());
        assert!(!result.timed_out());
    }

    /// The deadline passes while the predicate has just turned false (set without
    /// a notify): the final re-check sees it, so the result is "not timed out".
    ///
    /// The main thread holds the lock across the deadline, so the waiter can
    /// re-check only after the change. That needs the main thread to get the lock
    /// before the deadline; on a badly overloaded machine it may not, and the
    /// attempt is repeated.
    #[test]
    fn wait_while_timeout_with_predicate_turned_false_is_not_timed_out() {
        let window = Duration::from_millis(300);
        for _attempt in 0..10 {
            let s = Shared::new(Counter::default());
            let deadline = Instant::now() + window;
            let worker = {
                let s = Arc::clone(&s);
                thread::spawn(move || {
                    let mut g = s.state.lock();
                    let result = s.cond.wait_while_until(
                        &mut g,
                        |st| {
                            st.checks += 1;
                            s.progress.notify_all();
                            !st.done
                        },
                        deadline,
                    );
                    (result.timed_out(), g.checks, Instant::now())
                })
            };
            let mut g = s.state.lock();
            wait_state(&s.progress, &mut g, "the worker to wait", |st| {
                st.checks == 0
            });
            if Instant::now() >= deadline {
                // Too late to test the race: the worker times out as usual.
                drop(g);
                let (timed_out, checks, _) = worker.join().unwrap();
                assert!(timed_out);
                assert_eq!(checks, 2);
                continue;
            }
            g.done = true; // no notify
            // Deliberately let time pass: hold the lock until past the deadline.
            thread::sleep(deadline - Instant::now() + Duration::from_millis(20));
            drop(g);
            let (timed_out, checks, returned) = worker.join().unwrap();
            assert!(
                !timed_out,
                "predicate false at the re-check, yet timed_out()"
            );
            assert_eq!(checks, 2);
            assert!(returned >= deadline);
            return;
        }
        panic!("the main thread never got the lock within {window:?} in 10 attempts");
    }

    #[derive(Default)]
    struct Counter {
        checks: usize,
        done: bool,
    }

    /// Many waiters share one deadline and the main thread calls `notify_all` right
    /// at it, while they contend to dequeue themselves: each waiter a notify
    /// counted must return "notified", the others "timed out".
    #[test]
    fn notify_at_the_deadline_counts_each_wakeup_once() {
        const WAITERS: usize = scaled(24);
        const ROUNDS: usize = 4;
        let (mut notified, mut woken) = (0, 0);
        for _ in 0..ROUNDS {
            let s = Shared::new(Waiters::default());
            let returned = AtomicUsize::new(0);
            let deadline = Instant::now() + Duration::from_millis(30);
            let results: Vec<(bool, Instant)> = thread::scope(|sc| {
                let waiters: Vec<_> = (0..WAITERS)
                    .map(|_| {
                        sc.spawn(|| {
                            let mut g = s.state.lock();
                            g.entered += 1;
                            s.progress.notify_all();
                            let result = s.cond.wait_until(&mut g, deadline);
                            let now = Instant::now();
                            drop(g);
                            returned.fetch_add(1, SeqCst);
                            (result.timed_out(), now)
                        })
                    })
                    .collect();
                wait_entered(&s, WAITERS);
                // Deliberately let time pass: notify right at the deadline.
                thread::sleep(deadline.saturating_duration_since(Instant::now()));
                while returned.load(SeqCst) < WAITERS {
                    notified += s.cond.notify_all();
                    thread::yield_now();
                }
                waiters.into_iter().map(|w| w.join().unwrap()).collect()
            });
            woken += results.iter().filter(|(t, _)| !t).count();
            // A timeout is reported only once the deadline has passed.
            for &(timed_out, returned_at) in &results {
                assert!(
                    !timed_out || returned_at >= deadline,
                    "a wait reported a timeout {:?} before its deadline",
                    deadline - returned_at
                );
            }
            assert_eq!(
                s.cond.queued_waiters(),
                0,
                "a returned waiter stayed queued"
            );
        }
        assert_eq!(notified, woken, "notify counts and wake-ups disagree");
    }

    /// Timeouts racing notifies: every wake-up `notify` counts is a waiter that
    /// returns "notified", and vice versa (none lost, none counted twice).
    #[test]
    fn notify_counts_match_wakeups_under_timeout_races() {
        const WAITERS: usize = 4;
        const ROUNDS: usize = scaled(400);
        let lock = Lock::new(0usize);
        let cond = Condition::new();
        let waiters_done = AtomicBool::new(false);
        let (notified, woken) = thread::scope(|s| {
            let notifier = s.spawn(|| {
                let mut total = 0;
                let mut round = 0usize;
                while !waiters_done.load(SeqCst) {
                    round += 1;
                    total += if round.is_multiple_of(7) {
                        cond.notify_all()
                    } else {
                        cond.notify(1 + round % 2)
                    };
                    thread::yield_now();
                }
                total
            });
            let waiters: Vec<_> = (0..WAITERS)
                .map(|w| {
                    let (lock, cond) = (&lock, &cond);
                    s.spawn(move || {
                        for round in 0..ROUNDS {
                            let timeout =
                                Duration::from_micros(((w * 31 + round * 17) % 5 * 40) as u64);
                            let mut g = lock.lock();
                            if !cond.wait_for(&mut g, timeout).timed_out() {
                                *g += 1;
                            }
                        }
                    })
                })
                .collect();
            for waiter in waiters {
                waiter.join().unwrap();
            }
            waiters_done.store(true, SeqCst);
            (notifier.join().unwrap(), *lock.lock())
        });
        assert_eq!(notified, woken, "notify counts and wake-ups disagree");
        assert_eq!(cond.notify_all(), 0);
    }
}

// ---------------------------------------------------------------------------
// Panic safety (no poisoning)
// ---------------------------------------------------------------------------

mod panic_safety {
    use super::*;

    #[test]
    fn lock_guard_released_during_unwinding() {
        let lock = Arc::new(Lock::new(0));
        let panicker = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || {
                let mut g = lock.lock();
                *g += 1;
                throw("boom");
            })
        };
        let err = panicker.join().unwrap_err();
        assert_eq!(panic_message(&*err), "boom");
        assert!(!lock.is_locked());
        // No poisoning: the next lock succeeds and sees the update made before the panic.
        let g = lock.try_lock().expect("no poisoning");
        assert_eq!(*g, 1);
    }

    /// `LockGuard::unlocked` re-takes the lock if its closure panics, and the
    /// guard then releases it during unwinding.
    #[test]
    fn lock_guard_unlocked_closure_panics() {
        let lock = Lock::new(0);
        let mut was_free = false;
        let err = panic::catch_unwind(AssertUnwindSafe(|| {
            let mut g = lock.lock();
            LockGuard::unlocked(&mut g, || {
                was_free = !lock.is_locked();
                throw("inside unlocked");
            });
        }))
        .unwrap_err();
        assert_eq!(panic_message(&*err), "inside unlocked");
        assert!(was_free);
        assert!(!lock.is_locked());
        assert!(lock.try_lock().is_some());
    }

    #[test]
    fn rlock_every_hold_released_during_unwinding() {
        let lock = RLock::new(RefCell::new(0));
        let err = panic::catch_unwind(AssertUnwindSafe(|| {
            let _a = lock.lock();
            let _b = lock.lock();
            let c = lock.lock();
            *c.borrow_mut() += 1;
            assert_eq!(lock.hold_count(), 3);
            throw("boom");
        }))
        .unwrap_err();
        assert_eq!(panic_message(&*err), "boom");
        assert_eq!(lock.hold_count(), 0);
        assert!(!lock.is_owned_by_current_thread());
        assert!(!lock.is_locked());
        let other = thread::scope(|s| {
            s.spawn(|| lock.try_lock().map(|g| *g.borrow()))
                .join()
                .unwrap()
        });
        assert_eq!(other, Some(1));

        // The same when the panicking thread is another one.
        let lock = Arc::new(lock);
        let panicker = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || {
                let _a = lock.lock();
                let _b = lock.lock();
                throw("boom");
            })
        };
        assert!(panicker.join().is_err());
        assert!(!lock.is_locked());
        let g = lock.try_lock().expect("no poisoning");
        assert_eq!(lock.hold_count(), 1);
        drop(g);
    }

    /// A panic after `wait` returns: the re-locked guard is released during
    /// unwinding, and the Condition holds no stale waiter.
    #[test]
    fn condition_relocked_guard_released_during_unwinding() {
        let s = Shared::new(Waiters::default());
        let waiter = {
            let s = Arc::clone(&s);
            thread::spawn(move || {
                let mut g = s.state.lock();
                g.entered += 1;
                s.progress.notify_all();
                s.cond.wait(&mut g);
                g.woken.push(0);
                throw("after wait");
            })
        };
        wait_entered(&s, 1);
        let mut g = s.state.lock();
        g.notified += 1;
        assert!(s.cond.notify_one());
        drop(g);
        let err = waiter.join().unwrap_err();
        assert_eq!(panic_message(&*err), "after wait");
        assert!(!s.state.is_locked());
        let g = s.state.try_lock().expect("no poisoning");
        assert_eq!(g.woken, [0]);
        assert_eq!(s.cond.notify_all(), 0);
    }

    /// A `wait_while` predicate that panics after a wake-up: the lock is released
    /// and the Condition holds no stale waiter.
    #[test]
    fn condition_predicate_panic_releases_lock() {
        let s = Shared::new(0usize);
        let waiter = {
            let s = Arc::clone(&s);
            thread::spawn(move || {
                let mut g = s.state.lock();
                s.cond.wait_while(&mut g, |checks| {
                    *checks += 1;
                    s.progress.notify_all();
                    if *checks == 2 {
                        throw("predicate");
                    }
                    true
                });
            })
        };
        let mut g = s.state.lock();
        wait_state(&s.progress, &mut g, "the waiter to wait", |checks| {
            *checks == 0
        });
        assert!(s.cond.notify_one());
        drop(g);
        let err = waiter.join().unwrap_err();
        assert_eq!(panic_message(&*err), "predicate");
        assert!(!s.state.is_locked());
        assert_eq!(*s.state.try_lock().expect("no poisoning"), 2);
        assert_eq!(s.cond.notify_all(), 0);
    }
}

// ---------------------------------------------------------------------------
// Stress
// ---------------------------------------------------------------------------

mod stress {
    use super::*;

    /// N threads × M increments: no lost update, no two threads inside at once.
    #[test]
    fn lock_counter() {
        const THREADS: usize = 4;
        const ITERS: usize = scaled(10_000);
        let lock = Lock::new((0usize, 0usize));
        thread::scope(|s| {
            for t in 0..THREADS {
                let lock = &lock;
                s.spawn(move || {
                    for i in 0..ITERS {
                        let mut g = if (t + i).is_multiple_of(3) {
                            lock.try_lock_for(Duration::MAX).expect("Duration::MAX")
                        } else {
                            lock.lock()
                        };
                        let (a, b) = *g;
                        assert_eq!(a, b, "two threads inside the lock");
                        g.0 = a + 1;
                        std::hint::black_box(&mut *g);
                        g.1 = b + 1;
                    }
                });
            }
        });
        assert_eq!(lock.into_inner(), (THREADS * ITERS, THREADS * ITERS));
    }

    /// The same with an RLock taken twice per increment.
    #[test]
    fn rlock_reentrant_counter() {
        const THREADS: usize = 4;
        const ITERS: usize = scaled(5_000);
        let lock = RLock::new(RefCell::new(0usize));
        thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| {
                    for i in 0..ITERS {
                        let outer = lock.lock();
                        let before = *outer.borrow();
                        let inner = lock.try_lock().expect("re-entry never fails");
                        *inner.borrow_mut() += 1;
                        if i.is_multiple_of(1000) {
                            assert_eq!(lock.hold_count(), 2);
                        }
                        drop(inner);
                        assert_eq!(*outer.borrow(), before + 1, "another thread got in");
                    }
                });
            }
        });
        assert_eq!(lock.into_inner().into_inner(), THREADS * ITERS);
    }

    struct Buffer {
        items: VecDeque<(usize, usize)>,
        producers_done: usize,
    }

    /// A bounded buffer with `not_empty`/`not_full` Conditions on one Lock: every
    /// item is consumed exactly once, in order per producer.
    #[test]
    fn condition_producer_consumer() {
        const PRODUCERS: usize = 2;
        const CONSUMERS: usize = 2;
        const ITEMS: usize = scaled(3_000);
        const CAPACITY: usize = 4;
        let buffer = Lock::new(Buffer {
            items: VecDeque::new(),
            producers_done: 0,
        });
        let not_empty = Condition::new();
        let not_full = Condition::new();
        let seen: Vec<Vec<(usize, usize)>> = thread::scope(|s| {
            for p in 0..PRODUCERS {
                let (buffer, not_empty, not_full) = (&buffer, &not_empty, &not_full);
                s.spawn(move || {
                    for i in 0..ITEMS {
                        let mut g = buffer.lock();
                        let r = not_full.wait_while_for(
                            &mut g,
                            |b| b.items.len() == CAPACITY,
                            HANDSHAKE,
                        );
                        assert!(!r.timed_out(), "producer {p} lost a wake-up");
                        g.items.push_back((p, i));
                        not_empty.notify_one();
                    }
                    buffer.lock().producers_done += 1;
                    not_empty.notify_all();
                });
            }
            let consumers: Vec<_> = (0..CONSUMERS)
                .map(|c| {
                    let (buffer, not_empty, not_full) = (&buffer, &not_empty, &not_full);
                    s.spawn(move || {
                        let mut seen = Vec::new();
                        loop {
                            let mut g = buffer.lock();
                            let r = not_empty.wait_while_for(
                                &mut g,
                                |b| b.items.is_empty() && b.producers_done < PRODUCERS,
                                HANDSHAKE,
                            );
                            assert!(!r.timed_out(), "consumer {c} lost a wake-up");
                            let Some(item) = g.items.pop_front() else {
                                break;
                            };
                            not_full.notify_one();
                            drop(g);
                            seen.push(item);
                        }
                        seen
                    })
                })
                .collect();
            consumers.into_iter().map(|c| c.join().unwrap()).collect()
        });
        for consumer in &seen {
            for p in 0..PRODUCERS {
                let from_p: Vec<_> = consumer
                    .iter()
                    .filter(|(q, _)| *q == p)
                    .map(|(_, i)| *i)
                    .collect();
                assert!(from_p.is_sorted(), "items of producer {p} out of order");
            }
        }
        let mut all: Vec<_> = seen.into_iter().flatten().collect();
        all.sort_unstable();
        let expected: Vec<_> = (0..PRODUCERS)
            .flat_map(|p| (0..ITEMS).map(move |i| (p, i)))
            .collect();
        assert_eq!(all, expected, "an item was lost or seen twice");
        assert_eq!(not_empty.notify_all(), 0);
        assert_eq!(not_full.notify_all(), 0);
    }
}

/// The waiting primitives stay a few words wide: their wait queues live on
/// the heap from the first wait on (without the debugging features, which
/// add a node to every lock).
#[test]
#[cfg(not(any(feature = "lock-order", feature = "deadlock-detection")))]
fn waiting_primitives_are_small() {
    use std::mem::size_of;
    assert!(size_of::<Condition>() <= 32, "{}", size_of::<Condition>());
    assert!(size_of::<threadkit::Event>() <= 32);
    assert!(size_of::<threadkit::Semaphore>() <= 40);
    assert!(size_of::<threadkit::BoundedSemaphore>() <= 40);
    assert!(size_of::<threadkit::Barrier>() <= 64);
}
