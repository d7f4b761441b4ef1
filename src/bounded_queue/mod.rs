//! [`BoundedQueue`]: a fixed-capacity MPMC FIFO queue with blocking, closing and
//! Python's task accounting (`queue.Queue`).
//!
//! # How it is built
//!
//! A lock-free ring ([`ring`]: Vyukov's bounded MPMC queue) carries the items;
//! a put or get that finds room or an item never takes a lock. Only a thread
//! that must wait uses the crate's wait-queue engine, with the protocol every
//! threadkit primitive follows:
//!
//! 1. **fast path**: try the ring;
//! 2. **waiting policy**: poll the ring, first briefly (16 `PAUSE`s, about
//!    0.4 µs: the other side is usually running and answers within a
//!    few hundred nanoseconds), then for about a wake-up time where that pays (the
//!    `SpinPolicy` of the lock family), never on one CPU; then yield the CPU
//!    once and look again (always on one CPU; with more CPUs while yields
//!    have been short and found the ring ready, the `YieldPolicy`): when the
//!    other side shares this CPU it runs on and fills or drains several slots,
//!    so a waiter parks once per batch, not per item;
//! 3. **register**: under the getters' (or putters') queue lock, queue a waiter
//!    and raise the ring's flag for that side;
//! 4. **re-check**: the flag's RMW tells whether a put (get) slipped in first;
//!    if so, dequeue and retry;
//! 5. **park** until a put (get) that sees the flag wakes one waiter, or
//!    `close` wakes them all.
//!
//! A woken waiter retries the ring (a faster thread may have taken the item:
//! then it queues again). Because it retries at least once even when its
//! deadline has passed, an item whose put woke it is never left behind while
//! others wait.
//!
//! # Task accounting without a counter on the put path
//!
//! The number of puts is the tail position itself, so a put pays nothing for
//! Python's `unfinished_tasks`: a separate `done` position counts `task_done`
//! calls (and items `close_and_take` hands back), and the unfinished count is
//! the distance between the two. Joiners wait on a third queue, flagged in the
//! `done` word.

mod error;
mod producer;
mod ring;

pub use error::{
    Closed, GetTimeoutError, PutTimeoutError, TaskDoneError, TryGetError, TryPutError,
};
pub use producer::{ArcProducer, Producer};

use core::fmt;
use core::iter::FusedIterator;
use core::time::Duration;

use self::ring::{MAX_CAPACITY, PopError, PushError, Ring};
use crate::facade::{
    self, Arc, AtomicUsize, CachePadded, Instant, Mutex, Ordering, SpinPolicy, YieldPolicy,
};
use crate::wait_queue::{Cancel, NOTIFIED, Spin, WaitQueue, Waiter, Wakeups};

