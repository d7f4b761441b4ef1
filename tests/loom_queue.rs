//! Loom models of `BoundedQueue` (the lock-free ring, its blocking layer, close,
//! `close_and_take` and the task accounting).
//!
//! Run with `LOOM_MAX_PREEMPTIONS=2 RUSTFLAGS="--cfg loom -C debug-assertions" cargo
//! test --release --target-dir target/loom --test loom_queue`. Each model is 2-3
//! threads at capacity 1 or 2 and names the property it checks. Under loom the queue
//! runs on loom's atomics and cells (a slot read and written at once is a data-race
//! report), an untimed wait is a real loom park (a lost wake-up is a deadlock
//! report), and a timed wait yields once and then may time out.
//!
//! The two-thread models run at the preemption bound the environment sets (2 in
//! CI); the three-thread ones at most at the bound [`model_bounded`] is given.
//! The whole file takes about 40 s one test at a time (release, bound 2).
#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use loom::thread;
use std::time::Duration;
use threadkit::{BoundedQueue, Closed, GetTimeoutError, PutTimeoutError, TryGetError};

/// A timeout that never passes while a model runs: under loom a timed wait yields
/// once and then times out whatever the duration, so only the model decides.
const TIMEOUT: Duration = Duration::from_secs(3600);

/// Asserts that `seen` holds every item of `expected` exactly once (no item lost,
/// none duplicated), in any order.
fn exactly_once(mut seen: Vec<u32>, expected: &[u32]) {
    seen.sort_unstable();
    let mut expected = expected.to_vec();
    expected.sort_unstable();
    assert_eq!(seen, expected, "an item was lost or duplicated");
}

/// Asserts that `a` comes before `b` in `seen` (one producer's FIFO order).
fn in_order(seen: &[u32], a: u32, b: u32) {
    let at = |item| seen.iter().position(|&x| x == item);
    assert!(at(a) < at(b), "{a} was put before {b}, got {seen:?}");
}

/// Spawns a thread that runs `f` on the queue.
fn spawn<T, R>(
    queue: &Arc<BoundedQueue<T>>,
    f: impl FnOnce(&BoundedQueue<T>) -> R + Send + 'static,
) -> thread::JoinHandle<R>
where
    T: Send + 'static,
    R: Send + 'static,
{
    let queue = Arc::clone(queue);
    thread::spawn(move || f(&queue))
}

/// Puts each item in turn, blocking while the queue is full.
fn put_all(queue: &BoundedQueue<u32>, items: &[u32]) {
    for &item in items {
        assert!(
            queue.put(item).is_ok(),
            "put {item} on an open queue failed"
        );
    }
}

/// Gets `n` items, blocking while the queue is empty.
fn get_n(queue: &BoundedQueue<u32>, n: usize) -> Vec<u32> {
    (0..n)
        .map(|_| queue.get().expect("the queue is never closed here"))
        .collect()
}

/// Runs `f` as a loom model at most `preemptions` preemptions deep (fewer if
/// `LOOM_MAX_PREEMPTIONS` says so), for the models of three threads.
///
/// Two threads that wait in the ring's lock-free loops for a third (which has
/// claimed a slot and not yet stamped it) yield to each other, and loom charges
/// no preemption for a switch after a yield: at the bound of 2 the schedules in
/// which they take turns grow without end, and such a model exceeds loom's
/// branch limit (two getters beside a put) or takes minutes. The models where
/// that cannot happen, or stays affordable, run at 2; the others at 1.
fn model_bounded(preemptions: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(
        builder
            .preemption_bound
            .map_or(preemptions, |bound| bound.min(preemptions)),
    );
    builder.check(f);
}

