//! Integration tests for `lock_all`, `lock_all_for` and `lock_all_until`.
//!
//! - `shapes`: tuples of 2 to 6 locks of mixed types and arrays of 0 to 8 locks
//!   return their guards in argument order, hold every lock while the guards
//!   live and release each when its guard drops.
//! - `timed`: the timed forms give up holding nothing (every lock of the set
//!   is checked while another thread holds one of them), wait for their
//!   timeout and not longer, try once with a zero timeout or a past deadline,
//!   and wait forever with `Duration::MAX`.
//! - `duplicates`: the same lock twice panics before taking anything, with a
//!   message that names the rule, in every form.
//! - `deadlock`: the seeds' deadlock scenario (one thread `lock_all((&a, &b))`,
//!   another `b.lock()` then `a.lock()`), `lock_all` against an opposite-order
//!   `lock_all`, three locks in three orders, and zero-timeout `lock_all_for`
//!   against opposite plain locks: no deadlock, exact counters.
//!
//! # Timing rules
//!
//! No sleep orders threads: channels do. Timed calls are checked with
//! `assert_waited` (never before the timeout, within `timeout + SLACK`); a zero
//! timeout or a past deadline runs under `try_once`, which ends a wrongly
//! blocking call after `LONG` so it fails instead of hanging. Tests where a
//! deadlock is the bug run inside `bounded`, so a deadlock fails the test after
//! `HANDSHAKE` instead of hanging the run (the deadlocked threads are left behind).

mod common;

use common::*;
use std::sync::mpsc::{self, Sender};
use std::thread::{self, Scope};
use std::time::{Duration, Instant};
use threadkit::{Lock, LockGuard, lock_all, lock_all_for, lock_all_until};

/// Makes another thread of `s` take `lock` and hold it until the returned
/// sender sends or is dropped. Returns once the lock is held.
fn hold_elsewhere<'s, T: Send>(s: &'s Scope<'s, '_>, lock: &'s Lock<T>) -> Sender<()> {
    let (held_tx, held_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    s.spawn(move || {
        let _guard = lock.lock();
        held_tx.send(()).unwrap();
        let _ = release_rx.recv(); // a message, or the test dropped the sender
    });
    recv(&held_rx);
    release_tx
}

/// Whether each lock is held right now.
fn locked<const N: usize>(locks: [&dyn Fn() -> bool; N]) -> [bool; N] {
    locks.map(|is_locked| is_locked())
}

mod shapes {
    use super::*;

    #[test]
    fn tuples_of_two_to_six_mixed_types_in_argument_order() {
        let a = Lock::new(1u8);
        let b = Lock::new(String::from("b"));
        let c = Lock::new(vec![3i32]);
        let d = Lock::new('d');
        let e = Lock::new(true);
        let f = Lock::new(6.5f64);
        let all = || {
            locked([
                &|| a.is_locked(),
                &|| b.is_locked(),
                &|| c.is_locked(),
                &|| d.is_locked(),
                &|| e.is_locked(),
                &|| f.is_locked(),
            ])
        };

        let (ga, gb): (LockGuard<'_, u8>, LockGuard<'_, String>) = lock_all((&a, &b));
        assert_eq!((*ga, gb.as_str()), (1, "b"));
        assert_eq!(all(), [true, true, false, false, false, false]);
        drop((ga, gb));

        let (gc, ga, gb) = lock_all((&c, &a, &b));
        assert_eq!((gc.as_slice(), *ga, gb.as_str()), (&[3][..], 1, "b"));
        assert_eq!(all(), [true, true, true, false, false, false]);
        drop((gc, ga, gb));

        let (gd, gc, gb, ga) = lock_all((&d, &c, &b, &a));
        assert_eq!((*gd, gc[0], gb.as_str(), *ga), ('d', 3, "b", 1));
        assert_eq!(all(), [true, true, true, true, false, false]);
        drop((gd, gc, gb, ga));

        let (mut ge, mut ga, gf, gb, gd) = lock_all((&e, &a, &f, &b, &d));
        assert_eq!((*ge, *ga, *gf, gb.as_str(), *gd), (true, 1, 6.5, "b", 'd'));
        assert_eq!(all(), [true, true, false, true, true, true]);
        *ge = false;
        *ga += 1;
        drop(ga); // each guard releases its own lock
        assert_eq!(all(), [false, true, false, true, true, true]);
        drop((ge, gf, gb, gd));

        let (mut gf, mut ge, mut gd, mut gc, mut gb, mut ga) = lock_all((&f, &e, &d, &c, &b, &a));
        assert_eq!(all(), [true; 6]);
        assert_eq!((*ge, *ga), (false, 2), "the writes above were kept");
        *gf *= 2.0;
        *ge = true;
        *gd = 'D';
        gc.push(4);
        gb.push('!');
        *ga += 1;
        drop((gf, ge, gd, gc, gb, ga));
        assert_eq!(all(), [false; 6]);

        assert_eq!(f.into_inner(), 13.0);
        assert!(e.into_inner());
        assert_eq!(d.into_inner(), 'D');
        assert_eq!(c.into_inner(), [3, 4]);
        assert_eq!(b.into_inner(), "b!");
        assert_eq!(a.into_inner(), 3);
    }