/// A multi-producer multi-consumer FIFO queue of fixed capacity (Python's
/// `queue.Queue(maxsize)`), shared by reference (`&BoundedQueue` or
/// `Arc<BoundedQueue>`).
///
/// - [`put`](BoundedQueue::put) blocks while the queue is full,
///   [`get`](BoundedQueue::get) while it is empty; both have `try_*`, `*_for`
///   and `*_until` forms. A failed put always hands its item back.
/// - [`close`](BoundedQueue::close) ends it: later puts fail, gets drain what is
///   queued and then fail, every blocked thread wakes.
///   [`close_and_take`](BoundedQueue::close_and_take) also hands back every
///   queued item at once (Python 3.13's `shutdown(immediate=True)`, without
///   losing the items).
/// - [`task_done`](BoundedQueue::task_done) and [`join`](BoundedQueue::join):
///   Python's task accounting.
/// - `for item in &queue` gets until the queue is closed and drained.
///
/// Items from one producer come out in the order it put them; no item is lost
/// or duplicated under any interleaving (checked with loom).
///
/// # Happens-before
///
/// - Everything a thread did before a put happens-before the get that returns
///   that item.
/// - `close()` happens-before every put that fails with `Closed` and every get
///   that reports `Closed`.
/// - Everything before each `task_done()` happens-before a `join` that returns
///   `true` because of it.
///
/// # Examples
///
/// ```
/// use std::thread;
/// use threadkit::BoundedQueue;
///
/// let queue = BoundedQueue::new(2);
/// thread::scope(|s| {
///     let producer = queue.producer();
///     s.spawn(move || {
///         for n in 1..=5 {
///             producer.put(n).unwrap(); // blocks while 2 items wait
///         }
///         // `producer` drops: no more work, the consumer's loop ends
///         // (also if this thread panics).
///     });
///     let sum: i32 = queue.iter().sum();
///     assert_eq!(sum, 15);
/// });
/// ```
pub struct BoundedQueue<T> {
    ring: Ring<T>,
    /// Threads waiting for an item (flagged in the ring's tail).
    getters: Mutex<WaitQueue>,
    /// Threads waiting for room (flagged in the ring's head).
    putters: Mutex<WaitQueue>,
    /// Threads in `join` (flagged in `done`).
    joiners: Mutex<WaitQueue>,
    /// The tasks done, as a ring position (see the module docs), with the
    /// ring's spare flag raised while joiners are queued.
    done: CachePadded<AtomicUsize>,
    get_spin: SpinPolicy,
    put_spin: SpinPolicy,
    get_yield: YieldPolicy,
    put_yield: YieldPolicy,
    /// Live producer handles (`producer.rs`): the last one's drop closes.
    producers: AtomicUsize,
}

/// Which side of the queue a thread waits on.
#[derive(Clone, Copy)]
enum Side {
    Getters,
    Putters,
}

impl<T> BoundedQueue<T> {
    /// Creates an empty, open queue that holds at most `capacity` items.
    ///
    /// # Panics
    ///
    /// If `capacity` is 0 (a queue that can hold nothing would block every put
    /// forever; Python's "0 means unbounded" is not this type) or above
    /// `2^(usize::BITS - 10)`.
    ///
    /// ```
    /// let queue = threadkit::BoundedQueue::<String>::new(16);
    /// assert_eq!(queue.capacity(), 16);
    /// assert!(queue.is_empty());
    /// ```
    #[track_caller]
    pub fn new(capacity: usize) -> BoundedQueue<T> {
        assert!(
            capacity != 0,
            "BoundedQueue::new: capacity must be at least 1 (a queue of capacity 0 \
             could never accept an item)"
        );
        assert!(
            capacity <= MAX_CAPACITY,
            "BoundedQueue::new: capacity {capacity} is above the maximum, {MAX_CAPACITY}"
        );
        BoundedQueue {
            ring: Ring::new(capacity),
            getters: facade::mutex(WaitQueue::new()),
            putters: facade::mutex(WaitQueue::new()),
            joiners: facade::mutex(WaitQueue::new()),
            done: CachePadded::new(AtomicUsize::new(0)),
            get_spin: SpinPolicy::new(),
            put_spin: SpinPolicy::new(),
            get_yield: YieldPolicy::new(),
            put_yield: YieldPolicy::new(),
            producers: AtomicUsize::new(0),
        }
    }

    /// The most items the queue holds.
    pub fn capacity(&self) -> usize {
        self.ring.capacity()
    }

    /// How many items are queued right now (Python's `qsize()`): a snapshot
    /// that other threads may change at once.
    ///
    /// ```
    /// let queue = threadkit::BoundedQueue::new(4);
    /// queue.put(()).unwrap();
    /// assert_eq!(queue.len(), 1);
    /// ```
    #[doc(alias = "qsize")]
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// Whether no item is queued right now (a snapshot, as [`len`](Self::len)).
    #[doc(alias = "empty")]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the queue holds [`capacity`](Self::capacity) items right now (a snapshot).
    ///
    /// ```
    /// let queue = threadkit::BoundedQueue::new(1);
    /// queue.put(1).unwrap();
    /// assert!(queue.is_full());
    /// ```
    #[doc(alias = "full")]
    pub fn is_full(&self) -> bool {
        self.len() == self.capacity()
    }