/// Two producers and one consumer (the main thread): every item arrives exactly
/// once, each producer's in the order it put them.
fn two_producers_one_consumer(
    preemptions: usize,
    capacity: usize,
    a: &'static [u32],
    b: &'static [u32],
) {
    model_bounded(preemptions, move || {
        let queue = Arc::new(BoundedQueue::new(capacity));
        let producer_a = spawn(&queue, move |queue| put_all(queue, a));
        let producer_b = spawn(&queue, move |queue| put_all(queue, b));
        let seen = get_n(&queue, a.len() + b.len());
        producer_a.join().unwrap();
        producer_b.join().unwrap();
        for items in [a, b] {
            for pair in items.windows(2) {
                in_order(&seen, pair[0], pair[1]);
            }
        }
        exactly_once(seen, &[a, b].concat());
        assert_eq!(
            queue.try_get(),
            Err(TryGetError::Empty),
            "an item left over"
        );
    });
}

/// Capacity 1, two producers of one item each: both puts contend for the one
/// slot (one of them waits for the get), and the consumer gets each item once.
/// Bound 1 (40 s at 2).
#[test]
fn cap1_two_producers_one_consumer_lose_and_duplicate_nothing() {
    two_producers_one_consumer(1, 1, &[1], &[2]);
}

/// Capacity 2, producers of two items and one: three puts wrap the ring while
/// the consumer gets; each item arrives once, producer A's in its order.
/// Bound 1 (at 2 it exceeds loom's branch limit).
#[test]
fn cap2_two_producers_one_consumer_fifo_per_producer_across_the_wrap() {
    two_producers_one_consumer(1, 2, &[1, 2], &[3]);
}

/// Capacity 1, one producer of three items and one consumer, at the full
/// preemption bound: every put after the first reuses the slot of the previous
/// lap (a get still reading it while the put writes is a loom data-race
/// report), and the items come out in order.
#[test]
fn cap1_handover_across_laps_keeps_fifo() {
    loom::model(|| {
        let queue = Arc::new(BoundedQueue::new(1));
        let producer = spawn(&queue, |queue| put_all(queue, &[1, 2, 3]));
        assert_eq!(get_n(&queue, 3), [1, 2, 3], "FIFO across laps");
        producer.join().unwrap();
        assert_eq!(
            queue.try_get(),
            Err(TryGetError::Empty),
            "an item left over"
        );
    });
}

/// One producer of two items and two consumers of one each: each item goes to
/// exactly one consumer.
fn one_producer_two_consumers(preemptions: usize, capacity: usize) {
    model_bounded(preemptions, move || {
        let queue = Arc::new(BoundedQueue::new(capacity));
        let consumer = spawn(&queue, |queue| get_n(queue, 1));
        let producer = spawn(&queue, |queue| put_all(queue, &[1, 2]));
        let mut seen = get_n(&queue, 1);
        seen.extend(consumer.join().unwrap());
        producer.join().unwrap();
        exactly_once(seen, &[1, 2]);
        assert_eq!(
            queue.try_get(),
            Err(TryGetError::Empty),
            "an item left over"
        );
    });
}

/// Capacity 1: every put after the first waits for a get. Bound 1 (more than
/// 5 minutes at 2).
#[test]
fn cap1_one_producer_two_consumers_each_item_once() {
    one_producer_two_consumers(1, 1);
}

/// Capacity 2: both items may be queued at once, both consumers may find one.
/// Bound 2.
#[test]
fn cap2_one_producer_two_consumers_each_item_once() {
    one_producer_two_consumers(2, 2);
}

/// No lost wake-up for a put that waits for room: capacity 1 holds an item,
/// a second put must wait for the get that takes it (a put left parked is a
/// loom deadlock report); then the get of the second item may wait for it.
#[test]
fn cap1_put_waiting_for_room_is_woken_by_a_get() {
    loom::model(|| {
        let queue = Arc::new(BoundedQueue::new(1));
        queue.put(1).unwrap();
        let putter = spawn(&queue, |queue| queue.put(2).is_ok());
        assert_eq!(queue.get(), Ok(1));
        assert_eq!(queue.get(), Ok(2));
        assert!(putter.join().unwrap(), "the put failed on an open queue");
    });
}

