//! Integration tests for `BoundedQueue`.
//!
//! # Provenance
//!
//! The `cpython` module ports CPython's `Lib/test/test_queue.py` (the 3.13
//! file, with `Queue.shutdown`). Each test is named after the CPython test it
//! ports; the tests were rewritten for this API, not translated:
//!
//! - `shutdown()` (`immediate=False`) is `close()`; `shutdown(immediate=True)`
//!   is `close_and_take()`, which hands the queued items back instead of
//!   dropping them and counts them done, as Python's does. `ShutDown` is
//!   `Closed`; `Full` and `Empty` are `TryPutError::Full` and
//!   `TryGetError::Empty` (or the `Timeout` of a timed form); `task_done`'s
//!   `ValueError` is `TaskDoneError`; `is_shutdown` is `is_closed`.
//! - `put(x, block=False)`/`put_nowait` is `try_put`, `put(x, timeout=t)` is
//!   `put_for`; likewise for gets. `qsize`/`empty`/`full` are
//!   `len`/`is_empty`/`is_full`.
//! - CPython's queues are unbounded unless given a size; every queue here has
//!   a capacity, chosen small so that puts block too.
//!
//! Ported: from `BaseQueueTestMixin`, `test_basic` (`basic_queue_test`, twice
//! on one queue), `test_nowait`, `test_queue_task_done`, `test_queue_join`
//! and every `test_shutdown_*`; from `BaseSimpleQueueTest`, `test_basic`,
//! `test_order`, `test_many_threads`, `test_many_threads_nonblock`,
//! `test_many_threads_timeout` and `test_references` (as `simple_*`).
//!
//! Left out or changed, and why:
//! - `LifoQueue` and `PriorityQueue`: no counterpart.
//! - `test_negative_timeout_raises_exception`: a `Duration` cannot be
//!   negative; the nearest Rust case, a zero timeout or a past deadline, tries
//!   once (`spec::zero_timeouts_and_past_deadlines_try_once`).
//! - `test_shrinking_queue`: the capacity is fixed.
//! - `FailingQueueTest` needs a subclass whose `_put`/`_get` raise; the queue
//!   has no such hooks and runs no user code while it moves an item (the only
//!   user code it runs is an item's `Drop`, in its own drop: see `drops`).
//! - `test_reentrancy` (`__del__` putting into the queue at any moment): the
//!   queue never drops an item inside its methods, so no item code can run
//!   inside a put or get.
//! - `test_shutdown_immediate_put` calls `shutdown()` without `immediate` in
//!   CPython (a slip); the port calls `close_and_take()`.
//! - `_shutdown_all_methods_in_many_threads`: 2048 items per writer instead of
//!   16384, and each writer puts 8 items before the start barrier instead of
//!   half of its trigger point, so that they fit the bounded queue while the
//!   readers wait at the barrier. The port also checks that every item put is
//!   got or taken exactly once, in order per writer, and the task count.
//! - In `test_queue_join` and `test_shutdown_get_task_done_join` Python's
//!   `assertIn(q.get(), "LO")` becomes an exact FIFO check.
//!
//! The remaining modules check SPEC promises beyond CPython's tests (`spec`,
//! `iteration`, `drops`, `bad_input`, `send_sync`) and behaviour under load
//! (`stress`, also with every thread on one CPU).
//!
//! # Timing rules
//!
//! No sleep orders threads. CPython's `_TriggerThread` sleeps 0.1 s so that
//! the blocking call has blocked when the trigger unclogs it; here the
//! blocking call runs on a thread of its own and the trigger runs once the
//! queue counts that thread among its waiters (`spawn_blocked`, through the
//! queue's hidden `queued_getters`, `queued_putters` and `queued_joiners`).
//!
//! Timed waits are checked with `assert_waited` (never before the timeout,
//! within `timeout + SLACK`); a call that must return at once gets a `LONG`
//! timeout and must return within half of it (`assert_prompt`); a zero
//! timeout or a past deadline runs under `try_once`. Tests that use untimed
//! waits run inside `bounded`, so a lost wake-up fails the test after
//! `HANDSHAKE` instead of hanging the run; timed waits that another thread
//! ends run under `woken` (they must end before their `HANDSHAKE` deadline).
//! A failed assertion inside a scope closes the queue (`CloseOnPanic`), so the
//! threads it would have released end and the real failure is reported.
#![cfg(not(loom))]

use std::cell::Cell;
use std::collections::VecDeque;
use std::error::Error;
use std::iter::FusedIterator;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::mpsc;
use std::sync::{Arc, Barrier as StdBarrier, Mutex, PoisonError};
use std::thread::{self, Scope, ScopedJoinHandle};
use std::time::{Duration, Instant};

use threadkit::{
    BoundedQueue, Closed, GetTimeoutError, Iter, PutTimeoutError, TaskDoneError, TryGetError,
    TryPutError,
};

mod common;
use common::*;

/// A timeout long enough to measure and short enough to keep the file fast.
const TIMEOUT: Duration = Duration::from_millis(100);

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Joins a scoped thread, passing its panic on.
fn joined<T>(handle: ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|payload| panic::resume_unwind(payload))
}

/// Closes the queue if dropped during a panic: a failed assertion in a scope
/// then releases the threads blocked on the queue (their results no longer
/// matter), and the scope reports the failure instead of hanging.
struct CloseOnPanic<'a, T>(&'a BoundedQueue<T>);

impl<T> Drop for CloseOnPanic<'_, T> {
    fn drop(&mut self) {
        if thread::panicking() {
            self.0.close();
        }
    }
}

/// Spawns `f`, which must block on `q` (`what` names the call), and returns
/// once it waits there: once `q` counts one more waiting getter, putter or
/// joiner. Fails if `f` returned instead (CPython's "appeared not to block").
#[track_caller]
fn spawn_blocked<'scope, Q, T: Send + 'scope>(
    s: &'scope Scope<'scope, '_>,
    q: &BoundedQueue<Q>,
    what: &str,
    f: impl FnOnce() -> T + Send + 'scope,
) -> ScopedJoinHandle<'scope, T> {
    let waiting = || q.queued_getters() + q.queued_putters() + q.queued_joiners();
    let before = waiting();
    let handle = s.spawn(f);
    spin_until(what, || handle.is_finished() || waiting() > before);
    assert!(!handle.is_finished(), "{what} appeared not to block");
    handle
}

/// A small deterministic generator (xorshift64) for test schedules.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Records which items were dropped, by id.
#[derive(Default)]
struct DropLog(Mutex<Vec<usize>>);

impl DropLog {
    fn item(&self, id: usize) -> Tracked<'_> {
        Tracked {
            id,
            log: self,
            panics: false,
        }
    }

    /// An item whose drop panics (after logging itself).
    fn panicking(&self, id: usize) -> Tracked<'_> {
        Tracked {
            id,
            log: self,
            panics: true,
        }
    }

    /// The ids dropped so far, sorted (a duplicate shows as one).
    fn dropped(&self) -> Vec<usize> {
        let mut ids = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        ids.sort_unstable();
        ids
    }
}

/// An item that logs its drop.
struct Tracked<'a> {
    id: usize,
    log: &'a DropLog,
    panics: bool,
}

const TRACKED_PANIC: &str = "a Tracked item's drop panicked";

impl Drop for Tracked<'_> {
    fn drop(&mut self) {
        self.log
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(self.id);
        if self.panics {
            throw(TRACKED_PANIC);
        }
    }
}