    /// Whether the queue is closed. Once it returns `true`, every later put fails.
    /// If it returns `true`, the `close` happens-before it returns.
    pub fn is_closed(&self) -> bool {
        self.ring.is_closed()
    }

    /// Puts `item` at the back, waiting while the queue is full.
    ///
    /// # Errors
    ///
    /// [`Closed`] with the item if the queue is closed, or closes while this waits.
    ///
    /// Everything before this call happens-before the get that returns `item`.
    ///
    /// ```
    /// let queue = threadkit::BoundedQueue::new(1);
    /// queue.put("job").unwrap();
    /// assert_eq!(queue.get(), Ok("job"));
    /// ```
    pub fn put(&self, item: T) -> Result<(), Closed<T>> {
        self.put_until_inner(item, None).map_err(|err| match err {
            PutTimeoutError::Closed(item) | PutTimeoutError::Timeout(item) => Closed(item),
        })
    }

    /// Puts `item` if there is room now; never blocks (Python's `put_nowait`).
    ///
    /// # Errors
    ///
    /// [`TryPutError::Full`] or [`TryPutError::Closed`], with the item.
    ///
    /// ```
    /// use threadkit::{BoundedQueue, TryPutError};
    ///
    /// let queue = BoundedQueue::new(1);
    /// assert!(queue.try_put(1).is_ok());
    /// assert_eq!(queue.try_put(2), Err(TryPutError::Full(2)));
    /// ```
    #[doc(alias = "put_nowait")]
    pub fn try_put(&self, item: T) -> Result<(), TryPutError<T>> {
        match self.ring.push(item) {
            Ok(getters) => {
                self.wake_after_put(getters);
                Ok(())
            }
            Err(PushError::Full(item)) => Err(TryPutError::Full(item)),
            Err(PushError::Closed(item)) => Err(TryPutError::Closed(item)),
        }
    }

    /// Puts `item`, waiting at most `timeout` for room; a zero timeout tries once.
    ///
    /// # Errors
    ///
    /// [`PutTimeoutError::Timeout`] or [`PutTimeoutError::Closed`], with the item.
    ///
    /// ```
    /// use std::time::Duration;
    /// let queue = threadkit::BoundedQueue::new(1);
    /// assert!(queue.put_for(1, Duration::from_millis(10)).is_ok());
    /// assert!(queue.put_for(2, Duration::ZERO).unwrap_err().is_timeout());
    /// ```
    pub fn put_for(&self, item: T, timeout: Duration) -> Result<(), PutTimeoutError<T>> {
        if timeout.is_zero() {
            return self.try_put(item).map_err(|err| match err {
                TryPutError::Full(item) => PutTimeoutError::Timeout(item),
                TryPutError::Closed(item) => PutTimeoutError::Closed(item),
            });
        }
        self.put_until_inner(item, facade::deadline_after(timeout))
    }

    /// Puts `item`, waiting until `deadline` at most for room; a deadline in
    /// the past tries once.
    ///
    /// # Errors
    ///
    /// [`PutTimeoutError::Timeout`] or [`PutTimeoutError::Closed`], with the item.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let queue = threadkit::BoundedQueue::new(1);
    /// let deadline = Instant::now() + Duration::from_millis(10);
    /// assert!(queue.put_until('x', deadline).is_ok());
    /// ```
    pub fn put_until(&self, item: T, deadline: Instant) -> Result<(), PutTimeoutError<T>> {
        self.put_until_inner(item, Some(deadline))
    }