/// No lost wake-up for a get that waits for an item (a get left parked is a
/// loom deadlock report).
#[test]
fn get_waiting_for_an_item_is_woken_by_a_put() {
    loom::model(|| {
        let queue = Arc::new(BoundedQueue::new(1));
        let getter = spawn(&queue, |queue| queue.get());
        queue.put(1).unwrap();
        assert_eq!(getter.join().unwrap(), Ok(1));
        assert_eq!(
            queue.try_get(),
            Err(TryGetError::Empty),
            "the item came out twice"
        );
    });
}

/// Everything before a put happens-before the get that returns its item: a
/// relaxed store before the put is visible to the getter.
#[test]
fn put_happens_before_the_get_of_its_item() {
    loom::model(|| {
        let shared = Arc::new((BoundedQueue::new(1), AtomicUsize::new(0)));
        let getter = {
            let shared = Arc::clone(&shared);
            thread::spawn(move || {
                let (queue, work) = &*shared;
                assert_eq!(queue.get(), Ok(1));
                // Relaxed on purpose: only the queue orders it.
                assert_eq!(work.load(Relaxed), 42, "the putter's write is not visible");
            })
        };
        let (queue, work) = &*shared;
        work.store(42, Relaxed);
        queue.put(1).unwrap();
        getter.join().unwrap();
    });
}

/// `close` happens-before a put that fails because of it (the documented
/// promise): a relaxed store before the close is visible to that put's caller.
#[test]
fn close_happens_before_a_put_that_fails() {
    loom::model(|| {
        let shared = Arc::new((BoundedQueue::new(1), AtomicUsize::new(0)));
        let putter = {
            let shared = Arc::clone(&shared);
            thread::spawn(move || {
                let (queue, work) = &*shared;
                if queue.put(1).is_err() {
                    // Relaxed on purpose: only the queue orders it.
                    assert_eq!(work.load(Relaxed), 42, "the closer's write is not visible");
                }
            })
        };
        let (queue, work) = &*shared;
        work.store(42, Relaxed);
        queue.close();
        putter.join().unwrap();
    });
}

/// `close` happens-before a get that reports `Closed` (the documented
/// promise): a relaxed store before the close is visible to that get's caller.
#[test]
fn close_happens_before_a_get_that_reports_closed() {
    loom::model(|| {
        let shared = Arc::new((BoundedQueue::<u32>::new(1), AtomicUsize::new(0)));
        let getter = {
            let shared = Arc::clone(&shared);
            thread::spawn(move || {
                let (queue, work) = &*shared;
                if queue.try_get() == Err(TryGetError::Closed) {
                    // Relaxed on purpose: only the queue orders it.
                    assert_eq!(work.load(Relaxed), 42, "the closer's write is not visible");
                }
            })
        };
        let (queue, work) = &*shared;
        work.store(42, Relaxed);
        queue.close();
        getter.join().unwrap();
    });
}

/// `close` wakes a put waiting for room, which hands its item back in `Closed`;
/// the item queued before the close still comes out, then gets report `Closed`.
#[test]
fn close_wakes_a_waiting_put_and_hands_its_item_back() {
    loom::model(|| {
        let queue = Arc::new(BoundedQueue::new(1));
        queue.put(1).unwrap();
        let putter = spawn(&queue, |queue| queue.put(2));
        assert!(queue.close(), "the first close closes");
        assert_eq!(
            putter.join().unwrap(),
            Err(Closed(2)),
            "the item is handed back"
        );
        assert_eq!(
            queue.get(),
            Ok(1),
            "an item queued before the close is kept"
        );
        assert_eq!(queue.get(), Err(Closed(())));
    });
}

/// `close` wakes a get waiting on an empty queue, which reports `Closed`.
#[test]
fn close_wakes_a_waiting_get() {
    loom::model(|| {
        let queue = Arc::new(BoundedQueue::<u32>::new(1));
        let getter = spawn(&queue, |queue| queue.get());
        assert!(queue.close(), "the first close closes");
        assert_eq!(getter.join().unwrap(), Err(Closed(())));
        assert!(queue.put(1).is_err(), "a put after the close succeeded");
    });
}