    #[test]
    fn arrays_in_argument_order() {
        let none: [&Lock<u8>; 0] = [];
        let guards: [LockGuard<'_, u8>; 0] = lock_all(none);
        assert!(guards.is_empty());
        assert!(lock_all_for(none, Duration::ZERO).is_some());

        let locks: Vec<Lock<usize>> = (0..8).map(Lock::new).collect();
        let [only] = lock_all([&locks[5]]);
        assert_eq!(*only, 5);
        assert!(locks[5].is_locked());
        drop(only);

        let three = lock_all([&locks[7], &locks[0], &locks[3]]);
        assert_eq!(three.each_ref().map(|g| **g), [7, 0, 3]);
        let held: Vec<usize> = (0..8).filter(|&i| locks[i].is_locked()).collect();
        assert_eq!(held, [0, 3, 7]);
        drop(three);

        let mut all: [LockGuard<'_, usize>; 8] = lock_all(core::array::from_fn(|i| &locks[7 - i]));
        assert_eq!(all.each_ref().map(|g| **g), [7, 6, 5, 4, 3, 2, 1, 0]);
        assert!(locks.iter().all(Lock::is_locked));
        for guard in &mut all {
            **guard *= 10;
        }
        drop(all);
        assert!(!locks.iter().any(Lock::is_locked));
        let values: Vec<usize> = locks.into_iter().map(Lock::into_inner).collect();
        assert_eq!(values, [0, 10, 20, 30, 40, 50, 60, 70]);
    }

    /// Unsized values (slices of different lengths, a trait object) mix with
    /// sized ones.
    #[test]
    fn unsized_values() {
        let bytes: &Lock<[u8]> = &Lock::new([1, 2, 3]);
        let shorter: &Lock<[u8]> = &Lock::new([4, 5]);
        let shown: &Lock<dyn std::fmt::Debug + Send> = &Lock::new(7);
        let number = Lock::new(0);
        let (mut b, d, n) = lock_all((bytes, shown, &number));
        b[0] = 9;
        assert_eq!(
            (&b[..], format!("{:?}", &*d), *n),
            (&[9, 2, 3][..], "7".into(), 0)
        );
        drop((b, d, n));
        let [first, second] = lock_all([shorter, bytes]);
        assert_eq!((&first[..], &second[..]), (&[4, 5][..], &[9, 2, 3][..]));
    }

    #[test]
    fn guards_release_on_panic() {
        let a = Lock::new(0);
        let b = Lock::new(0);
        let message = panic_of("the critical section", || {
            let (mut ga, _gb) = lock_all((&a, &b));
            *ga = 1;
            throw("inside lock_all's guards");
        });
        assert_eq!(message, "inside lock_all's guards");
        assert!(!a.is_locked() && !b.is_locked());
        assert_eq!(*lock_all([&a, &b])[0], 1, "no poisoning: the write stays");
    }
}

mod timed {
    use super::*;

    const TIMEOUT: Duration = Duration::from_millis(30);

    /// For each lock of a mixed tuple of three, held by another thread:
    /// `lock_all_for` and `lock_all_until` wait for their timeout, return `None`,
    /// and hold none of the others afterwards.
    #[test]
    fn tuple_gives_up_holding_nothing() {
        let a = Lock::new(0u8);
        let b = Lock::new(String::new());
        let c = Lock::new(vec![0u64]);
        let states = || locked([&|| a.is_locked(), &|| b.is_locked(), &|| c.is_locked()]);
        for busy in 0..3 {
            thread::scope(|s| {
                let release = match busy {
                    0 => hold_elsewhere(s, &a),
                    1 => hold_elsewhere(s, &b),
                    _ => hold_elsewhere(s, &c),
                };
                let mut expected = [false; 3];
                expected[busy] = true;

                let (result, elapsed) = timed(|| lock_all_for((&a, &b, &c), TIMEOUT));
                assert!(result.is_none(), "lock {busy} is held elsewhere");
                assert_waited(elapsed, TIMEOUT);
                assert_eq!(states(), expected, "lock_all_for left a lock held");

                let (result, elapsed) =
                    timed(|| lock_all_until((&c, &b, &a), Instant::now() + TIMEOUT));
                assert!(result.is_none(), "lock {busy} is held elsewhere");
                assert_waited(elapsed, TIMEOUT);
                assert_eq!(states(), expected, "lock_all_until left a lock held");

                release.send(()).unwrap();
            });
            assert_eq!(states(), [false; 3]);
            let guards = lock_all_for((&a, &b, &c), LONG).expect("all free now");
            drop(guards);
        }
    }

    /// The same with an array of four, each position busy in turn.
    #[test]
    fn array_gives_up_holding_nothing() {
        let locks: [Lock<usize>; 4] = core::array::from_fn(Lock::new);
        let states = || locks.each_ref().map(Lock::is_locked);
        for busy in 0..4 {
            thread::scope(|s| {
                let release = hold_elsewhere(s, &locks[busy]);
                let mut expected = [false; 4];
                expected[busy] = true;

                let (result, elapsed) = timed(|| lock_all_for(locks.each_ref(), TIMEOUT));
                assert!(result.is_none(), "lock {busy} is held elsewhere");
                assert_waited(elapsed, TIMEOUT);
                assert_eq!(states(), expected, "lock_all_for left a lock held");

                let reversed: [&Lock<usize>; 4] = core::array::from_fn(|i| &locks[3 - i]);
                let deadline = Instant::now() + TIMEOUT;
                let (result, elapsed) = timed(|| lock_all_until(reversed, deadline));
                assert!(result.is_none(), "lock {busy} is held elsewhere");
                assert_waited(elapsed, TIMEOUT);
                assert_eq!(states(), expected, "lock_all_until left a lock held");

                release.send(()).unwrap();
            });
            assert_eq!(states(), [false; 4]);
        }
    }

    /// A lock released during the wait is taken: the timed forms succeed as
    /// soon as everything is free, with the guards in argument order.
    #[test]
    fn succeeds_once_the_busy_lock_is_released() {
        let a = Lock::new(1);
        let b = Lock::new(2);
        thread::scope(|s| {
            let release = hold_elsewhere(s, &b);
            let guards = try_once(
                || {}, // nothing to unblock: the call must not wait at all
                || lock_all_for((&a, &b), Duration::ZERO).is_none(),
            );
            assert!(guards, "b is held elsewhere");
            let (tx, rx) = mpsc::channel();
            let (a, b) = (&a, &b);
            s.spawn(move || {
                let result = woken(|| lock_all_for((b, a), HANDSHAKE).map(|(b, a)| (*b, *a)));
                tx.send(result).unwrap();
            });
            let_others_run(); // likelier that the call waits for b; either way holds
            release.send(()).unwrap();
            assert_eq!(recv(&rx), Some((2, 1)));
        });
    }

    #[test]
    fn zero_timeout_and_past_deadline_try_once() {
        let a = Lock::new('a');
        let b = Lock::new('b');
        let c = Lock::new('c');
        // All free: success at once.
        let got = try_once(
            || {},
            || lock_all_for([&c, &a, &b], Duration::ZERO).map(|g| g.map(|g| *g)),
        );
        assert_eq!(got, Some(['c', 'a', 'b']));
        let past = Instant::now();
        let got = try_once(
            || {},
            || lock_all_until((&b, &c), past).map(|(b, c)| (*b, *c)),
        );
        assert_eq!(got, Some(('b', 'c')));

        // One busy: failure at once, nothing held. The holder would release after
        // `LONG`, so a call that wrongly waits succeeds late and fails `try_once`.
        thread::scope(|s| {
            let release = hold_elsewhere(s, &c);
            let unblock = {
                let release = release.clone();
                move || release.send(()).unwrap()
            };
            let got = try_once(unblock, || {
                lock_all_for((&a, &b, &c), Duration::ZERO).is_some()
            });
            assert!(!got, "c is held elsewhere");
            assert!(!a.is_locked() && !b.is_locked() && c.is_locked());
            let unblock = move || release.send(()).unwrap();
            let got = try_once(unblock, || {
                lock_all_until([&c, &a], Instant::now()).is_some()
            });
            assert!(!got, "c is held elsewhere");
            assert!(!a.is_locked() && !b.is_locked());
        });
    }

    /// `Duration::MAX` cannot be a deadline: it waits as long as it takes.
    #[test]
    fn duration_max_waits_forever() {
        let a = Lock::new(0);
        let b = Lock::new(0);
        thread::scope(|s| {
            let release = hold_elsewhere(s, &a);
            let (tx, rx) = mpsc::channel();
            let (a, b) = (&a, &b);
            s.spawn(move || {
                tx.send(lock_all_for((a, b), Duration::MAX).is_some())
                    .unwrap();
            });
            assert_quiet(&rx, "lock_all_for(MAX) while a is held");
            release.send(()).unwrap();
            assert!(recv(&rx), "lock_all_for(MAX) gave up");
        });
    }
}

mod duplicates {
    use super::*;

    /// Runs `call`, which must panic for a lock passed twice, and checks the
    /// message and that nothing stayed held.
    #[track_caller]
    fn assert_duplicate_panics<R>(
        what: &str,
        positions: &str,
        locks: &[&Lock<i32>],
        call: impl FnOnce() -> R,
    ) {
        let message = panic_of(what, call);
        assert!(
            message.contains("same Lock") && message.contains("passed twice"),
            "{what}: unclear message: {message}"
        );
        assert!(
            message.contains("not re-entrant") && message.contains(positions),
            "{what}: the message does not name the rule and positions ({positions}): {message}"
        );
        for (i, lock) in locks.iter().enumerate() {
            assert!(!lock.is_locked(), "{what}: lock {i} left held");
        }
    }

    /// Without the check, a lock passed twice would make `lock_all` retry
    /// forever (its try of the second copy always fails), so each test runs
    /// under `bounded`: a missing check fails it instead of hanging.
    #[test]
    fn same_lock_twice_panics_before_taking_anything() {
        bounded(|| {
            let a = Lock::new(0);
            let b = Lock::new(0);
            let c = Lock::new(0);
            let all = [&a, &b, &c];
            assert_duplicate_panics("tuple", "0 and 1", &all, || drop(lock_all((&a, &a))));
            assert_duplicate_panics("tuple", "1 and 3", &all, || {
                drop(lock_all((&b, &a, &c, &a)))
            });
            let (u8s, unit) = (Lock::new(0u8), Lock::new(()));
            assert_duplicate_panics("tuple", "4 and 5", &all, || {
                drop(lock_all((&a, &b, &c, &u8s, &unit, &unit)));
            });
            assert!(!u8s.is_locked() && !unit.is_locked());
            assert_duplicate_panics("array", "0 and 2", &all, || drop(lock_all([&c, &b, &c])));
            assert_duplicate_panics("lock_all_for", "0 and 1", &all, || {
                lock_all_for([&a, &a], Duration::ZERO).is_some()
            });
            assert_duplicate_panics("lock_all_until", "1 and 2", &all, || {
                lock_all_until((&a, &b, &b), Instant::now() + LONG).is_some()
            });
        });
    }

    /// The check comes before any acquisition: with one of the locks held by
    /// another thread, the call panics at once instead of waiting for it.
    #[test]
    fn checked_before_blocking() {
        bounded(|| {
            let a = Lock::new(0);
            let b = Lock::new(0);
            thread::scope(|s| {
                let release = hold_elsewhere(s, &a);
                let unblock = move || release.send(()).unwrap();
                let message = try_once(unblock, || {
                    panic_of("lock_all", || drop(lock_all((&a, &b, &a))))
                });
                assert!(message.contains("passed twice"), "{message}");
                assert!(!b.is_locked());
            });
        });
    }
}

mod deadlock {
    use super::*;
    use std::cell::Cell;
    use std::sync::{Arc, Barrier};

    /// Rounds per test, over all threads (the seeds' scenario: 10^5).
    const ROUNDS: usize = scaled(100_000);

    /// Three counters behind three locks; every critical section holds the
    /// locks of the counters it increments.
    type Counters = Arc<[Lock<usize>; 3]>;

    fn counters() -> Counters {
        Arc::new([Lock::new(0), Lock::new(0), Lock::new(0)])
    }

    /// Increments the counters behind `guards`, checking that they agree (in
    /// each test, every critical section increments the same counters).
    fn bump(guards: &mut [&mut usize]) {
        let first = *guards[0];
        for guard in guards.iter_mut() {
            assert_eq!(
                **guard, first,
                "the counters disagree inside a critical section"
            );
            **guard += 1;
        }
    }

    /// Runs `rounds` calls of each of `bodies` on a thread of its own, all
    /// released together by a barrier, within `HANDSHAKE`: a deadlock fails
    /// the test (leaving its threads behind) instead of hanging it.
    fn race(counters: &Counters, rounds: usize, bodies: Vec<fn(&[Lock<usize>; 3])>) {
        let counters = Arc::clone(counters);
        bounded(move || {
            let start = Barrier::new(bodies.len());
            thread::scope(|s| {
                for body in bodies {
                    let (counters, start) = (&*counters, &start);
                    s.spawn(move || {
                        start.wait();
                        for _ in 0..rounds {
                            body(counters);
                        }
                    });
                }
            });
        });
    }

    /// Holds `a` or `b` (in turn, per thread) alone across a yield: makes the
    /// other threads find one of them busy while they hold the other.
    fn hog(a: &Lock<usize>, b: &Lock<usize>) {
        thread_local!(static TURN: Cell<bool> = const { Cell::new(false) });
        let lock = if TURN.replace(!TURN.get()) { a } else { b };
        let _held = lock.lock();
        thread::yield_now();
    }

    fn values(counters: &Counters) -> [usize; 3] {
        counters.each_ref().map(|lock| *lock.lock())
    }

    /// The seeds' scenario one step at a time: this thread holds `b`, another
    /// calls `lock_all((&a, &b))` and waits for `b`, and this thread then takes
    /// `a` too (as the seeds' second thread does). `lock_all` must not hold `a`
    /// while it waits for `b`. (If the other thread has not reached `lock_all`
    /// yet, `a` is free anyway and the test passes without proving much.)
    #[test]
    fn waits_holding_none_of_its_locks() {
        let a = Lock::new(0);
        let b = Lock::new(0);
        thread::scope(|s| {
            let held_b = b.lock();
            let (tx, rx) = mpsc::channel();
            let (a, b) = (&a, &b);
            s.spawn(move || {
                let (mut a, mut b) = lock_all((a, b));
                *a += 1;
                *b += 1;
                tx.send(()).unwrap();
            });
            let_others_run(); // likelier that it waits for `b` now
            let held_a = a.try_lock_for(LONG);
            assert!(
                held_a.is_some(),
                "lock_all held `a` while it waited for `b`"
            );
            assert_quiet(&rx, "lock_all while `b` is held");
            drop(held_a);
            assert_quiet(&rx, "lock_all while `b` is held");
            drop(held_b);
            recv(&rx);
        });
        assert_eq!((a.into_inner(), b.into_inner()), (1, 1));
    }

    /// The seeds' deadlock, defused: one thread `lock_all((&a, &b))`, the other
    /// plain `b.lock()` then `a.lock()`.
    #[test]
    fn lock_all_against_plain_locks_in_the_opposite_order() {
        let counters = counters();
        race(
            &counters,
            ROUNDS / 2,
            vec![
                |[a, b, _]| {
                    let (mut a, mut b) = lock_all((a, b));
                    bump(&mut [&mut a, &mut b]);
                },
                |[a, b, _]| {
                    let mut b = b.lock();
                    thread::yield_now(); // as the seeds: a window to take `a` meanwhile
                    let mut a = a.lock();
                    bump(&mut [&mut a, &mut b]);
                },
            ],
        );
        assert_eq!(values(&counters), [ROUNDS, ROUNDS, 0]);
    }

    /// `lock_all((&a, &b))` against `lock_all([&b, &a])`. A third thread holds
    /// `a` or `b` alone for a while (a yield) now and then, so that the other
    /// two often find one lock busy while they hold the other: the case a
    /// `lock_all` that waits while holding a lock would deadlock in.
    #[test]
    fn lock_all_against_lock_all_in_the_opposite_order() {
        let counters = counters();
        race(
            &counters,
            ROUNDS / 2,
            vec![
                |[a, b, _]| {
                    let (mut a, mut b) = lock_all((a, b));
                    bump(&mut [&mut a, &mut b]);
                },
                |[a, b, _]| {
                    let [mut b, mut a] = lock_all([b, a]);
                    bump(&mut [&mut a, &mut b]);
                },
                |[a, b, _]| hog(a, b),
            ],
        );
        assert_eq!(values(&counters), [ROUNDS, ROUNDS, 0]);
    }

    /// Three locks, three threads, three orders: two `lock_all`s (tuple and
    /// array) and one thread of plain locks.
    #[test]
    fn three_locks_in_three_orders() {
        let counters = counters();
        let rounds = ROUNDS / 3;
        race(
            &counters,
            rounds,
            vec![
                |[a, b, c]| {
                    let (mut a, mut b, mut c) = lock_all((a, b, c));
                    bump(&mut [&mut a, &mut b, &mut c]);
                },
                |[a, b, c]| {
                    let [mut c, mut a, mut b] = lock_all([c, a, b]);
                    bump(&mut [&mut a, &mut b, &mut c]);
                },
                |[a, b, c]| {
                    let mut b = b.lock();
                    let mut c = c.lock();
                    let mut a = a.lock();
                    bump(&mut [&mut a, &mut b, &mut c]);
                },
            ],
        );
        assert_eq!(values(&counters), [3 * rounds; 3]);
    }

    /// Zero-timeout `lock_all_for` against plain locks in the opposite order:
    /// a try that gives up must leave nothing held (else the other thread
    /// deadlocks). Counter `c`, under `a` and `b` too, counts the successes.
    #[test]
    fn zero_timeout_against_plain_locks_in_the_opposite_order() {
        let counters = counters();
        let rounds = ROUNDS / 2;
        race(
            &counters,
            rounds,
            vec![
                |[a, b, c]| {
                    if let Some((mut a, mut b)) = lock_all_for((a, b), Duration::ZERO) {
                        bump(&mut [&mut a, &mut b]);
                        *c.try_lock().expect("only this thread takes c") += 1;
                    }
                },
                |[a, b, _]| {
                    let mut b = b.lock();
                    let mut a = a.lock();
                    bump(&mut [&mut a, &mut b]);
                },
            ],
        );
        let [a, b, successes] = values(&counters);
        assert!(successes <= rounds);
        assert_eq!([a, b], [rounds + successes; 2]);
    }
}