    fn put_until_inner(
        &self,
        mut item: T,
        deadline: Option<Instant>,
    ) -> Result<(), PutTimeoutError<T>> {
        let mut timed_out = false;
        loop {
            match self.ring.push(item) {
                Ok(getters) => {
                    self.wake_after_put(getters);
                    return Ok(());
                }
                Err(PushError::Closed(back)) => return Err(PutTimeoutError::Closed(back)),
                Err(PushError::Full(back)) => item = back,
            }
            if timed_out || deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                return Err(PutTimeoutError::Timeout(item));
            }
            if facade::poll_shortly(|| self.ring.put_ready())
                || self.put_spin.spin(deadline, || self.ring.put_ready())
                || self.put_yield.yield_now(|| self.ring.put_ready())
            {
                continue;
            }
            timed_out = self.wait(Side::Putters, deadline);
        }
    }

    /// Takes the item at the front, waiting while the queue is empty.
    ///
    /// # Errors
    ///
    /// [`Closed`] once the queue is closed and empty: items queued before the
    /// close are still returned first.
    ///
    /// Everything before the put of the returned item happens-before this returns.
    ///
    /// ```
    /// use std::thread;
    /// let queue = threadkit::BoundedQueue::new(1);
    /// thread::scope(|s| {
    ///     s.spawn(|| queue.put(42).unwrap());
    ///     assert_eq!(queue.get(), Ok(42)); // waits for the put
    /// });
    /// ```
    pub fn get(&self) -> Result<T, Closed> {
        self.get_until_inner(None).map_err(|_| Closed(()))
    }

    /// Takes the front item if there is one now; never blocks (Python's `get_nowait`).
    ///
    /// # Errors
    ///
    /// [`TryGetError::Empty`], or [`TryGetError::Closed`] once closed and empty.
    ///
    /// ```
    /// use threadkit::{BoundedQueue, TryGetError};
    /// let queue = BoundedQueue::new(1);
    /// assert_eq!(queue.try_get(), Err(TryGetError::Empty));
    /// queue.put(7).unwrap();
    /// assert_eq!(queue.try_get(), Ok(7));
    /// ```
    #[doc(alias = "get_nowait")]
    pub fn try_get(&self) -> Result<T, TryGetError> {
        match self.ring.pop() {
            Ok((item, putters)) => {
                self.wake_after_get(putters);
                Ok(item)
            }
            Err(PopError::Empty) => Err(TryGetError::Empty),
            Err(PopError::Closed) => Err(TryGetError::Closed),
        }
    }

    /// Takes the front item, waiting at most `timeout` for one; a zero timeout
    /// tries once.
    ///
    /// # Errors
    ///
    /// [`GetTimeoutError::Timeout`], or [`GetTimeoutError::Closed`] once closed and empty.
    ///
    /// ```
    /// use std::time::Duration;
    /// use threadkit::GetTimeoutError;
    /// let queue = threadkit::BoundedQueue::<u32>::new(1);
    /// assert_eq!(queue.get_for(Duration::from_millis(5)), Err(GetTimeoutError::Timeout));
    /// ```
    pub fn get_for(&self, timeout: Duration) -> Result<T, GetTimeoutError> {
        if timeout.is_zero() {
            return self.try_get().map_err(|err| match err {
                TryGetError::Empty => GetTimeoutError::Timeout,
                TryGetError::Closed => GetTimeoutError::Closed,
            });
        }
        self.get_until_inner(facade::deadline_after(timeout))
    }

    /// Takes the front item, waiting until `deadline` at most; a deadline in
    /// the past tries once.
    ///
    /// # Errors
    ///
    /// [`GetTimeoutError::Timeout`], or [`GetTimeoutError::Closed`] once closed and empty.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let queue = threadkit::BoundedQueue::new(1);
    /// queue.put(1).unwrap();
    /// assert_eq!(queue.get_until(Instant::now() + Duration::from_secs(1)), Ok(1));
    /// ```
    pub fn get_until(&self, deadline: Instant) -> Result<T, GetTimeoutError> {
        self.get_until_inner(Some(deadline))
    }

    fn get_until_inner(&self, deadline: Option<Instant>) -> Result<T, GetTimeoutError> {
        let mut timed_out = false;
        loop {
            match self.ring.pop() {
                Ok((item, putters)) => {
                    self.wake_after_get(putters);
                    return Ok(item);
                }
                Err(PopError::Closed) => return Err(GetTimeoutError::Closed),
                Err(PopError::Empty) => {}
            }
            if timed_out || deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                return Err(GetTimeoutError::Timeout);
            }
            if facade::poll_shortly(|| self.ring.get_ready())
                || self.get_spin.spin(deadline, || self.ring.get_ready())
                || self.get_yield.yield_now(|| self.ring.get_ready())
            {
                continue;
            }
            timed_out = self.wait(Side::Getters, deadline);
        }
    }

    /// Closes the queue; returns whether this call closed it (`false` if it
    /// already was).
    ///
    /// Later puts fail with their item handed back; gets keep returning the
    /// items already queued and fail only once the queue is empty; every
    /// blocked put and get wakes. Closing does not drop or take any item (see
    /// [`close_and_take`](Self::close_and_take)).
    ///
    /// This call happens-before every put that fails because of it and every
    /// get that then reports `Closed`.
    ///
    /// ```
    /// let queue = threadkit::BoundedQueue::new(2);
    /// queue.put(1).unwrap();
    /// assert!(queue.close());
    /// assert!(!queue.close()); // already closed
    /// assert_eq!(queue.get(), Ok(1)); // still drains
    /// assert!(queue.get().is_err());
    /// ```
    #[doc(alias = "shutdown")]
    pub fn close(&self) -> bool {
        if !self.ring.close() {
            return false;
        }
        // Whoever registers after this sees the flag and does not wait; wake
        // everyone registered before (a close is rare: no flag shortcut).
        for side in [Side::Getters, Side::Putters] {
            let mut wakeups = Wakeups::new();
            let mut queue = self.queue(side).lock();
            queue.wake_all(NOTIFIED, &mut wakeups);
            self.unflag(side);
            drop(queue);
            wakeups.unpark();
        }
        true
    }

    /// Closes the queue and hands back every item still queued, in FIFO order
    /// (Python 3.13's `shutdown(immediate=True)`, which would drop them).
    ///
    /// The taken items count as done tasks (never more than are unfinished,
    /// as in Python); items other threads got before and have not marked
    /// [`task_done`](Self::task_done) still hold up [`join`](Self::join). A put racing with this either lands in the
    /// returned `Vec` or fails with its item.
    ///
    /// ```
    /// let queue = threadkit::BoundedQueue::new(4);
    /// queue.put("a").unwrap();
    /// queue.put("b").unwrap();
    /// assert_eq!(queue.close_and_take(), ["a", "b"]);
    /// assert!(queue.put("c").is_err());
    /// assert_eq!(queue.unfinished_tasks(), 0);
    /// ```
    pub fn close_and_take(&self) -> Vec<T> {
        self.close();
        let mut items = Vec::with_capacity(self.len());
        // Closed: `pop` fails only once the queue is empty, and no put can add more.
        while let Ok((item, _)) = self.ring.pop() {
            items.push(item);
        }
        self.finish_tasks(items.len());
        items
    }

    /// How many items were put and not yet marked [`task_done`](Self::task_done)
    /// (Python's `unfinished_tasks`): a snapshot.
    ///
    /// ```
    /// let queue = threadkit::BoundedQueue::new(2);
    /// queue.put(1).unwrap();
    /// let _ = queue.get();
    /// assert_eq!(queue.unfinished_tasks(), 1); // got, not yet done
    /// queue.task_done().unwrap();
    /// assert_eq!(queue.unfinished_tasks(), 0);
    /// ```
    pub fn unfinished_tasks(&self) -> usize {
        let done = self.done.load(Ordering::Acquire);
        self.unfinished(done, self.ring.tail_position())
    }

    /// Not part of the API (hidden, may change): how many threads wait for an
    /// item right now, so tests can order a put or `close` after a getter is
    /// known to be queued.
    #[doc(hidden)]
    pub fn queued_getters(&self) -> usize {
        self.getters.lock().len()
    }

    /// Not part of the API (hidden, may change): how many threads wait for
    /// room right now, so tests can order a get or `close` after a putter is
    /// known to be queued.
    #[doc(hidden)]
    pub fn queued_putters(&self) -> usize {
        self.putters.lock().len()
    }

    /// Not part of the API (hidden, may change): how many threads wait in
    /// `join` right now, so tests can order a `task_done` or `close_and_take`
    /// after a joiner is known to be queued.
    #[doc(hidden)]
    pub fn queued_joiners(&self) -> usize {
        self.joiners.lock().len()
    }

    /// Marks one task done: a consumer calls it after it has finished with an
    /// item it got (Python's `Queue.task_done`). When every item put has been
    /// marked done, every [`join`](Self::join) returns.
    ///
    /// Everything before this call happens-before a `join` it lets return.
    ///
    /// # Errors
    ///
    /// [`TaskDoneError`], changing nothing, if it is called more often than
    /// items were put (Python raises `ValueError`).
    ///
    /// ```
    /// let queue = threadkit::BoundedQueue::new(1);
    /// queue.put("job").unwrap();
    /// let _job = queue.get().unwrap();
    /// assert!(queue.task_done().is_ok());
    /// assert!(queue.task_done().is_err()); // one put, one task
    /// ```
    pub fn task_done(&self) -> Result<(), TaskDoneError> {
        match self.finish_tasks(1) {
            0 => Err(TaskDoneError),
            _ => Ok(()),
        }
    }

    /// Blocks until every item put has been marked [`task_done`](Self::task_done)
    /// (Python's `Queue.join`). Returns at once if none is unfinished.
    ///
    /// If a put races with the last `task_done`, `join` may keep waiting for the
    /// next time the count reaches 0, as Python's does.
    ///
    /// Everything before every `task_done` happens-before this returns.
    ///
    /// ```
    /// use std::thread;
    /// let queue = threadkit::BoundedQueue::new(8);
    /// thread::scope(|s| {
    ///     s.spawn(|| {
    ///         while let Ok(job) = queue.get() {
    ///             let _ = job * 2; // the work
    ///             queue.task_done().unwrap();
    ///         }
    ///     });
    ///     for job in 0..8 {
    ///         queue.put(job).unwrap();
    ///     }
    ///     queue.join(); // every job processed
    ///     assert_eq!(queue.unfinished_tasks(), 0);
    ///     queue.close(); // lets the worker's loop end
    /// });
    /// ```
    pub fn join(&self) {
        let joined = self.join_until_inner(None);
        debug_assert!(joined, "an untimed join returns only when done");
    }

    /// [`join`](Self::join), waiting at most `timeout`; `true` if every task
    /// was done in time. A zero timeout checks once.
    ///
    /// ```
    /// use std::time::Duration;
    /// let queue = threadkit::BoundedQueue::new(1);
    /// assert!(queue.join_for(Duration::ZERO)); // nothing unfinished
    /// queue.put(1).unwrap();
    /// assert!(!queue.join_for(Duration::from_millis(5)));
    /// ```
    #[must_use = "`false` means some tasks are still unfinished"]
    pub fn join_for(&self, timeout: Duration) -> bool {
        if timeout.is_zero() {
            return self.unfinished_tasks() == 0;
        }
        self.join_until_inner(facade::deadline_after(timeout))
    }

    /// [`join`](Self::join), waiting until `deadline` at most; `true` if every
    /// task was done in time.
    ///
    /// ```
    /// use std::time::Instant;
    /// let queue = threadkit::BoundedQueue::<u8>::new(1);
    /// assert!(queue.join_until(Instant::now()));
    /// ```
    #[must_use = "`false` means some tasks are still unfinished"]
    pub fn join_until(&self, deadline: Instant) -> bool {
        self.join_until_inner(Some(deadline))
    }

    fn join_until_inner(&self, deadline: Option<Instant>) -> bool {
        if self.unfinished_tasks() == 0 {
            return true;
        }
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            return false;
        }
        let waiter = {
            let mut joiners = self.joiners.lock();
            let waiter = joiners.push(());
            let done = self.done.fetch_or(self.ring.spare_flag(), Ordering::AcqRel);
            if self.unfinished(done, self.ring.tail_position()) == 0 {
                joiners.remove(&waiter);
                self.unflag_joiners_if_none(&joiners);
                return true;
            }
            waiter
        };
        let token = waiter.wait(&self.joiners, deadline, Spin::Never, |joiners| {
            let removed = joiners.remove(&waiter).is_some();
            self.unflag_joiners_if_none(joiners);
            Cancel::removed(removed)
        });
        // Woken by the task that finished the last one; or timed out: then one
        // last look, without reading the clock again.
        token.is_some() || self.unfinished_tasks() == 0
    }

    /// An iterator that [`get`](Self::get)s items, blocking, until the queue is
    /// closed and drained (also what `for item in &queue` does).
    ///
    /// ```
    /// let queue = threadkit::BoundedQueue::new(3);
    /// for n in [1, 2, 3] {
    ///     queue.put(n).unwrap();
    /// }
    /// queue.close();
    /// assert_eq!(queue.iter().collect::<Vec<_>>(), [1, 2, 3]);
    /// ```
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { queue: self }
    }

    /// An iterator that takes the items queued now, without blocking; it ends
    /// at the first [`try_get`](Self::try_get) that fails.
    ///
    /// ```
    /// let queue = threadkit::BoundedQueue::new(3);
    /// queue.put('a').unwrap();
    /// queue.put('b').unwrap();
    /// assert_eq!(queue.try_iter().collect::<String>(), "ab");
    /// assert!(!queue.is_closed()); // nothing was closed
    /// ```
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { queue: self }
    }

    /// Steps 3-5 of the protocol in the module docs: registers on `side`, and
    /// parks unless a put or get slipped in; returns whether the wait timed out.
    fn wait(&self, side: Side, deadline: Option<Instant>) -> bool {
        let queue = self.queue(side);
        let waiter: Arc<Waiter> = {
            let mut waiters = queue.lock();
            let waiter = waiters.push(());
            let must_wait = match side {
                Side::Getters => self.ring.flag_getter(),
                Side::Putters => self.ring.flag_putter(),
            };
            if !must_wait {
                waiters.remove(&waiter);
                if waiters.is_empty() {
                    self.unflag(side);
                }
                return false;
            }
            waiter
        };
        // The poll (step 2) already ran: park at once.
        let token = waiter.wait(queue, deadline, Spin::Never, |waiters| {
            let removed = waiters.remove(&waiter).is_some();
            if waiters.is_empty() {
                self.unflag(side);
            }
            Cancel::removed(removed)
        });
        token.is_none()
    }

    fn queue(&self, side: Side) -> &Mutex<WaitQueue> {
        match side {
            Side::Getters => &self.getters,
            Side::Putters => &self.putters,
        }
    }

    /// Lowers `side`'s flag. Call with its queue locked and empty.
    fn unflag(&self, side: Side) {
        match side {
            Side::Getters => self.ring.unflag_getters(),
            Side::Putters => self.ring.unflag_putters(),
        }
    }

    #[inline]
    fn wake_after_put(&self, getters_queued: bool) {
        if getters_queued {
            self.wake_one(Side::Getters);
        }
    }

    #[inline]
    fn wake_after_get(&self, putters_queued: bool) {
        if putters_queued {
            self.wake_one(Side::Putters);
        }
    }

    /// Wakes the longest-waiting thread of `side` (it retries the ring).
    #[cold]
    fn wake_one(&self, side: Side) {
        let mut wakeups = Wakeups::new();
        let mut waiters = self.queue(side).lock();
        waiters.wake(1, NOTIFIED, &mut wakeups);
        if waiters.is_empty() {
            self.unflag(side);
        }
        drop(waiters);
        wakeups.unpark();
    }

    /// Unfinished tasks between a `done` word and a tail position.
    fn unfinished(&self, done: usize, tail: usize) -> usize {
        self.ring.distance(self.ring.position(done), tail)
    }

    fn joiners_flag(&self, done: usize) -> usize {
        done & self.ring.spare_flag()
    }

    /// Counts `n` more tasks done (one for `task_done`, the items
    /// `close_and_take` took), but never more than are unfinished: as Python's
    /// immediate shutdown, which allows an item's `task_done` before its get.
    /// Returns how many it counted.
    fn finish_tasks(&self, n: usize) -> usize {
        let mut done = self.done.load(Ordering::Acquire);
        loop {
            // Loaded after `done`: it counts at least the puts of the tasks
            // already marked done, so a legitimate `task_done` never fails.
            let n = n.min(self.unfinished(done, self.ring.tail_position()));
            if n == 0 {
                return 0;
            }
            let next = self.ring.advance(self.ring.position(done), n) | self.joiners_flag(done);
            // AcqRel: a join that reads this count sees everything before it.
            match self
                .done
                .compare_exchange_weak(done, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    self.wake_joiners_if_done(next);
                    return n;
                }
                Err(actual) => done = actual,
            }
        }
    }

    /// After a task count moved to `done`: if joiners are flagged, wakes them
    /// all when no task is unfinished. The count is checked again under their
    /// lock, so a joiner is woken only by a moment it was waiting through.
    fn wake_joiners_if_done(&self, done: usize) {
        if self.joiners_flag(done) == 0 {
            return;
        }
        let mut wakeups = Wakeups::new();
        let mut joiners = self.joiners.lock();
        if self.unfinished_tasks() == 0 {
            joiners.wake_all(NOTIFIED, &mut wakeups);
            self.unflag_joiners_if_none(&joiners);
        }
        drop(joiners);
        wakeups.unpark();
    }

    /// Lowers the joiners' flag if none is queued. Call with their queue locked.
    fn unflag_joiners_if_none(&self, joiners: &WaitQueue) {
        if joiners.is_empty() {
            self.done
                .fetch_and(!self.ring.spare_flag(), Ordering::Relaxed);
        }
    }
}