/// Close races a put waiting for room (capacity 1, item 1 queued) and a
/// consumer that gets twice (its second get waits for the put or the close):
/// both wake; the consumer gets item 1 first (queued before the close), and
/// item 2 exactly when the put succeeded, which otherwise hands it back in
/// `Closed`. Nothing is lost or left behind. Bound 2.
#[test]
fn close_racing_a_waiting_put_and_a_waiting_get_loses_nothing() {
    model_bounded(2, || {
        let queue = Arc::new(BoundedQueue::new(1));
        queue.put(1).unwrap();
        let putter = spawn(&queue, |queue| queue.put(2));
        let getter = spawn(&queue, |queue| {
            let mut got = Vec::new();
            while got.len() < 2 {
                match queue.get() {
                    Ok(item) => got.push(item),
                    Err(Closed(())) => break,
                }
            }
            got
        });
        queue.close();
        let put = putter.join().unwrap();
        let got = getter.join().unwrap();
        match put {
            Ok(()) => assert_eq!(got, [1, 2], "a put before the close is got"),
            Err(Closed(item)) => {
                assert_eq!(item, 2, "the failed put hands its own item back");
                assert_eq!(got, [1], "only the item queued before the close is got");
            }
        }
        assert_eq!(
            queue.try_get(),
            Err(TryGetError::Closed),
            "an item left behind"
        );
    });
}

/// `close_and_take` races a put waiting for room (capacity 1, item 1 queued)
/// and a get: each item is got, taken or handed back by the put, exactly once;
/// taken items count as done tasks, a got one stays unfinished. Bound 2.
#[test]
fn close_and_take_racing_a_put_and_a_get_accounts_for_every_item() {
    model_bounded(2, || {
        let queue = Arc::new(BoundedQueue::new(1));
        queue.put(1).unwrap();
        let putter = spawn(&queue, |queue| queue.put(2));
        let getter = spawn(&queue, |queue| queue.get());
        let taken = queue.close_and_take();
        let mut seen = taken.clone();
        if let Err(Closed(item)) = putter.join().unwrap() {
            seen.push(item);
        }
        let got = getter.join().unwrap();
        assert!(
            taken.windows(2).all(|pair| pair[0] < pair[1]),
            "taken out of order: {taken:?}"
        );
        assert_eq!(
            queue.unfinished_tasks(),
            usize::from(got.is_ok()),
            "taken items are done tasks, the got one is not"
        );
        seen.extend(got);
        exactly_once(seen, &[1, 2]);
        assert!(queue.is_closed());
        assert_eq!(
            queue.try_get(),
            Err(TryGetError::Closed),
            "an item left behind"
        );
    });
}

/// The items `close_and_take` hands back count as done tasks: a `join`
/// waiting for the one queued item returns (a join left parked is a loom
/// deadlock report).
#[test]
fn close_and_take_releases_a_waiting_join() {
    loom::model(|| {
        let queue = Arc::new(BoundedQueue::new(1));
        queue.put(1).unwrap();
        let joiner = spawn(&queue, |queue| {
            queue.join();
            assert_eq!(
                queue.unfinished_tasks(),
                0,
                "join returned with a task unfinished"
            );
        });
        assert_eq!(queue.close_and_take(), [1]);
        joiner.join().unwrap();
        assert!(
            queue.task_done().is_err(),
            "a taken item's task is already done"
        );
    });
}