fn ids(items: &[Tracked<'_>]) -> Vec<usize> {
    items.iter().map(|item| item.id).collect()
}

/// An item type without `Debug`, `Clone` or `PartialEq`.
struct NotDebug;

// ---------------------------------------------------------------------------
// CPython test_queue.py
// ---------------------------------------------------------------------------

/// Ports of CPython's `Lib/test/test_queue.py` (see the module docs).
mod cpython {
    use super::*;

    const QUEUE_SIZE: usize = 5;

    /// CPython's `do_blocking_test`: `block` runs on a thread of its own and
    /// must block until `trigger` runs (here, once that thread sleeps);
    /// returns both results. Untimed blocks: call inside `bounded`.
    #[track_caller]
    fn blocking_test<R: Send, U>(
        q: &BoundedQueue<usize>,
        block: impl FnOnce() -> R + Send,
        trigger: impl FnOnce() -> U,
    ) -> (R, U) {
        thread::scope(|s| {
            let blocked = spawn_blocked(s, q, "the blocking call", block);
            let triggered = trigger();
            (joined(blocked), triggered)
        })
    }

    fn basic_queue_test(q: &BoundedQueue<usize>) {
        const EMPTY: usize = 99; // Python's 'empty'
        assert_eq!(q.len(), 0, "call this function with an empty queue");
        assert!(q.is_empty());
        assert!(!q.is_full());
        // "I guess we better check things actually queue correctly a little :)"
        for item in [111, 333, 222] {
            q.put(item).unwrap();
        }
        let actual_order = [q.get(), q.get(), q.get()];
        assert_eq!(
            actual_order,
            [Ok(111), Ok(333), Ok(222)],
            "didn't seem to queue the correct data"
        );
        for i in 0..QUEUE_SIZE - 1 {
            q.put(i).unwrap();
            assert_eq!(q.len(), i + 1, "queue should not be empty");
        }
        assert!(!q.is_full(), "queue should not be full");
        let last = 2 * QUEUE_SIZE;
        let full = 3 * 2 * QUEUE_SIZE;
        q.put(last).unwrap();
        assert!(q.is_full(), "queue should be full");
        assert!(!q.is_empty());
        assert_eq!(
            q.try_put(full),
            Err(TryPutError::Full(full)),
            "didn't appear to block with a full queue"
        );
        let (result, elapsed) = timed(|| q.put_for(full, TIMEOUT));
        assert_eq!(
            result,
            Err(PutTimeoutError::Timeout(full)),
            "didn't appear to time out with a full queue"
        );
        assert_waited(elapsed, TIMEOUT);
        // A blocking put, untimed and timed: each waits for a get to make room.
        let (put, got) = blocking_test(q, || q.put(full), || q.get());
        assert_eq!((put, got), (Ok(()), Ok(0)));
        let (put, got) = blocking_test(q, || woken(|| q.put_for(full, HANDSHAKE)), || q.get());
        assert_eq!((put, got), (Ok(()), Ok(1)));
        // Empty it: in FIFO order, the blocked puts last.
        let rest: Vec<usize> = (0..QUEUE_SIZE).map(|_| q.get().unwrap()).collect();
        assert_eq!(rest, [2, 3, last, full, full]);
        assert_eq!(q.len(), 0, "queue should be empty");
        assert_eq!(
            q.try_get(),
            Err(TryGetError::Empty),
            "didn't appear to block with an empty queue"
        );
        let (result, elapsed) = timed(|| q.get_for(TIMEOUT));
        assert_eq!(
            result,
            Err(GetTimeoutError::Timeout),
            "didn't appear to time out with an empty queue"
        );
        assert_waited(elapsed, TIMEOUT);
        // A blocking get, untimed and timed: each waits for a put.
        let (got, put) = blocking_test(q, || q.get(), || q.put(EMPTY));
        assert_eq!((got, put), (Ok(EMPTY), Ok(())));
        let (got, put) = blocking_test(q, || woken(|| q.get_for(HANDSHAKE)), || q.put(EMPTY));
        assert_eq!((got, put), (Ok(EMPTY), Ok(())));
        assert!(q.is_empty());
    }

    /// `basic_queue_test`, twice on the same instance.
    #[test]
    fn test_basic() {
        bounded(|| {
            let q = BoundedQueue::new(QUEUE_SIZE);
            basic_queue_test(&q);
            basic_queue_test(&q);
            assert_eq!(q.unfinished_tasks(), 2 * (3 + QUEUE_SIZE + 2 + 2));
        });
    }

    #[test]
    fn test_nowait() {
        let q = BoundedQueue::new(QUEUE_SIZE);
        for _ in 0..QUEUE_SIZE {
            q.try_put(1).unwrap();
        }
        assert_eq!(q.try_put(1), Err(TryPutError::Full(1)));
        for _ in 0..QUEUE_SIZE {
            assert_eq!(q.try_get(), Ok(1));
        }
        assert_eq!(q.try_get(), Err(TryGetError::Empty));
    }

    #[test]
    fn test_queue_task_done() {
        let q = BoundedQueue::<usize>::new(QUEUE_SIZE);
        assert_eq!(
            q.task_done(),
            Err(TaskDoneError),
            "did not detect task count going negative"
        );
        assert_eq!(q.unfinished_tasks(), 0);
    }

    fn worker(q: &BoundedQueue<i64>, cum: &Mutex<i64>) {
        loop {
            let x = q.get().expect("the queue stays open");
            if x < 0 {
                q.task_done().unwrap();
                return;
            }
            *cum.lock().unwrap() += x;
            q.task_done().unwrap();
        }
    }

    fn queue_join_test(q: &BoundedQueue<i64>) {
        const ITEMS: i64 = scaled(100) as i64;
        let cum = Mutex::new(0);
        thread::scope(|s| {
            let _release = CloseOnPanic(q);
            let workers: Vec<_> = (0..2).map(|_| s.spawn(|| worker(q, &cum))).collect();
            for i in 0..ITEMS {
                q.put(i).unwrap();
            }
            q.join();
            assert_eq!(
                *cum.lock().unwrap(),
                (0..ITEMS).sum::<i64>(),
                "join() did not block until all tasks were done"
            );
            assert_eq!(q.unfinished_tasks(), 0);
            for _ in 0..2 {
                q.put(-1).unwrap(); // instruct the workers to end
            }
            q.join(); // a queue can be joined twice
            for worker in workers {
                joined(worker);
            }
        });
    }

    /// A join returns once every task is done (twice on one queue), and
    /// `task_done` then fails. Capacity 8 < 100 items (10 under Miri): the
    /// puts block too.
    #[test]
    fn test_queue_join() {
        bounded(|| {
            let q = BoundedQueue::new(8);
            queue_join_test(&q);
            queue_join_test(&q);
            assert_eq!(
                q.task_done(),
                Err(TaskDoneError),
                "did not detect task count going negative"
            );
        });
    }

    #[test]
    fn test_shutdown_empty() {
        bounded(|| {
            let q = BoundedQueue::new(QUEUE_SIZE);
            assert!(q.close());
            assert_eq!(q.put("data"), Err(Closed("data")));
            assert_eq!(q.get(), Err(Closed(())));
        });
    }

    #[test]
    fn test_shutdown_nonempty() {
        bounded(|| {
            let q = BoundedQueue::new(QUEUE_SIZE);
            q.put("data").unwrap();
            assert!(q.close());
            assert_eq!(q.get(), Ok("data"));
            assert_eq!(q.get(), Err(Closed(())));
        });
    }

    #[test]
    fn test_shutdown_immediate() {
        bounded(|| {
            let q = BoundedQueue::new(QUEUE_SIZE);
            q.put("data").unwrap();
            assert_eq!(q.close_and_take(), ["data"]);
            assert_eq!(q.get(), Err(Closed(())));
        });
    }

    #[test]
    fn test_shutdown_allowed_transitions() {
        let q = BoundedQueue::<&str>::new(QUEUE_SIZE);
        assert!(!q.is_closed());
        assert!(q.close());
        assert!(q.is_closed());
        assert_eq!(q.close_and_take(), Vec::<&str>::new());
        assert!(q.is_closed());
        assert!(!q.close());
        assert!(q.is_closed());
    }

    fn shutdown_all_methods_in_one_thread(immediate: bool) {
        let q = BoundedQueue::new(2);
        q.put("L").unwrap();
        q.try_put("O").unwrap();
        if immediate {
            assert_eq!(q.close_and_take(), ["L", "O"]);
        } else {
            assert!(q.close());
        }
        assert_eq!(q.put("E"), Err(Closed("E")));
        assert_eq!(q.try_put("W"), Err(TryPutError::Closed("W")));
        if immediate {
            assert_eq!(q.get(), Err(Closed(())));
            assert_eq!(q.try_get(), Err(TryGetError::Closed));
            assert_eq!(q.task_done(), Err(TaskDoneError));
            q.join();
        } else {
            assert_eq!(q.get(), Ok("L"));
            q.task_done().unwrap();
            assert_eq!(q.get(), Ok("O"));
            q.task_done().unwrap();
            q.join();
            // Closed and now empty: every get fails, at once.
            assert_eq!(q.get(), Err(Closed(())));
            assert_eq!(q.try_get(), Err(TryGetError::Closed));
            let (result, elapsed) = timed(|| q.get_for(LONG));
            assert_eq!(result, Err(GetTimeoutError::Closed));
            assert_prompt(elapsed, LONG);
        }
        assert_eq!(q.unfinished_tasks(), 0);
    }

    #[test]
    fn test_shutdown_all_methods_in_one_thread() {
        bounded(|| shutdown_all_methods_in_one_thread(false));
    }

    #[test]
    fn test_shutdown_immediate_all_methods_in_one_thread() {
        bounded(|| shutdown_all_methods_in_one_thread(true));
    }

    /// Writers put, readers get and mark done, one writer triggers the
    /// shutdown halfway (from another thread), joiners join (immediate only).
    fn shutdown_all_methods_in_many_threads(immediate: bool) {
        const WRITERS: usize = 4;
        const READERS: usize = 6;
        const JOINERS: usize = 2;
        const BEFORE: usize = 8;
        // 2048 natively; the trigger point, half of it, comes after `BEFORE`.
        const PER_WRITER: usize = BEFORE + scaled(2048 - BEFORE);
        const WHEN: usize = PER_WRITER / 2;
        let q = BoundedQueue::new(64);
        let parties = WRITERS + READERS + if immediate { JOINERS } else { 0 };
        let start = StdBarrier::new(parties);
        let triggered = AtomicBool::new(false);
        let (shutdown_tx, shutdown_rx) = mpsc::channel::<()>();
        let (writers, readers, taken) = thread::scope(|s| {
            let _release = CloseOnPanic(&q);
            let (q, start, triggered) = (&q, &start, &triggered);
            let writers: Vec<_> = (0..WRITERS)
                .map(|w| {
                    let shutdown_tx = shutdown_tx.clone();
                    s.spawn(move || {
                        for i in 0..BEFORE {
                            q.put((w, i)).unwrap();
                        }
                        start.wait();
                        let mut trigger = false;
                        for i in BEFORE..PER_WRITER {
                            if let Err(Closed(item)) = q.put((w, i)) {
                                assert_eq!(item, (w, i), "a failed put hands its item back");
                                return (i, trigger, true);
                            }
                            // Only one writer triggers the shutdown.
                            if i == WHEN && !triggered.swap(true, SeqCst) {
                                shutdown_tx.send(()).unwrap();
                                trigger = true;
                            }
                        }
                        (PER_WRITER, trigger, false)
                    })
                })
                .collect();
            let readers: Vec<_> = (0..READERS)
                .map(|_| {
                    s.spawn(move || {
                        // At least one item each, then the barrier.
                        let mut got = vec![q.get().unwrap()];
                        q.task_done().unwrap();
                        start.wait();
                        loop {
                            match q.try_get() {
                                Ok(item) => {
                                    got.push(item);
                                    q.task_done().unwrap();
                                }
                                Err(TryGetError::Empty) => thread::yield_now(),
                                Err(TryGetError::Closed) => return got,
                            }
                        }
                    })
                })
                .collect();
            let shutdown = s.spawn(move || {
                recv(&shutdown_rx);
                if immediate {
                    let taken = q.close_and_take();
                    assert_eq!(q.len(), 0, "close_and_take left items queued");
                    taken
                } else {
                    assert!(q.close());
                    Vec::new()
                }
            });
            if immediate {
                for _ in 0..JOINERS {
                    s.spawn(move || {
                        start.wait();
                        q.join();
                    });
                }
            }
            let writers: Vec<_> = writers.into_iter().map(joined).collect();
            let readers: Vec<_> = readers.into_iter().map(joined).collect();
            (writers, readers, joined(shutdown))
        });
        assert_eq!(
            writers.iter().filter(|(_, trigger, _)| *trigger).count(),
            1,
            "exactly one writer triggers the shutdown"
        );
        // Every reader ended on `Closed` (its loop ends no other way); every
        // item put was got or taken exactly once, in each writer's order.
        for got in readers.iter().chain([&taken]) {
            for w in 0..WRITERS {
                let mine: Vec<usize> = got
                    .iter()
                    .filter(|item| item.0 == w)
                    .map(|item| item.1)
                    .collect();
                assert!(
                    mine.is_sorted_by(|a, b| a < b),
                    "writer {w}'s items out of order: {mine:?}"
                );
            }
        }
        let mut all: Vec<(usize, usize)> = readers.concat();
        all.extend(&taken);
        all.sort_unstable();
        let expected: Vec<(usize, usize)> = writers
            .iter()
            .enumerate()
            .flat_map(|(w, &(put, _, _))| (0..put).map(move |i| (w, i)))
            .collect();
        assert_eq!(all, expected, "items lost or duplicated");
        assert!(q.is_empty());
        assert_eq!(q.unfinished_tasks(), 0);
        assert!(q.join_for(Duration::ZERO));
    }

    #[test]
    fn test_shutdown_all_methods_in_many_threads() {
        bounded(|| shutdown_all_methods_in_many_threads(false));
    }

    #[test]
    fn test_shutdown_immediate_all_methods_in_many_threads() {
        bounded(|| shutdown_all_methods_in_many_threads(true));
    }

    /// Getters that start after the shutdown: with `close`, the two queued
    /// items are still got (and one getter of three fails); with
    /// `close_and_take`, both fail.
    fn shutdown_get(immediate: bool) {
        let q = BoundedQueue::new(2);
        q.put("Y").unwrap();
        q.put("D").unwrap(); // full
        let getters = if immediate { 2 } else { 3 };
        let go = StdBarrier::new(getters + 1);
        let results: Vec<Result<&str, Closed>> = thread::scope(|s| {
            let threads: Vec<_> = (0..getters)
                .map(|_| {
                    s.spawn(|| {
                        go.wait();
                        q.get()
                    })
                })
                .collect();
            if immediate {
                assert_eq!(q.close_and_take(), ["Y", "D"]);
            } else {
                assert!(q.close());
            }
            go.wait();
            threads.into_iter().map(joined).collect()
        });
        if immediate {
            assert_eq!(results, [Err(Closed(())); 2]);
        } else {
            let mut got: Vec<&str> = results.iter().filter_map(|result| result.ok()).collect();
            got.sort_unstable();
            assert_eq!(got, ["D", "Y"]);
            assert_eq!(results.iter().filter(|result| result.is_err()).count(), 1);
        }
    }

    #[test]
    fn test_shutdown_get() {
        bounded(|| shutdown_get(false));
    }

    #[test]
    fn test_shutdown_immediate_get() {
        bounded(|| shutdown_get(true));
    }

    /// Puts after the shutdown fail and hand their items back.
    fn shutdown_put(immediate: bool) {
        let q = BoundedQueue::new(2);
        q.put("Y").unwrap();
        q.put("D").unwrap(); // full
        let go = StdBarrier::new(3);
        let results: Vec<_> = thread::scope(|s| {
            let threads: Vec<_> = ["E", "W"]
                .into_iter()
                .map(|item| {
                    let (q, go) = (&q, &go);
                    s.spawn(move || {
                        go.wait();
                        q.put(item)
                    })
                })
                .collect();
            if immediate {
                assert_eq!(q.close_and_take(), ["Y", "D"]);
            } else {
                assert!(q.close());
            }
            go.wait();
            threads.into_iter().map(joined).collect()
        });
        assert_eq!(results, [Err(Closed("E")), Err(Closed("W"))]);
        if !immediate {
            assert_eq!(q.iter().collect::<Vec<_>>(), ["Y", "D"]);
        }
        assert!(q.is_empty());
    }

    #[test]
    fn test_shutdown_put() {
        bounded(|| shutdown_put(false));
    }

    #[test]
    fn test_shutdown_immediate_put() {
        bounded(|| shutdown_put(true));
    }

    /// Two joiners, blocked on one unfinished task, return once the task is
    /// done: by a getter's `task_done` after `close`, or by `close_and_take`.
    fn shutdown_join(immediate: bool) {
        let q = BoundedQueue::new(QUEUE_SIZE);
        q.put("Y").unwrap();
        let go = StdBarrier::new(2);
        thread::scope(|s| {
            let _release = CloseOnPanic(&q);
            let joiners: Vec<_> = (0..2)
                .map(|_| spawn_blocked(s, &q, "join with a task unfinished", || q.join()))
                .collect();
            let getter = (!immediate).then(|| {
                s.spawn(|| {
                    go.wait();
                    let item = q.get();
                    q.task_done().unwrap();
                    item
                })
            });
            if immediate {
                assert_eq!(q.close_and_take(), ["Y"]);
            } else {
                assert!(q.close());
                go.wait();
            }
            for joiner in joiners {
                joined(joiner);
            }
            if let Some(getter) = getter {
                assert_eq!(joined(getter), Ok("Y"));
            }
        });
        assert_eq!(q.unfinished_tasks(), 0);
    }

    #[test]
    fn test_shutdown_immediate_join() {
        bounded(|| shutdown_join(true));
    }

    #[test]
    fn test_shutdown_join() {
        bounded(|| shutdown_join(false));
    }

    fn shutdown_put_join(immediate: bool) {
        let q = BoundedQueue::new(2);
        q.put("Y").unwrap(); // not full
        let go = StdBarrier::new(2);
        thread::scope(|s| {
            let _release = CloseOnPanic(&q);
            let putter = s.spawn(|| {
                go.wait();
                q.put("E")
            });
            let joiner = spawn_blocked(s, &q, "join with a task unfinished", || q.join());
            assert_eq!(q.unfinished_tasks(), 1);
            if immediate {
                assert_eq!(q.close_and_take(), ["Y"]);
            } else {
                assert!(q.close());
            }
            go.wait();
            if immediate {
                assert_eq!(q.try_get(), Err(TryGetError::Closed));
            } else {
                assert_eq!(q.get(), Ok("Y"));
                q.task_done().unwrap();
            }
            assert_eq!(joined(putter), Err(Closed("E")));
            joined(joiner);
        });
        assert_eq!(q.unfinished_tasks(), 0);
    }

    #[test]
    fn test_shutdown_immediate_put_join() {
        bounded(|| shutdown_put_join(true));
    }

    #[test]
    fn test_shutdown_put_join() {
        bounded(|| shutdown_put_join(false));
    }

    #[test]
    fn test_shutdown_get_task_done_join() {
        bounded(|| {
            let q = BoundedQueue::new(2);
            q.put("Y").unwrap();
            q.put("D").unwrap();
            assert_eq!(q.unfinished_tasks(), q.len());
            let go = StdBarrier::new(3);
            let mut got: Vec<&str> = thread::scope(|s| {
                let _release = CloseOnPanic(&q);
                let getters: Vec<_> = (0..2)
                    .map(|_| {
                        s.spawn(|| {
                            go.wait();
                            let item = q.get();
                            if item.is_ok() {
                                q.task_done().unwrap();
                            }
                            item
                        })
                    })
                    .collect();
                let joiners: Vec<_> = (0..2).map(|_| s.spawn(|| q.join())).collect();
                go.wait();
                assert!(q.close());
                for joiner in joiners {
                    joined(joiner);
                }
                getters
                    .into_iter()
                    .map(|getter| joined(getter).expect("an item for each getter"))
                    .collect()
            });
            got.sort_unstable();
            assert_eq!(got, ["D", "Y"]);
            assert_eq!(q.unfinished_tasks(), 0);
        });
    }

    /// A get blocked on an empty queue wakes with `Closed` when it closes.
    #[test]
    fn test_shutdown_pending_get() {
        bounded(|| {
            let q = BoundedQueue::<&str>::new(QUEUE_SIZE);
            thread::scope(|s| {
                let getter = spawn_blocked(s, &q, "a get on an empty queue", || q.get());
                assert!(q.close());
                assert_eq!(joined(getter), Err(Closed(())));
            });
        });
    }

    // -- BaseSimpleQueueTest ------------------------------------------------

    /// Takes values from the shared `seq` and puts them, then a sentinel
    /// (`None`). CPython sleeps up to 1 ms after half the puts; this yields.
    fn feed(q: &BoundedQueue<Option<usize>>, seq: &Mutex<Vec<usize>>, mut rnd: u64) {
        loop {
            let val = seq.lock().unwrap().pop();
            let Some(val) = val else {
                q.put(None).unwrap();
                return;
            };
            q.put(Some(val)).unwrap();
            if xorshift(&mut rnd) % 2 == 0 {
                thread::yield_now();
            }
        }
    }

    fn consume(q: &BoundedQueue<Option<usize>>) -> Vec<usize> {
        let mut results = Vec::new();
        while let Some(val) = q.get().expect("the queue stays open") {
            results.push(val);
        }
        results
    }

    /// CPython sleeps 10 us after each `Empty`; this yields.
    fn consume_nonblock(q: &BoundedQueue<Option<usize>>) -> Vec<usize> {
        let mut results = Vec::new();
        loop {
            match q.try_get() {
                Ok(Some(val)) => results.push(val),
                Ok(None) => return results,
                Err(TryGetError::Empty) => thread::yield_now(),
                Err(TryGetError::Closed) => panic!("the queue stays open"),
            }
        }
    }

    fn consume_timeout(q: &BoundedQueue<Option<usize>>) -> Vec<usize> {
        let mut results = Vec::new();
        loop {
            match q.get_for(Duration::from_micros(10)) {
                Ok(Some(val)) => results.push(val),
                Ok(None) => return results,
                Err(GetTimeoutError::Timeout) => {}
                Err(GetTimeoutError::Closed) => panic!("the queue stays open"),
            }
        }
    }

    type Consume = fn(&BoundedQueue<Option<usize>>) -> Vec<usize>;

    /// `n_threads` feeders and as many consumers; each consumer ends at the
    /// first sentinel, so every value is consumed before the last one.
    fn run_threads(n_threads: usize, inputs: &[usize], consume: Consume) -> Vec<usize> {
        let q = BoundedQueue::new(16);
        let seq = Mutex::new(inputs.iter().rev().copied().collect::<Vec<_>>());
        let results = thread::scope(|s| {
            let _release = CloseOnPanic(&q);
            for t in 0..n_threads {
                let (q, seq) = (&q, &seq);
                s.spawn(move || feed(q, seq, 42 + t as u64));
            }
            let consumers: Vec<_> = (0..n_threads).map(|_| s.spawn(|| consume(&q))).collect();
            let results: Vec<Vec<usize>> = consumers.into_iter().map(joined).collect();
            results.concat()
        });
        assert!(q.is_empty());
        assert_eq!(q.len(), 0);
        // Nobody marked a task done: every put counts, sentinels included.
        assert_eq!(q.unfinished_tasks(), inputs.len() + n_threads);
        results
    }

    #[test]
    fn simple_test_basic() {
        bounded(|| {
            let q = BoundedQueue::new(4);
            assert!(q.is_empty());
            assert_eq!(q.len(), 0);
            q.put(1).unwrap();
            assert!(!q.is_empty());
            assert_eq!(q.len(), 1);
            q.put(2).unwrap();
            q.try_put(3).unwrap();
            q.put(4).unwrap();
            assert!(!q.is_empty());
            assert_eq!(q.len(), 4);
            assert_eq!(q.try_get(), Ok(1)); // (`get()` is covered everywhere else)
            assert_eq!(q.len(), 3);
            assert_eq!(q.try_get(), Ok(2));
            assert_eq!(q.len(), 2);
            assert_eq!(q.get_for(Duration::ZERO), Ok(3));
            assert!(!q.is_empty());
            assert_eq!(q.len(), 1);
            let (got, elapsed) = timed(|| q.get_for(LONG));
            assert_eq!(got, Ok(4));
            assert_prompt(elapsed, LONG);
            assert!(q.is_empty());
            assert_eq!(q.len(), 0);
            assert_eq!(q.try_get(), Err(TryGetError::Empty));
            assert_eq!(
                q.get_for(Duration::from_millis(1)),
                Err(GetTimeoutError::Timeout)
            );
            assert_eq!(
                try_once(|| q.put(5).unwrap(), || q.get_for(Duration::ZERO)),
                Err(GetTimeoutError::Timeout)
            );
            assert!(q.is_empty());
            assert_eq!(q.len(), 0);
        });
    }

    /// One producer, one consumer: results in the order put.
    #[test]
    fn simple_test_order() {
        bounded(|| {
            let inputs: Vec<usize> = (0..scaled(100)).collect();
            assert_eq!(run_threads(1, &inputs, consume), inputs);
        });
    }

    #[test]
    fn simple_test_many_threads() {
        bounded(|| {
            let inputs: Vec<usize> = (0..scaled(10_000)).collect();
            let mut results = run_threads(scaled(50), &inputs, consume);
            results.sort_unstable();
            assert_eq!(results, inputs);
        });
    }

    #[test]
    fn simple_test_many_threads_nonblock() {
        bounded(|| {
            let inputs: Vec<usize> = (0..scaled(10_000)).collect();
            let mut results = run_threads(scaled(50), &inputs, consume_nonblock);
            results.sort_unstable();
            assert_eq!(results, inputs);
        });
    }

    #[test]
    fn simple_test_many_threads_timeout() {
        bounded(|| {
            let inputs: Vec<usize> = (0..scaled(1_000)).collect();
            let mut results = run_threads(scaled(50), &inputs, consume_timeout);
            results.sort_unstable();
            assert_eq!(results, inputs);
        });
    }

    /// The queue lets go of each item as soon as it leaves: the item got is
    /// the caller's, dropped when the caller drops it, and not again later.
    #[test]
    fn simple_test_references() {
        const N: usize = 20;
        let log = DropLog::default();
        let q = BoundedQueue::new(N);
        for i in 0..N {
            q.put(log.item(i)).unwrap();
        }
        for i in 0..N {
            let item = q.get().unwrap();
            assert_eq!(item.id, i);
            drop(item);
            assert_eq!(log.dropped(), (0..=i).collect::<Vec<_>>());
        }
        drop(q);
        assert_eq!(log.dropped(), (0..N).collect::<Vec<_>>());
    }
}

// ---------------------------------------------------------------------------
// SPEC promises beyond CPython's tests
// ---------------------------------------------------------------------------

mod spec {
    use super::*;

    /// Random `try_put`/`try_get` sequences agree with a `VecDeque` model,
    /// through many laps of rings of several sizes: FIFO, `len`, `is_full`,
    /// `is_empty`, and `unfinished_tasks` counting the successful puts.
    #[test]
    fn fifo_agrees_with_a_model_across_laps() {
        for capacity in [1, 2, 3, 4, 7, 8] {
            let q = BoundedQueue::new(capacity);
            assert_eq!(q.capacity(), capacity);
            let mut model = VecDeque::new();
            let mut puts = 0;
            let mut rnd = 0x9E37_79B9_7F4A_7C15 ^ capacity as u64;
            for n in 0..scaled(3000) {
                if xorshift(&mut rnd) % 2 == 0 {
                    let result = q.try_put(n);
                    if model.len() < capacity {
                        assert_eq!(result, Ok(()), "capacity {capacity}, step {n}");
                        model.push_back(n);
                        puts += 1;
                    } else {
                        assert_eq!(result, Err(TryPutError::Full(n)), "capacity {capacity}");
                    }
                } else {
                    let expected = model.pop_front().ok_or(TryGetError::Empty);
                    assert_eq!(q.try_get(), expected, "capacity {capacity}, step {n}");
                }
                assert_eq!(q.len(), model.len());
                assert_eq!(q.is_empty(), model.is_empty());
                assert_eq!(q.is_full(), model.len() == capacity);
                assert_eq!(q.unfinished_tasks(), puts);
            }
        }
    }

    /// Every failing put hands back the very item it was given.
    #[test]
    fn failed_puts_hand_the_item_back() {
        bounded(|| {
            let q = BoundedQueue::new(1);
            q.put(String::from("queued")).unwrap();
            let err = q.try_put(String::from("try")).unwrap_err();
            assert!(err.is_full() && !err.is_closed());
            assert_eq!(err.into_inner(), "try");
            let err = q.put_for(String::from("for"), TIMEOUT).unwrap_err();
            assert!(err.is_timeout() && !err.is_closed());
            assert_eq!(err.into_inner(), "for");
            let err = q
                .put_until(String::from("until"), Instant::now() + TIMEOUT)
                .unwrap_err();
            assert_eq!(err, PutTimeoutError::Timeout(String::from("until")));
            assert!(q.close());
            assert_eq!(q.put(String::from("put")).unwrap_err().into_inner(), "put");
            let err = q.try_put(String::from("try")).unwrap_err();
            assert!(err.is_closed() && !err.is_full());
            assert_eq!(err.into_inner(), "try");
            let err = q.put_for(String::from("for"), LONG).unwrap_err();
            assert!(err.is_closed() && !err.is_timeout());
            assert_eq!(err.into_inner(), "for");
            let err = q
                .put_until(String::from("until"), Instant::now() + LONG)
                .unwrap_err();
            assert_eq!(err, PutTimeoutError::Closed(String::from("until")));
            // Only the first put counted, and it is still there.
            assert_eq!(q.unfinished_tasks(), 1);
            assert_eq!(q.iter().collect::<Vec<_>>(), ["queued"]);
        });
    }

    /// Timed forms on a queue nobody serves: they time out, never early,
    /// and a timed-out put leaves the queue as it was.
    #[test]
    fn timed_waits_time_out_no_earlier_than_asked() {
        bounded(|| {
            let q = BoundedQueue::new(1);
            let (result, elapsed) = timed(|| q.get_for(TIMEOUT));
            assert_eq!(result, Err(GetTimeoutError::Timeout));
            assert_waited(elapsed, TIMEOUT);
            let start = Instant::now();
            let result = q.get_until(start + TIMEOUT);
            assert_eq!(result, Err(GetTimeoutError::Timeout));
            assert_waited(start.elapsed(), TIMEOUT);
            q.put('a').unwrap();
            let (result, elapsed) = timed(|| q.put_for('b', TIMEOUT));
            assert_eq!(result, Err(PutTimeoutError::Timeout('b')));
            assert_waited(elapsed, TIMEOUT);
            let start = Instant::now();
            let result = q.put_until('c', start + TIMEOUT);
            assert_eq!(result, Err(PutTimeoutError::Timeout('c')));
            assert_waited(start.elapsed(), TIMEOUT);
            assert_eq!(q.len(), 1);
            assert_eq!(q.unfinished_tasks(), 1);
            assert_eq!(q.try_get(), Ok('a'));
        });
    }

    /// The deadline forms end as soon as another thread serves them.
    #[test]
    fn deadline_waits_end_when_served() {
        bounded(|| {
            let q = BoundedQueue::new(1);
            thread::scope(|s| {
                let _release = CloseOnPanic(&q);
                let getter = spawn_blocked(s, &q, "get_until on an empty queue", || {
                    woken(|| q.get_until(Instant::now() + HANDSHAKE))
                });
                q.put(1).unwrap();
                assert_eq!(joined(getter), Ok(1));
                q.put(2).unwrap();
                let putter = spawn_blocked(s, &q, "put_until on a full queue", || {
                    woken(|| q.put_until(3, Instant::now() + HANDSHAKE))
                });
                assert_eq!(q.get(), Ok(2));
                assert_eq!(joined(putter), Ok(()));
                assert_eq!(q.get(), Ok(3));
            });
        });
    }

    /// A zero timeout or a past deadline tries once and never blocks: with an
    /// unblocking call ready after `LONG`, a call that wrongly waited would
    /// return late (and with the wrong result).
    #[test]
    fn zero_timeouts_and_past_deadlines_try_once() {
        let q = BoundedQueue::new(1);
        let zero = Duration::ZERO;
        let past = Instant::now();
        // Empty.
        assert_eq!(
            try_once(|| q.put(1).unwrap(), || q.get_for(zero)),
            Err(GetTimeoutError::Timeout)
        );
        assert_eq!(
            try_once(|| q.put(1).unwrap(), || q.get_until(past)),
            Err(GetTimeoutError::Timeout)
        );
        q.put(1).unwrap();
        assert_eq!(q.get_for(zero), Ok(1), "an item that is there is taken");
        q.put(2).unwrap();
        assert_eq!(q.get_until(past), Ok(2));
        // Full.
        q.put(3).unwrap();
        assert_eq!(
            try_once(
                || {
                    let _ = q.get();
                },
                || q.put_for(4, zero)
            ),
            Err(PutTimeoutError::Timeout(4))
        );
        assert_eq!(
            try_once(
                || {
                    let _ = q.get();
                },
                || q.put_until(4, past)
            ),
            Err(PutTimeoutError::Timeout(4))
        );
        assert_eq!(q.get(), Ok(3));
        assert_eq!(q.put_for(5, zero), Ok(()), "room that is there is used");
        assert_eq!(q.get(), Ok(5));
        assert_eq!(q.put_until(6, past), Ok(()));
        assert_eq!(q.get(), Ok(6));
        // Join: tasks 1, 2, 3, 5 and 6 unfinished.
        for _ in 0..4 {
            q.task_done().unwrap();
        }
        assert!(!try_once(|| q.task_done().unwrap(), || q.join_for(zero)));
        assert!(!try_once(|| q.task_done().unwrap(), || q.join_until(past)));
        q.task_done().unwrap();
        assert!(q.join_for(zero));
        assert!(q.join_until(past));
        // Closed.
        assert!(q.close());
        assert_eq!(q.get_for(zero), Err(GetTimeoutError::Closed));
        assert_eq!(q.get_until(past), Err(GetTimeoutError::Closed));
        assert_eq!(q.put_for(7, zero), Err(PutTimeoutError::Closed(7)));
        assert_eq!(q.put_until(7, past), Err(PutTimeoutError::Closed(7)));
    }

    /// Several getters blocked on an empty queue: each put serves exactly one
    /// (a lost wake-up among several waiters leaves one behind).
    #[test]
    fn each_put_serves_one_blocked_getter() {
        bounded(|| {
            let q = BoundedQueue::new(1);
            let served = AtomicUsize::new(0);
            let mut got: Vec<usize> = thread::scope(|s| {
                let _release = CloseOnPanic(&q);
                let getters: Vec<_> = (0..3)
                    .map(|_| {
                        spawn_blocked(s, &q, "a get on an empty queue", || {
                            let item = q.get();
                            served.fetch_add(1, SeqCst);
                            item
                        })
                    })
                    .collect();
                for n in 1..=3 {
                    q.put(n).unwrap();
                    spin_until("a blocked getter to take the item", || {
                        served.load(SeqCst) == n
                    });
                    assert!(q.is_empty());
                }
                getters.into_iter().map(|g| joined(g).unwrap()).collect()
            });
            got.sort_unstable();
            assert_eq!(got, [1, 2, 3]);
        });
    }

    /// Several putters blocked on a full queue: each get admits exactly one.
    #[test]
    fn each_get_admits_one_blocked_putter() {
        bounded(|| {
            let q = BoundedQueue::new(1);
            q.put(0).unwrap();
            let admitted = AtomicUsize::new(0);
            let mut got = vec![];
            thread::scope(|s| {
                let _release = CloseOnPanic(&q);
                for n in 1..=3 {
                    let (q, admitted) = (&q, &admitted);
                    spawn_blocked(s, q, "a put on a full queue", move || {
                        q.put(n).unwrap();
                        admitted.fetch_add(1, SeqCst);
                    });
                }
                for n in 1..=3 {
                    got.push(q.get().unwrap());
                    spin_until("a blocked putter to fill the room", || {
                        admitted.load(SeqCst) == n
                    });
                    assert!(q.is_full());
                }
            });
            got.push(q.get().unwrap());
            assert_eq!(got[0], 0);
            got.sort_unstable();
            assert_eq!(got, [0, 1, 2, 3]);
        });
    }

    /// Calling `task_done` more often than items were put fails and changes
    /// nothing: the count neither goes negative nor wraps.
    #[test]
    fn task_done_too_often_fails_and_changes_nothing() {
        bounded(|| {
            let q = BoundedQueue::new(2);
            assert_eq!(q.task_done(), Err(TaskDoneError));
            assert_eq!(q.unfinished_tasks(), 0);
            assert!(q.join_for(Duration::ZERO));
            q.put('a').unwrap();
            q.put('b').unwrap();
            assert_eq!(q.unfinished_tasks(), 2, "puts count, gets do not");
            assert_eq!(q.get(), Ok('a'));
            assert_eq!(q.unfinished_tasks(), 2);
            q.task_done().unwrap();
            // Python allows marking a task done before its item is got.
            q.task_done().unwrap();
            assert_eq!(q.unfinished_tasks(), 0);
            assert_eq!(q.task_done(), Err(TaskDoneError));
            assert_eq!(q.task_done(), Err(TaskDoneError));
            assert_eq!(q.unfinished_tasks(), 0);
            // The failed calls left no credit behind: the next put counts in full.
            q.put('c').unwrap();
            assert_eq!(q.unfinished_tasks(), 1);
            assert!(!q.join_for(Duration::ZERO));
            q.task_done().unwrap();
            assert!(q.join_for(Duration::ZERO));
        });
    }

    /// The task count stays exact over many laps of a small ring.
    #[test]
    fn task_count_across_laps() {
        bounded(|| {
            let q = BoundedQueue::new(3);
            for lap in 0..50 {
                q.put(lap).unwrap();
                q.put(lap).unwrap();
                assert_eq!(q.unfinished_tasks(), 2);
                assert_eq!(q.get(), Ok(lap));
                q.task_done().unwrap();
                assert_eq!(q.unfinished_tasks(), 1);
                assert_eq!(q.get(), Ok(lap));
                q.task_done().unwrap();
                assert_eq!(q.unfinished_tasks(), 0);
                assert_eq!(q.task_done(), Err(TaskDoneError));
            }
        });
    }

    /// `join_for` times out while a task is unfinished, and a joiner blocked
    /// in it returns `true` at once when the last task is marked done.
    #[test]
    fn join_for_false_then_true() {
        bounded(|| {
            let q = BoundedQueue::new(2);
            q.put('a').unwrap();
            assert_eq!(q.get(), Ok('a'));
            let (joined_in_time, elapsed) = timed(|| q.join_for(TIMEOUT));
            assert!(
                !joined_in_time,
                "join_for returned true with a task unfinished"
            );
            assert_waited(elapsed, TIMEOUT);
            let start = Instant::now();
            assert!(!q.join_until(start + TIMEOUT));
            assert_waited(start.elapsed(), TIMEOUT);
            thread::scope(|s| {
                let joiner = spawn_blocked(s, &q, "join_for with a task unfinished", || {
                    woken(|| q.join_for(HANDSHAKE))
                });
                q.task_done().unwrap();
                assert!(
                    joined(joiner),
                    "join_for returned false after the last task_done"
                );
            });
            let (joined_in_time, elapsed) = timed(|| q.join_for(LONG));
            assert!(joined_in_time);
            assert_prompt(elapsed, LONG);
        });
    }

    /// Joiners stay blocked until the last of several tasks is done.
    #[test]
    fn join_waits_for_every_task() {
        bounded(|| {
            let q = BoundedQueue::new(4);
            for n in 0..3 {
                q.put(n).unwrap();
            }
            let (tx, rx) = mpsc::channel();
            thread::scope(|s| {
                let q = &q;
                for j in 0..2 {
                    let tx = tx.clone();
                    spawn_blocked(s, q, "join with tasks unfinished", move || {
                        q.join();
                        tx.send(j).unwrap();
                    });
                }
                let timed_joiner = spawn_blocked(s, q, "join_until with tasks unfinished", || {
                    woken(|| q.join_until(Instant::now() + HANDSHAKE))
                });
                for n in 0..3 {
                    assert_eq!(q.get(), Ok(n));
                }
                for n in 0..3 {
                    assert_quiet(&rx, "join returned with tasks unfinished");
                    q.task_done().unwrap();
                    assert_eq!(q.unfinished_tasks(), 2 - n);
                }
                let mut ended = [recv(&rx), recv(&rx)];
                ended.sort_unstable();
                assert_eq!(ended, [0, 1]);
                assert!(joined(timed_joiner));
            });
        });
    }

    #[test]
    fn close_returns_true_exactly_once() {
        let q = BoundedQueue::<u8>::new(1);
        assert!(!q.is_closed());
        assert!(q.close());
        assert!(q.is_closed());
        assert!(!q.close());
        assert!(q.is_closed());
        // Racing closers: one wins.
        for _ in 0..scaled(50) {
            let q = BoundedQueue::<u8>::new(1);
            let start = StdBarrier::new(4);
            let wins = thread::scope(|s| {
                let closers: Vec<_> = (0..4)
                    .map(|_| {
                        s.spawn(|| {
                            start.wait();
                            q.close()
                        })
                    })
                    .collect();
                closers.into_iter().map(joined).filter(|&won| won).count()
            });
            assert_eq!(wins, 1, "close() returned true {wins} times");
        }
    }

    /// After `close`, gets in every form return the queued items in order,
    /// then fail at once.
    #[test]
    fn close_drains_then_fails_every_get() {
        bounded(|| {
            let q = BoundedQueue::new(4);
            for n in 1..=4 {
                q.put(n).unwrap();
            }
            assert!(q.close());
            assert!(q.is_closed());
            assert_eq!(q.len(), 4);
            assert_eq!(q.get(), Ok(1));
            assert_eq!(q.try_get(), Ok(2));
            assert_eq!(q.get_for(LONG), Ok(3));
            assert_eq!(q.get_until(Instant::now() + LONG), Ok(4));
            assert_eq!(q.get(), Err(Closed(())));
            assert_eq!(q.try_get(), Err(TryGetError::Closed));
            let (result, elapsed) = timed(|| q.get_for(LONG));
            assert_eq!(result, Err(GetTimeoutError::Closed));
            assert_prompt(elapsed, LONG);
            let (result, elapsed) = timed(|| q.get_until(Instant::now() + LONG));
            assert_eq!(result, Err(GetTimeoutError::Closed));
            assert_prompt(elapsed, LONG);
            // Closing does not mark tasks done.
            assert_eq!(q.unfinished_tasks(), 4);
        });
    }

    /// `close` wakes every getter blocked on an empty queue, in every form.
    #[test]
    fn close_wakes_every_blocked_getter() {
        bounded(|| {
            let q = BoundedQueue::<u8>::new(2);
            thread::scope(|s| {
                let get = spawn_blocked(s, &q, "get on an empty queue", || q.get());
                let get_for = spawn_blocked(s, &q, "get_for on an empty queue", || {
                    woken(|| q.get_for(HANDSHAKE))
                });
                let get_until = spawn_blocked(s, &q, "get_until on an empty queue", || {
                    woken(|| q.get_until(Instant::now() + HANDSHAKE))
                });
                let next =
                    spawn_blocked(s, &q, "iter().next() on an empty queue", || q.iter().next());
                assert!(q.close());
                assert_eq!(joined(get), Err(Closed(())));
                assert_eq!(joined(get_for), Err(GetTimeoutError::Closed));
                assert_eq!(joined(get_until), Err(GetTimeoutError::Closed));
                assert_eq!(joined(next), None);
            });
        });
    }

    /// `close` wakes every putter blocked on a full queue; each gets its item
    /// back, and the queued items stay.
    #[test]
    fn close_wakes_every_blocked_putter() {
        bounded(|| {
            let q = BoundedQueue::new(2);
            q.put("a").unwrap();
            q.put("b").unwrap();
            thread::scope(|s| {
                let put = spawn_blocked(s, &q, "put on a full queue", || q.put("c"));
                let put_for = spawn_blocked(s, &q, "put_for on a full queue", || {
                    woken(|| q.put_for("d", HANDSHAKE))
                });
                let put_until = spawn_blocked(s, &q, "put_until on a full queue", || {
                    woken(|| q.put_until("e", Instant::now() + HANDSHAKE))
                });
                assert!(q.close());
                assert_eq!(joined(put), Err(Closed("c")));
                assert_eq!(joined(put_for), Err(PutTimeoutError::Closed("d")));
                assert_eq!(joined(put_until), Err(PutTimeoutError::Closed("e")));
            });
            assert_eq!(q.unfinished_tasks(), 2);
            assert_eq!(q.iter().collect::<Vec<_>>(), ["a", "b"]);
        });
    }

    /// `close_and_take` hands back the queued items in FIFO order (here from a
    /// ring that wrapped), leaves the queue closed and empty, and counts them
    /// done.
    #[test]
    fn close_and_take_returns_the_items_in_order() {
        bounded(|| {
            let q = BoundedQueue::new(3);
            for n in 0..7 {
                q.put(n).unwrap();
                if q.is_full() {
                    assert_eq!(q.get(), Ok(n - 2));
                    q.task_done().unwrap();
                }
            }
            // Puts 0..7 into 3 slots, 4 got: 5 and 6 queued across the wrap.
            assert_eq!(q.unfinished_tasks(), 2);
            assert_eq!(q.close_and_take(), [5, 6]);
            assert!(q.is_closed());
            assert!(q.is_empty());
            assert_eq!(q.unfinished_tasks(), 0);
            assert!(q.join_for(Duration::ZERO));
            assert_eq!(q.task_done(), Err(TaskDoneError));
            assert_eq!(q.get(), Err(Closed(())));
            assert_eq!(q.put(7), Err(Closed(7)));
            assert_eq!(q.close_and_take(), Vec::<i32>::new());
            assert!(!q.close());
        });
    }

    /// On a queue already closed, `close_and_take` takes what is left.
    #[test]
    fn close_and_take_after_close_takes_the_rest() {
        let q = BoundedQueue::new(3);
        for n in 0..3 {
            q.put(n).unwrap();
        }
        assert!(q.close());
        assert_eq!(q.try_get(), Ok(0));
        assert_eq!(q.close_and_take(), [1, 2]);
        assert_eq!(q.unfinished_tasks(), 1, "the item got is not done");
        q.task_done().unwrap();
        assert_eq!(q.unfinished_tasks(), 0);
    }

    /// Items got and not yet marked done still hold `join` after
    /// `close_and_take`; marking them done releases it.
    #[test]
    fn close_and_take_leaves_tasks_already_got_unfinished() {
        bounded(|| {
            let q = BoundedQueue::new(4);
            for item in ["a", "b", "c"] {
                q.put(item).unwrap();
            }
            assert_eq!(q.get(), Ok("a"));
            assert_eq!(q.close_and_take(), ["b", "c"]);
            assert_eq!(q.unfinished_tasks(), 1);
            let (joined_in_time, elapsed) = timed(|| q.join_for(TIMEOUT));
            assert!(
                !joined_in_time,
                "join returned with a task got and not done"
            );
            assert_waited(elapsed, TIMEOUT);
            thread::scope(|s| {
                let joiner = spawn_blocked(s, &q, "join with a task unfinished", || q.join());
                q.task_done().unwrap();
                joined(joiner);
            });
            assert_eq!(q.unfinished_tasks(), 0);
            assert_eq!(q.task_done(), Err(TaskDoneError));
        });
    }

    /// Python lets `task_done` run before the item is got; CPython's
    /// `shutdown(immediate=True)` then clamps the count at 0 (`if
    /// self.unfinished_tasks > 0: self.unfinished_tasks -= 1`). So does
    /// `close_and_take` (an earlier version counted every taken item done,
    /// so the count passed the puts and wrapped: `unfinished_tasks()` was
    /// `usize::MAX`, `join` never returned, and `task_done` stopped failing).
    #[test]
    fn close_and_take_after_an_early_task_done_stops_at_zero() {
        bounded(|| {
            let q = BoundedQueue::new(4);
            q.put('a').unwrap();
            q.put('b').unwrap();
            q.task_done().unwrap(); // legal: two tasks, one marked done before any get
            assert_eq!(q.unfinished_tasks(), 1);
            assert_eq!(q.close_and_take(), ['a', 'b']);
            assert_eq!(q.unfinished_tasks(), 0, "the task count went below 0");
            assert!(q.join_for(Duration::ZERO));
            assert_eq!(q.task_done(), Err(TaskDoneError));
        });
    }

    /// Joiners blocked on queued items return when `close_and_take` takes them.
    #[test]
    fn close_and_take_releases_blocked_joiners() {
        bounded(|| {
            let q = BoundedQueue::new(4);
            q.put(1).unwrap();
            q.put(2).unwrap();
            thread::scope(|s| {
                let joiner = spawn_blocked(s, &q, "join with two tasks queued", || q.join());
                let timed_joiner = spawn_blocked(s, &q, "join_for with two tasks queued", || {
                    woken(|| q.join_for(HANDSHAKE))
                });
                assert_eq!(q.close_and_take(), [1, 2]);
                joined(joiner);
                assert!(joined(timed_joiner));
            });
        });
    }

    /// `close_and_take` wakes blocked getters (`Closed`) and blocked putters
    /// (`Closed` with their item, which is not in the returned `Vec`).
    #[test]
    fn close_and_take_wakes_blocked_getters_and_putters() {
        bounded(|| {
            let empty = BoundedQueue::<u8>::new(1);
            let full = BoundedQueue::new(1);
            full.put("queued").unwrap();
            thread::scope(|s| {
                let getter = spawn_blocked(s, &empty, "get on an empty queue", || empty.get());
                let putter = spawn_blocked(s, &full, "put on a full queue", || full.put("blocked"));
                assert_eq!(empty.close_and_take(), Vec::<u8>::new());
                assert_eq!(full.close_and_take(), ["queued"]);
                assert_eq!(joined(getter), Err(Closed(())));
                assert_eq!(joined(putter), Err(Closed("blocked")));
            });
        });
    }

    /// Putters race a consumer and `close_and_take`: every item a put
    /// accepted is got or taken exactly once, every put that failed handed
    /// its item back, and the task count ends at 0.
    #[test]
    fn puts_racing_close_and_take_are_taken_or_handed_back() {
        bounded(|| {
            for round in 0..scaled(20) {
                let q = BoundedQueue::new(8);
                let accepted = AtomicUsize::new(0);
                let (counts, got, taken) = thread::scope(|s| {
                    let _release = CloseOnPanic(&q);
                    let putters: Vec<_> = (0..3)
                        .map(|p| {
                            let (q, accepted) = (&q, &accepted);
                            s.spawn(move || {
                                let mut n = 0;
                                loop {
                                    match q.put((p, n)) {
                                        Ok(()) => n += 1,
                                        Err(Closed(item)) => {
                                            assert_eq!(item, (p, n));
                                            return n;
                                        }
                                    }
                                    accepted.fetch_add(1, Relaxed);
                                }
                            })
                        })
                        .collect();
                    let consumer = s.spawn(|| {
                        let mut got = Vec::new();
                        while let Ok(item) = q.get() {
                            got.push(item);
                            q.task_done().unwrap();
                        }
                        got
                    });
                    spin_until("the putters to get going", || {
                        accepted.load(Relaxed) >= scaled(20 + round * 10)
                    });
                    let taken = q.close_and_take();
                    let counts: Vec<usize> = putters.into_iter().map(joined).collect();
                    (counts, joined(consumer), taken)
                });
                for list in [&got, &taken] {
                    for p in 0..3 {
                        let mine: Vec<usize> = list
                            .iter()
                            .filter(|item| item.0 == p)
                            .map(|item| item.1)
                            .collect();
                        assert!(mine.is_sorted_by(|a, b| a < b), "out of order: {mine:?}");
                    }
                }
                let mut all = got.clone();
                all.extend(&taken);
                all.sort_unstable();
                let expected: Vec<(usize, usize)> = counts
                    .iter()
                    .enumerate()
                    .flat_map(|(p, &n)| (0..n).map(move |i| (p, i)))
                    .collect();
                assert_eq!(all, expected, "round {round}: items lost or duplicated");
                assert_eq!(q.unfinished_tasks(), 0, "round {round}");
                assert!(q.join_for(Duration::ZERO));
            }
        });
    }

    /// `Debug` shows the state and needs no `T: Debug`.
    #[test]
    fn debug_shows_the_state() {
        let q = BoundedQueue::new(3);
        q.put(NotDebug).unwrap();
        q.put(NotDebug).unwrap();
        let _ = q.get().unwrap();
        assert_debug_shows(
            &q,
            &[
                "BoundedQueue",
                "len: 1",
                "capacity: 3",
                "closed: false",
                "unfinished_tasks: 2",
            ],
        );
        q.close();
        assert_debug_shows(&q, &["closed: true"]);
    }
}

// ---------------------------------------------------------------------------
// Iteration
// ---------------------------------------------------------------------------

mod iteration {
    use super::*;

    /// `for x in &queue` gets every item in order and ends once the queue is
    /// closed and drained.
    #[test]
    fn for_loop_ends_once_closed_and_drained() {
        bounded(|| {
            let q = BoundedQueue::new(4);
            let items = scaled(100);
            let got = thread::scope(|s| {
                let _release = CloseOnPanic(&q);
                s.spawn(|| {
                    for n in 0..items {
                        q.put(n).unwrap();
                    }
                    assert!(q.close());
                });
                let mut got = Vec::new();
                for n in &q {
                    got.push(n);
                }
                got
            });
            assert_eq!(got, (0..items).collect::<Vec<_>>());
            assert!(q.is_empty());
        });
    }

    /// The blocking iterator waits for an item, and for the close.
    #[test]
    fn iter_waits_for_an_item_or_the_close() {
        bounded(|| {
            let q = BoundedQueue::new(1);
            thread::scope(|s| {
                let _release = CloseOnPanic(&q);
                let next =
                    spawn_blocked(s, &q, "iter().next() on an empty queue", || q.iter().next());
                q.put(7).unwrap();
                assert_eq!(joined(next), Some(7));
                let next =
                    spawn_blocked(s, &q, "iter().next() on an empty queue", || q.iter().next());
                assert!(q.close());
                assert_eq!(joined(next), None);
            });
        });
    }

    fn assert_fused<I: FusedIterator>(_: &I) {}

    /// `Iter` is fused: once it ended it stays ended (the queue stays closed
    /// and empty).
    #[test]
    fn iter_is_fused() {
        bounded(|| {
            let q = BoundedQueue::new(2);
            q.put(1).unwrap();
            assert!(q.close());
            let mut iter: Iter<'_, i32> = (&q).into_iter();
            assert_fused(&iter);
            assert_eq!(iter.next(), Some(1));
            assert_eq!(iter.next(), None);
            assert_eq!(iter.next(), None);
            assert_eq!(q.put(2), Err(Closed(2)));
            assert_eq!(iter.next(), None);
            assert_eq!(q.iter().next(), None);
        });
    }

    /// `try_iter` takes what is there now, never blocks, and closes nothing.
    #[test]
    fn try_iter_takes_what_is_there_now() {
        let q = BoundedQueue::new(4);
        for n in 1..=3 {
            q.put(n).unwrap();
        }
        let got: Vec<i32> = try_once(|| q.put(99).unwrap(), || q.try_iter().collect());
        assert_eq!(got, [1, 2, 3]);
        assert!(!q.is_closed());
        assert_eq!(
            try_once(|| q.put(99).unwrap(), || q.try_iter().next()),
            None
        );
        q.put(4).unwrap();
        q.put(5).unwrap();
        assert_eq!(q.try_iter().take(1).collect::<Vec<_>>(), [4]);
        assert_eq!(q.len(), 1);
        assert!(q.close());
        let mut iter = q.try_iter();
        assert_eq!(iter.next(), Some(5));
        assert_eq!(iter.next(), None);
        assert_eq!(iter.next(), None);
    }
}

// ---------------------------------------------------------------------------
// Who drops the items
// ---------------------------------------------------------------------------

mod drops {
    use super::*;

    /// The items still queued when the queue drops are dropped with it, each
    /// exactly once, wherever the ring's head and tail stand.
    #[test]
    fn queued_items_drop_with_the_queue_across_laps() {
        for capacity in [1, 3, 4] {
            for extra_gets in 0..capacity {
                let log = DropLog::default();
                let q: BoundedQueue<Tracked<'_>> = BoundedQueue::new(capacity);
                let mut got = Vec::new();
                let puts = 3 * capacity + 2;
                for id in 0..puts {
                    if q.is_full() {
                        got.push(q.try_get().unwrap().id); // dropped here
                    }
                    q.try_put(log.item(id)).unwrap();
                }
                for _ in 0..extra_gets {
                    got.push(q.try_get().unwrap().id);
                }
                assert_eq!(got, (0..got.len()).collect::<Vec<_>>());
                assert_eq!(log.dropped(), got, "only the items got were dropped");
                assert_eq!(q.len(), puts - got.len());
                drop(q);
                assert_eq!(
                    log.dropped(),
                    (0..puts).collect::<Vec<_>>(),
                    "capacity {capacity}, {extra_gets} extra gets: each item dropped once"
                );
            }
        }
    }

    /// A panic in one item's `Drop` while the queue drops still drops every
    /// other item, and reaches the caller.
    #[test]
    fn a_panicking_item_drop_still_drops_the_others() {
        for capacity in [1, 2, 5] {
            for panicking in 0..capacity {
                let log = DropLog::default();
                let q = BoundedQueue::new(capacity);
                // Go round the ring first, so the items straddle the wrap.
                for id in 0..capacity + 2 {
                    q.put(log.item(id)).unwrap();
                    drop(q.get().unwrap());
                }
                let first = capacity + 2;
                for k in 0..capacity {
                    let id = first + k;
                    let item = if k == panicking {
                        log.panicking(id)
                    } else {
                        log.item(id)
                    };
                    q.put(item).unwrap();
                }
                let payload = panic::catch_unwind(AssertUnwindSafe(move || drop(q)))
                    .expect_err("the item's panic reaches the queue's owner");
                assert_eq!(panic_message(&*payload), TRACKED_PANIC);
                assert_eq!(
                    log.dropped(),
                    (0..first + capacity).collect::<Vec<_>>(),
                    "capacity {capacity}, item {panicking} of the queue panicked"
                );
            }
        }
    }

    /// Failed puts and `close_and_take` hand items back and drop none.
    #[test]
    fn failed_puts_and_close_and_take_drop_nothing() {
        bounded(|| {
            let log = DropLog::default();
            let q = BoundedQueue::new(2);
            q.put(log.item(0)).unwrap();
            q.put(log.item(1)).unwrap();
            let back = q.try_put(log.item(2)).unwrap_err().into_inner();
            let back = try_once(
                || {
                    let _ = q.try_get();
                },
                || q.put_for(back, Duration::ZERO),
            );
            let back = back.unwrap_err().into_inner();
            let back = q
                .put_for(back, Duration::from_millis(1))
                .unwrap_err()
                .into_inner();
            assert_eq!(back.id, 2);
            assert!(log.dropped().is_empty(), "a failed put dropped an item");
            let taken = q.close_and_take();
            assert_eq!(ids(&taken), [0, 1]);
            assert!(log.dropped().is_empty(), "close_and_take dropped an item");
            let back = q.put(back).unwrap_err().into_inner();
            let back = q.try_put(back).unwrap_err().into_inner();
            assert!(
                log.dropped().is_empty(),
                "a put on a closed queue dropped an item"
            );
            drop(q);
            assert!(
                log.dropped().is_empty(),
                "the drained queue dropped an item"
            );
            drop(taken);
            drop(back);
            assert_eq!(log.dropped(), [0, 1, 2]);
        });
    }
}

// ---------------------------------------------------------------------------
// Bad input and the error types
// ---------------------------------------------------------------------------

mod bad_input {
    use super::*;

    #[test]
    fn new_zero_panics_naming_the_rule() {
        let msg = panic_of("BoundedQueue::new(0)", || BoundedQueue::<u8>::new(0));
        assert!(
            msg.contains("capacity must be at least 1"),
            "unclear panic message: {msg}"
        );
    }

    #[test]
    fn new_above_the_maximum_panics_naming_the_limit() {
        let msg = panic_of("BoundedQueue::new(usize::MAX)", || {
            BoundedQueue::<u8>::new(usize::MAX)
        });
        assert!(
            msg.contains("above the maximum") && msg.contains(&usize::MAX.to_string()),
            "unclear panic message: {msg}"
        );
    }

    /// Every error is a `std::error::Error` with a Display that says what
    /// happened (and, for a put, that the item is handed back).
    #[test]
    fn errors_describe_what_happened() {
        let cases: Vec<(Box<dyn Error + Send + Sync>, &[&str])> = vec![
            (Box::new(Closed(NotDebug)), &["closed"]),
            (Box::new(Closed(())), &["closed"]),
            (
                Box::new(TryPutError::Full(NotDebug)),
                &["full", "handed back"],
            ),
            (
                Box::new(TryPutError::Closed(NotDebug)),
                &["closed", "handed back"],
            ),
            (
                Box::new(PutTimeoutError::Timeout(NotDebug)),
                &["timed out", "room", "handed back"],
            ),
            (
                Box::new(PutTimeoutError::Closed(NotDebug)),
                &["closed", "handed back"],
            ),
            (Box::new(TryGetError::Empty), &["empty"]),
            (Box::new(TryGetError::Closed), &["closed", "drained"]),
            (Box::new(GetTimeoutError::Timeout), &["timed out", "item"]),
            (Box::new(GetTimeoutError::Closed), &["closed", "drained"]),
            (Box::new(TaskDoneError), &["task_done", "more", "put"]),
        ];
        for (err, words) in cases {
            let text = err.to_string();
            for word in words {
                assert!(text.contains(word), "{word:?} missing from {text:?}");
            }
            assert!(err.source().is_none());
        }
    }

    /// `Debug` of the put errors needs no `T: Debug` (so `unwrap` works on
    /// any queue), and hides the item.
    #[test]
    fn error_debug_needs_no_item_debug() {
        bounded(|| {
            assert_eq!(format!("{:?}", Closed(NotDebug)), "Closed(..)");
            assert_eq!(format!("{:?}", TryPutError::Full(NotDebug)), "Full(..)");
            assert_eq!(format!("{:?}", TryPutError::Closed(NotDebug)), "Closed(..)");
            assert_eq!(
                format!("{:?}", PutTimeoutError::Timeout(NotDebug)),
                "Timeout(..)"
            );
            assert_eq!(
                format!("{:?}", PutTimeoutError::Closed(NotDebug)),
                "Closed(..)"
            );
            assert_eq!(format!("{:?}", TryGetError::Empty), "Empty");
            assert_eq!(format!("{:?}", GetTimeoutError::Timeout), "Timeout");
            assert_eq!(format!("{TaskDoneError:?}"), "TaskDoneError");
            let q = BoundedQueue::new(1);
            q.put(NotDebug).unwrap();
            q.try_put(NotDebug).unwrap_err();
            q.put_for(NotDebug, Duration::from_millis(1)).unwrap_err();
            q.get().unwrap();
        });
    }

    /// The conversions and accessors of the error types.
    #[test]
    fn error_conversions_and_accessors() {
        assert_eq!(TryPutError::from(Closed(1)), TryPutError::Closed(1));
        assert_eq!(PutTimeoutError::from(Closed(1)), PutTimeoutError::Closed(1));
        assert_eq!(TryGetError::from(Closed(())), TryGetError::Closed);
        assert_eq!(GetTimeoutError::from(Closed(())), GetTimeoutError::Closed);
        assert_eq!(Closed(5).into_inner(), 5);
        assert!(TryGetError::Empty.is_empty() && !TryGetError::Empty.is_closed());
        assert!(TryGetError::Closed.is_closed() && !TryGetError::Closed.is_empty());
        assert!(GetTimeoutError::Timeout.is_timeout() && !GetTimeoutError::Timeout.is_closed());
        assert!(GetTimeoutError::Closed.is_closed() && !GetTimeoutError::Closed.is_timeout());
        // `?` turns every error into a boxed one.
        fn put_on_closed() -> Result<(), Box<dyn Error + Send + Sync>> {
            let q = BoundedQueue::new(1);
            q.close();
            q.put("x")?;
            Ok(())
        }
        assert_eq!(
            put_on_closed().unwrap_err().to_string(),
            "the queue is closed"
        );
    }
}

// ---------------------------------------------------------------------------
// Send and Sync
// ---------------------------------------------------------------------------

mod send_sync {
    use super::*;

    fn assert_send_sync<T: ?Sized + Send + Sync>() {}
    fn assert_error<E: Error + Send + Sync + 'static>() {}

    /// Compiles only where `T` is not `Send`: if both impls apply, the `_`
    /// below is ambiguous (the `static_assertions` trick).
    trait AmbiguousIfSend<A> {
        fn some_item() {}
    }
    impl<T: ?Sized> AmbiguousIfSend<()> for T {}
    impl<T: ?Sized + Send> AmbiguousIfSend<u8> for T {}

    /// Compiles only where `T` is not `Sync`.
    trait AmbiguousIfSync<A> {
        fn some_item() {}
    }
    impl<T: ?Sized> AmbiguousIfSync<()> for T {}
    impl<T: ?Sized + Sync> AmbiguousIfSync<u8> for T {}

    /// `BoundedQueue<T>: Send + Sync` for every `T: Send` (also `!Sync` ones:
    /// the queue never shares an item), and neither for a `T` that is not `Send`.
    #[test]
    fn queue_is_send_and_sync_exactly_when_items_are_send() {
        assert_send_sync::<BoundedQueue<u8>>();
        assert_send_sync::<BoundedQueue<Cell<u8>>>();
        assert_send_sync::<BoundedQueue<Box<dyn FnOnce() + Send>>>();
        assert_send_sync::<Arc<BoundedQueue<Cell<u8>>>>();
        let _ = <BoundedQueue<Rc<u8>> as AmbiguousIfSend<_>>::some_item;
        let _ = <BoundedQueue<Rc<u8>> as AmbiguousIfSync<_>>::some_item;
        assert_error::<Closed<String>>();
        assert_error::<Closed>();
        assert_error::<TryPutError<String>>();
        assert_error::<PutTimeoutError<String>>();
        assert_error::<TryGetError>();
        assert_error::<GetTimeoutError>();
        assert_error::<TaskDoneError>();
    }

    /// An `Arc<BoundedQueue>` shared by `'static` threads: a producer of boxed
    /// `Cell`s (`Send`, not `Sync`) and two consumers.
    #[test]
    fn arc_queue_across_spawned_threads() {
        const ITEMS: u64 = scaled(1000) as u64;
        bounded(|| {
            let q = Arc::new(BoundedQueue::new(4));
            let producer = {
                let q = Arc::clone(&q);
                thread::spawn(move || {
                    for n in 0..ITEMS {
                        q.put(Box::new(Cell::new(n))).unwrap();
                    }
                    q.close()
                })
            };
            let consumers: Vec<_> = (0..2)
                .map(|_| {
                    let q = Arc::clone(&q);
                    thread::spawn(move || q.iter().map(|cell| cell.get()).collect::<Vec<u64>>())
                })
                .collect();
            assert!(producer.join().unwrap());
            let mut all = Vec::new();
            for consumer in consumers {
                let got = consumer.join().unwrap();
                assert!(got.is_sorted_by(|a, b| a < b), "one producer: FIFO");
                all.extend(got);
            }
            all.sort_unstable();
            assert_eq!(all, (0..ITEMS).collect::<Vec<_>>());
            assert_eq!(Arc::strong_count(&q), 1);
            assert_eq!(q.unfinished_tasks(), ITEMS as usize);
        });
    }
}

// ---------------------------------------------------------------------------
// Stress
// ---------------------------------------------------------------------------

mod stress {
    use super::*;

    /// The SPEC's 10^6 items in optimised builds. Under `debug_assertions` (a
    /// plain `cargo test`) 10^5, to keep the whole file near a second: with
    /// 10^6 there, measured on the 2-CPU VM, the six stress tests take 4.4 s
    /// one at a time and the file 6 s instead of 1.4 s. Under Miri `scaled`.
    #[cfg(not(debug_assertions))]
    const ITEMS: usize = 1_000_000;
    #[cfg(debug_assertions)]
    const ITEMS: usize = scaled(100_000);

    /// Consumers leave the `task_done` of every item whose sequence number is
    /// a multiple of this to the end, so the count to check is not 0.
    const LEAVE_EVERY: usize = 8;

    /// Puts producer `p`'s items `p * per .. (p + 1) * per` in order, cycling
    /// through the put forms.
    fn produce(q: &BoundedQueue<usize>, p: usize, per: usize) {
        for seq in 0..per {
            let item = p * per + seq;
            let accepted = match seq % 4 {
                0 => q.put(item).is_ok(),
                1 => match q.try_put(item) {
                    Err(TryPutError::Full(item)) => q.put(item).is_ok(),
                    other => other.is_ok(),
                },
                2 => woken(|| q.put_for(item, HANDSHAKE)).is_ok(),
                _ => woken(|| q.put_until(item, Instant::now() + HANDSHAKE)).is_ok(),
            };
            assert!(accepted, "producer {p}: put {seq} failed on an open queue");
        }
    }

    /// Gets (in consumer `c`'s form) until the queue is closed and drained;
    /// checks each producer's order and that no item comes twice. Returns the
    /// items got and the tasks left unfinished.
    fn consume(
        q: &BoundedQueue<usize>,
        c: usize,
        producers: usize,
        per: usize,
        seen: &[AtomicBool],
    ) -> (usize, usize) {
        let mut last: Vec<Option<usize>> = vec![None; producers];
        let (mut count, mut left) = (0, 0);
        let mut take = |item: usize| {
            let (p, seq) = (item / per, item % per);
            assert!(p < producers, "an item nobody put: {item}");
            if let Some(prev) = last[p] {
                assert!(
                    seq > prev,
                    "consumer {c}: producer {p}'s item {seq} came after its item {prev}"
                );
            }
            last[p] = Some(seq);
            assert!(!seen[item].swap(true, Relaxed), "item {item} got twice");
            count += 1;
            if seq % LEAVE_EVERY == 0 {
                left += 1;
            } else {
                q.task_done().expect("a task_done for an item got");
            }
        };
        match c % 4 {
            0 => {
                while let Ok(item) = q.get() {
                    take(item);
                }
            }
            1 => q.iter().for_each(&mut take),
            2 => loop {
                match woken(|| q.get_for(HANDSHAKE)) {
                    Ok(item) => take(item),
                    Err(GetTimeoutError::Closed) => break,
                    Err(GetTimeoutError::Timeout) => panic!("consumer {c} starved: a lost wake-up"),
                }
            },
            _ => loop {
                match q.try_get() {
                    Ok(item) => take(item),
                    Err(TryGetError::Empty) => thread::yield_now(),
                    Err(TryGetError::Closed) => break,
                }
            },
        }
        (count, left)
    }

    /// `producers` × `consumers` threads move `items` through a queue of
    /// `capacity`: every item is got exactly once, each producer's in order,
    /// and the task count is exact at the end.
    fn mpmc(producers: usize, consumers: usize, capacity: usize, items: usize) {
        let per = items / producers;
        let q = BoundedQueue::new(capacity);
        let seen: Vec<AtomicBool> = (0..producers * per)
            .map(|_| AtomicBool::new(false))
            .collect();
        let results: Vec<(usize, usize)> = thread::scope(|s| {
            let _release = CloseOnPanic(&q);
            let (q, seen) = (&q, &seen[..]);
            let producer_threads: Vec<_> = (0..producers)
                .map(|p| s.spawn(move || produce(q, p, per)))
                .collect();
            let consumer_threads: Vec<_> = (0..consumers)
                .map(|c| s.spawn(move || consume(q, c, producers, per, seen)))
                .collect();
            for producer in producer_threads {
                joined(producer);
            }
            assert!(q.close());
            consumer_threads.into_iter().map(joined).collect()
        });
        let got: usize = results.iter().map(|&(count, _)| count).sum();
        assert_eq!(got, producers * per, "items lost");
        assert!(seen.iter().all(|seen| seen.load(Relaxed)));
        assert!(q.is_empty() && q.is_closed());
        let left: usize = results.iter().map(|&(_, left)| left).sum();
        assert_eq!(left, producers * per.div_ceil(LEAVE_EVERY));
        assert_eq!(q.unfinished_tasks(), left);
        assert!(!q.join_for(Duration::ZERO));
        for _ in 0..left {
            q.task_done().unwrap();
        }
        assert_eq!(q.task_done(), Err(TaskDoneError));
        assert_eq!(q.unfinished_tasks(), 0);
        assert!(q.join_for(Duration::ZERO));
    }

    #[test]
    fn mpmc_4x4_capacity_64() {
        bounded(|| mpmc(4, 4, 64, ITEMS));
    }

    #[test]
    fn mpmc_4x4_capacity_2() {
        bounded(|| mpmc(4, 4, 2, ITEMS / 10));
    }

    #[test]
    fn mpmc_4x4_capacity_1() {
        bounded(|| mpmc(4, 4, 1, ITEMS / 10));
    }

    /// The same with every thread on one CPU (each test's `bounded` runner
    /// pins itself first; the threads it spawns inherit its affinity).
    #[cfg(target_os = "linux")]
    mod one_cpu {
        use super::*;

        // glibc's affinity calls; `cpu_set_t` is 1024 bits.
        unsafe extern "C" {
            fn sched_getaffinity(pid: i32, size: usize, mask: *mut u64) -> i32;
            fn sched_setaffinity(pid: i32, size: usize, mask: *const u64) -> i32;
        }
        const CPU_SET_WORDS: usize = 1024 / 64;

        /// Pins the calling thread to the first CPU it may use.
        fn pin_to_one_cpu() {
            let mut mask = [0u64; CPU_SET_WORDS];
            // SAFETY: `mask` is a writable `cpu_set_t`-sized buffer; pid 0 is this thread.
            let rc = unsafe { sched_getaffinity(0, size_of_val(&mask), mask.as_mut_ptr()) };
            assert_eq!(rc, 0, "sched_getaffinity failed");
            let cpu = (0..1024)
                .find(|&cpu| mask[cpu / 64] >> (cpu % 64) & 1 == 1)
                .expect("some CPU is allowed");
            let mut one = [0u64; CPU_SET_WORDS];
            one[cpu / 64] |= 1 << (cpu % 64);
            // SAFETY: `one` is a `cpu_set_t`-sized buffer; pid 0 is this thread.
            let rc = unsafe { sched_setaffinity(0, size_of_val(&one), one.as_ptr()) };
            assert_eq!(rc, 0, "sched_setaffinity({cpu}) failed");
        }

        #[test]
        fn mpmc_4x4_capacity_64_on_one_cpu() {
            bounded(|| {
                pin_to_one_cpu();
                mpmc(4, 4, 64, ITEMS);
            });
        }

        #[test]
        fn mpmc_4x4_capacity_2_on_one_cpu() {
            bounded(|| {
                pin_to_one_cpu();
                mpmc(4, 4, 2, ITEMS / 10);
            });
        }

        #[test]
        fn mpmc_4x4_capacity_1_on_one_cpu() {
            bounded(|| {
                pin_to_one_cpu();
                mpmc(4, 4, 1, ITEMS / 10);
            });
        }
    }
}