/// The blocking iterator of [`BoundedQueue::iter`] and `for item in &queue`.
#[must_use = "iterators are lazy and do nothing unless consumed"]
pub struct Iter<'a, T> {
    queue: &'a BoundedQueue<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.queue.get().ok()
    }
}

// Once `get` reports `Closed`, it always will: the queue stays closed and empty.
impl<T> FusedIterator for Iter<'_, T> {}

/// The non-blocking iterator of [`BoundedQueue::try_iter`].
#[must_use = "iterators are lazy and do nothing unless consumed"]
pub struct TryIter<'a, T> {
    queue: &'a BoundedQueue<T>,
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.queue.try_get().ok()
    }
}

impl<'a, T> IntoIterator for &'a BoundedQueue<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

// Debug without `T: Debug`, as the queue's own.
impl<T> fmt::Debug for Iter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter").field("queue", self.queue).finish()
    }
}

impl<T> fmt::Debug for TryIter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TryIter")
            .field("queue", self.queue)
            .finish()
    }
}

impl<T> fmt::Debug for BoundedQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundedQueue")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .field("closed", &self.is_closed())
            .field("unfinished_tasks", &self.unfinished_tasks())
            .finish_non_exhaustive()
    }
}

// SAFETY: the queue moves `T`s between threads (so `T: Send`) and never hands
// out a shared `&T`: each item is owned by one thread at a time, passed on
// through the slots' stamps (see `ring`).
unsafe impl<T: Send> Send for BoundedQueue<T> {}
// SAFETY: as above; every method takes `&self` and synchronises internally.
unsafe impl<T: Send> Sync for BoundedQueue<T> {}

// A panic never leaves the queue half-updated: it is either in a user's `Drop`
// (the queue's own drop, which still drops every other item) or in threadkit
// code that runs no user code while it holds an internal lock.
impl<T> core::panic::UnwindSafe for BoundedQueue<T> {}
impl<T> core::panic::RefUnwindSafe for BoundedQueue<T> {}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// Positions and distances agree with plain counting across laps.
    #[test]
    fn positions_count_puts_across_laps() {
        for capacity in [1, 2, 3, 7, 8] {
            let ring = Ring::<()>::new(capacity);
            let mut position = 0;
            for n in 0..50 {
                assert_eq!(ring.distance(0, position), n);
                assert_eq!(ring.advance(0, n), position);
                assert_eq!(
                    ring.distance(ring.advance(0, 3.min(n)), position),
                    n - 3.min(n)
                );
                position = ring.next(position);
            }
        }
    }
}