/// `join` waits for the consumer's `task_done` and happens-after it: the
/// consumer's work (a relaxed store before `task_done`) is visible when `join`
/// returns, and no task is unfinished then. A second `task_done` for the one
/// item fails and changes nothing.
#[test]
fn join_returns_only_after_the_last_task_done() {
    loom::model(|| {
        let shared = Arc::new((BoundedQueue::new(1), AtomicUsize::new(0)));
        shared.0.put(7).unwrap();
        let consumer = {
            let shared = Arc::clone(&shared);
            thread::spawn(move || {
                let (queue, work) = &*shared;
                let item = queue.get().unwrap();
                // Relaxed on purpose: only the queue orders it.
                work.store(item as usize, Relaxed);
                queue.task_done().unwrap();
                assert!(
                    queue.task_done().is_err(),
                    "one put, two task_done calls succeeded"
                );
            })
        };
        let (queue, work) = &*shared;
        queue.join();
        assert_eq!(
            work.load(Relaxed),
            7,
            "join returned before the task was done"
        );
        assert_eq!(queue.unfinished_tasks(), 0);
        consumer.join().unwrap();
        assert_eq!(
            queue.unfinished_tasks(),
            0,
            "a failed task_done changed the count"
        );
    });
}

/// `join` counts every put before it, also one that waited for room
/// (capacity 1): the count reaches 0 between the two tasks, but a join after
/// the second put returns only once both are done, seeing both consumers'
/// writes (relaxed stores before each `task_done`).
#[test]
fn join_after_a_second_put_waits_for_both_tasks() {
    loom::model(|| {
        let shared = Arc::new((BoundedQueue::new(1), AtomicUsize::new(0)));
        let consumer = {
            let shared = Arc::clone(&shared);
            thread::spawn(move || {
                let (queue, work) = &*shared;
                for _ in 0..2 {
                    let item = queue.get().unwrap();
                    // Relaxed on purpose: only the queue orders it.
                    work.store(item as usize, Relaxed);
                    queue.task_done().unwrap();
                }
            })
        };
        let (queue, work) = &*shared;
        queue.put(1).unwrap();
        queue.put(2).unwrap();
        queue.join();
        assert_eq!(
            work.load(Relaxed),
            2,
            "join returned before the second task was done"
        );
        assert_eq!(queue.unfinished_tasks(), 0);
        consumer.join().unwrap();
    });
}

/// Two racing `task_done` calls for one put: exactly one succeeds.
#[test]
fn racing_task_done_calls_succeed_once_per_put() {
    loom::model(|| {
        let queue = Arc::new(BoundedQueue::new(1));
        queue.put(1).unwrap();
        assert_eq!(queue.get(), Ok(1));
        let other = spawn(&queue, |queue| queue.task_done().is_ok());
        let mine = queue.task_done().is_ok();
        assert!(
            mine != other.join().unwrap(),
            "one put: exactly one task_done succeeds"
        );
        assert_eq!(queue.unfinished_tasks(), 0);
        assert!(queue.join_for(Duration::ZERO));
    });
}

/// A timed get racing a put: if it times out, the item the put delivered is
/// still in the queue (it was not taken and dropped, nor left unwoken).
#[test]
fn timed_out_get_leaves_the_item_gettable() {
    loom::model(|| {
        let queue = Arc::new(BoundedQueue::new(1));
        let putter = spawn(&queue, |queue| queue.put(1).is_ok());
        let got = queue.get_for(TIMEOUT);
        assert!(putter.join().unwrap());
        match got {
            Ok(item) => {
                assert_eq!(item, 1);
                assert_eq!(
                    queue.try_get(),
                    Err(TryGetError::Empty),
                    "the item came out twice"
                );
            }
            Err(err) => {
                assert_eq!(err, GetTimeoutError::Timeout);
                assert_eq!(queue.try_get(), Ok(1), "the timed-out get lost the item");
            }
        }
    });
}

/// A timed put waiting for room (capacity 1, item 1 queued) racing a get: if
/// it times out it hands its item back, and the queue does not hold it.
#[test]
fn timed_out_put_hands_its_item_back() {
    loom::model(|| {
        let queue = Arc::new(BoundedQueue::new(1));
        queue.put(1).unwrap();
        let getter = spawn(&queue, |queue| queue.get());
        let put = queue.put_for(2, TIMEOUT);
        assert_eq!(getter.join().unwrap(), Ok(1));
        match put {
            Ok(()) => assert_eq!(queue.try_get(), Ok(2), "the put's item is not queued"),
            Err(err) => {
                assert_eq!(err, PutTimeoutError::Timeout(2), "the item is handed back");
                assert_eq!(
                    queue.try_get(),
                    Err(TryGetError::Empty),
                    "the item is queued too"
                );
            }
        }
    });
}

/// A timed get and an untimed get wait; one put wakes one of them. If the
/// timed one is woken and times out anyway, it must still take the item (or
/// leave the wake-up to the other): the untimed get is never stranded beside
/// a queued item (a loom deadlock report). A second item comes only once the
/// timed get has one. Bound 1 (at 2 it exceeds loom's branch limit).
#[test]
fn timed_out_get_never_strands_a_waiting_get() {
    model_bounded(1, || {
        let queue = Arc::new(BoundedQueue::new(1));
        let timed = spawn(&queue, |queue| queue.get_for(TIMEOUT).ok());
        let untimed = spawn(&queue, |queue| queue.get().unwrap());
        queue.put(1).unwrap();
        let mut seen: Vec<u32> = timed.join().unwrap().into_iter().collect();
        if !seen.is_empty() {
            queue.put(2).unwrap();
        }
        seen.push(untimed.join().unwrap());
        let expected: &[u32] = if seen.len() == 2 { &[1, 2] } else { &[1] };
        exactly_once(seen, expected);
        assert_eq!(
            queue.try_get(),
            Err(TryGetError::Empty),
            "an item left over"
        );
    });
}

/// The same for puts: a timed and an untimed put wait for room (capacity 1,
/// item 1 queued); each get wakes one. A timed put that is woken and times out
/// anyway must still put or leave the wake-up to the other: the untimed put is
/// never stranded beside free room (a loom deadlock report). Bound 1 (at 2 it
/// exceeds loom's branch limit).
#[test]
fn timed_out_put_never_strands_a_waiting_put() {
    model_bounded(1, || {
        let queue = Arc::new(BoundedQueue::new(1));
        queue.put(1).unwrap();
        let timed = spawn(&queue, |queue| queue.put_for(2, TIMEOUT));
        let untimed = spawn(&queue, |queue| queue.put(3).is_ok());
        let mut seen = get_n(&queue, 1);
        let timed = timed.join().unwrap();
        // The untimed put's item, and the timed one's if it went in.
        seen.extend(get_n(&queue, 1 + usize::from(timed.is_ok())));
        assert!(untimed.join().unwrap(), "the put failed on an open queue");
        match timed {
            Ok(()) => exactly_once(seen, &[1, 2, 3]),
            Err(err) => {
                assert_eq!(err, PutTimeoutError::Timeout(2), "the item is handed back");
                exactly_once(seen, &[1, 3]);
            }
        }
        assert_eq!(
            queue.try_get(),
            Err(TryGetError::Empty),
            "an item left over"
        );
    });
}

/// Two producer handles on two threads, one item each, and a consumer that
/// gets until the queue is closed: the last handle's drop closes the queue,
/// whichever thread drops last, and the consumer (which may be parked by
/// then) wakes with both items and `Closed`: a lost wake-up would be a
/// deadlock report. Bound 1.
#[test]
fn the_last_producer_handle_closes_the_queue_for_a_blocked_consumer() {
    model_bounded(1, || {
        // A std `Arc`: the owned handle's API takes one, as `lock_arc` does.
        let queue = std::sync::Arc::new(BoundedQueue::new(1));
        let producers = [queue.producer_arc(), queue.producer_arc()];
        let threads = producers.map(|producer| thread::spawn(move || producer.put(1).unwrap()));
        let mut seen = Vec::new();
        while let Ok(item) = queue.get() {
            seen.push(item);
        }
        assert_eq!(seen, [1, 1], "an item was lost, or the queue closed early");
        for thread in threads {
            thread.join().unwrap();
        }
    });
}
