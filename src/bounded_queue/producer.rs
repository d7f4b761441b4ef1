//! Producer handles: the queue closes when the last one is gone.
//!
//! A queue counts its live handles. Taking one ([`BoundedQueue::producer`],
//! [`BoundedQueue::producer_arc`], a `clone`) adds one; dropping one, also
//! while a panic unwinds, takes one away, and the drop that takes the count
//! to zero closes the queue. Consumers then drain what was put and see
//! `Closed`, as with a channel whose last sender is gone.

use core::fmt;
use core::time::Duration;

use super::{BoundedQueue, Closed, PutTimeoutError, TryPutError};
use crate::facade::{Instant, Ordering, StdArc};

impl<T> BoundedQueue<T> {
    /// A producer handle: the put family, and the queue closes when the last
    /// handle is dropped (by its scope's end or by unwinding after a panic),
    /// so a consumer's `for item in &queue` ends once every producer is
    /// gone, never waiting for a `close()` nobody will call.
    ///
    /// The count starts at zero and only handles count, so plain
    /// [`put`](Self::put) keeps working for code that closes by hand. A handle
    /// taken after the last one was dropped (or after any `close`) finds the
    /// queue closed: its puts hand their items back. So take every handle
    /// before the producers start, as below, not inside them.
    ///
    /// Everything a producer did before its handle's drop happens-before a
    /// consumer's get that sees the queue closed and empty.
    ///
    /// ```
    /// use std::thread;
    /// use threadkit::BoundedQueue;
    ///
    /// let queue = BoundedQueue::new(4);
    /// // Every handle first: one that finished early would close the queue
    /// // before a later one was made.
    /// let producers: Vec<_> = (0..3).map(|_| queue.producer()).collect();
    /// let total = thread::scope(|s| {
    ///     for (n, producer) in producers.into_iter().enumerate() {
    ///         s.spawn(move || {
    ///             producer.put(n).unwrap();
    ///             // `producer` drops here: the last drop closes the queue.
    ///         });
    ///     }
    ///     s.spawn(|| queue.iter().sum::<usize>()).join().unwrap()
    /// });
    /// assert_eq!(total, 3);
    /// assert!(queue.is_closed());
    /// ```
    pub fn producer(&self) -> Producer<'_, T> {
        self.add_producer();
        Producer { queue: self }
    }

    /// [`producer`](Self::producer) through an `Arc`: a handle that owns a
    /// clone of it, for a `'static` thread.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::thread;
    /// use threadkit::BoundedQueue;
    ///
    /// let queue = Arc::new(BoundedQueue::new(8));
    /// let producer = queue.producer_arc();
    /// let worker = thread::spawn(move || {
    ///     for n in 1..=3 {
    ///         producer.put(n).unwrap();
    ///     }
    ///     panic!("a bad record"); // the handle still drops: the queue closes
    /// });
    /// assert_eq!(queue.iter().collect::<Vec<_>>(), [1, 2, 3]);
    /// assert!(worker.join().is_err());
    /// ```
    pub fn producer_arc(self: &StdArc<Self>) -> ArcProducer<T> {
        self.add_producer();
        ArcProducer {
            queue: StdArc::clone(self),
        }
    }

    /// One more live handle.
    fn add_producer(&self) {
        // Relaxed: a new handle is made from a live one or from the queue
        // itself, which orders it already (as `Arc::clone`).
        self.producers.fetch_add(1, Ordering::Relaxed);
    }

    /// One handle fewer; the last one closes the queue.
    fn drop_producer(&self) {
        // AcqRel: the drop that closes sees every other handle's puts, and
        // the close publishes them with its own release.
        if self.producers.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.close();
        }
    }
}

/// A producer handle of a [`BoundedQueue`] ([`BoundedQueue::producer`]): the
/// put family, and the queue closes when the last handle is dropped.
///
/// `Clone` (each clone counts) and `Send` (where `T: Send`), so every producer
/// thread gets its own.
#[must_use = "dropping the last handle closes the queue"]
pub struct Producer<'a, T> {
    queue: &'a BoundedQueue<T>,
}

/// An owned producer handle ([`BoundedQueue::producer_arc`]): a
/// [`Producer`] that holds an `Arc` of its queue, for a `'static` thread.
#[must_use = "dropping the last handle closes the queue"]
pub struct ArcProducer<T> {
    queue: StdArc<BoundedQueue<T>>,
}

/// The put family, the same on both handles; each is the queue's own
/// (`BoundedQueue::put`...), with the same results.
macro_rules! put_family {
    () => {
        /// [`BoundedQueue::put`]: puts `item`, waiting while the queue is full.
        ///
        /// # Errors
        ///
        /// [`Closed`] with the item if the queue is closed, or closes meanwhile.
        pub fn put(&self, item: T) -> Result<(), Closed<T>> {
            self.queue.put(item)
        }

        /// [`BoundedQueue::try_put`]: puts `item` if there is room now.
        ///
        /// # Errors
        ///
        /// [`TryPutError::Full`] or [`TryPutError::Closed`], with the item.
        pub fn try_put(&self, item: T) -> Result<(), TryPutError<T>> {
            self.queue.try_put(item)
        }

        /// [`BoundedQueue::put_for`]: waits at most `timeout` for room.
        ///
        /// # Errors
        ///
        /// [`PutTimeoutError::Timeout`] or [`PutTimeoutError::Closed`], with the item.
        pub fn put_for(&self, item: T, timeout: Duration) -> Result<(), PutTimeoutError<T>> {
            self.queue.put_for(item, timeout)
        }

        /// [`BoundedQueue::put_until`]: waits until `deadline` at most for room.
        ///
        /// # Errors
        ///
        /// [`PutTimeoutError::Timeout`] or [`PutTimeoutError::Closed`], with the item.
        pub fn put_until(&self, item: T, deadline: Instant) -> Result<(), PutTimeoutError<T>> {
            self.queue.put_until(item, deadline)
        }

        /// The queue this handle puts into.
        pub fn queue(&self) -> &BoundedQueue<T> {
            &self.queue
        }
    };
}

impl<T> Producer<'_, T> {
    put_family!();
}

impl<T> ArcProducer<T> {
    put_family!();
}

impl<T> Clone for Producer<'_, T> {
    /// Another handle of the same queue (it counts as one more producer).
    fn clone(&self) -> Self {
        self.queue.producer()
    }
}

impl<T> Clone for ArcProducer<T> {
    /// Another handle of the same queue (it counts as one more producer).
    fn clone(&self) -> Self {
        self.queue.producer_arc()
    }
}

impl<T> Drop for Producer<'_, T> {
    fn drop(&mut self) {
        self.queue.drop_producer();
    }
}

impl<T> Drop for ArcProducer<T> {
    fn drop(&mut self) {
        self.queue.drop_producer();
    }
}

impl<T> fmt::Debug for Producer<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer")
            .field("queue", &self.queue)
            .finish()
    }
}

impl<T> fmt::Debug for ArcProducer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArcProducer")
            .field("queue", &self.queue)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use crate::facade::StdArc as Arc;
    use std::panic::resume_unwind;
    use std::thread;

    use super::*;
    use crate::GetTimeoutError;

    /// Every item until the queue is closed and empty, as `for item in
    /// queue` gets them, but bounded: a queue left open fails the test
    /// instead of hanging it.
    fn drain<T>(queue: &BoundedQueue<T>) -> Vec<T> {
        let mut got = Vec::new();
        loop {
            match queue.get_for(Duration::from_secs(30)) {
                Ok(item) => got.push(item),
                Err(GetTimeoutError::Closed) => return got,
                Err(GetTimeoutError::Timeout) => {
                    panic!("the consumer was left waiting after every producer was gone")
                }
            }
        }
    }

    #[test]
    fn the_last_handle_closes_the_queue_and_clones_count() {
        let queue = BoundedQueue::new(4);
        let first = queue.producer();
        let second = first.clone();
        first.put(1).unwrap();
        drop(first);
        assert!(!queue.is_closed(), "a handle is still alive");
        second.put(2).unwrap();
        drop(second);
        assert!(queue.is_closed(), "the last handle's drop closes");
        assert_eq!(queue.try_iter().collect::<Vec<_>>(), [1, 2]);
    }

    #[test]
    fn plain_puts_count_no_handle_and_close_nothing() {
        let queue = BoundedQueue::new(2);
        queue.put(1).unwrap();
        assert!(!queue.is_closed());
        drop(queue.producer());
        assert!(queue.is_closed(), "the only handle was the last");
        assert_eq!(queue.put(2), Err(Closed(2)));
    }

    #[test]
    fn a_handle_of_a_closed_queue_hands_every_item_back() {
        let queue = BoundedQueue::new(2);
        drop(queue.producer()); // the last handle: closes
        let late = queue.producer();
        assert_eq!(late.put(1), Err(Closed(1)));
        assert_eq!(late.try_put(2), Err(TryPutError::Closed(2)));
        assert_eq!(
            late.put_for(3, Duration::from_secs(1)),
            Err(PutTimeoutError::Closed(3))
        );
        assert_eq!(
            late.put_until(4, Instant::now() + Duration::from_secs(1)),
            Err(PutTimeoutError::Closed(4))
        );
    }

    /// A producer-consumer where one producer panics: the consumer
    /// ends with every item put before the panic, and nothing hangs.
    #[test]
    fn a_panicking_producer_closes_the_queue_for_its_consumer() {
        let queue = BoundedQueue::new(2);
        let producers: Vec<_> = (0..3).map(|_| queue.producer()).collect();
        let (got, panicked) = thread::scope(|s| {
            let consumer = s.spawn(|| drain(&queue));
            let workers: Vec<_> = producers
                .into_iter()
                .enumerate()
                .map(|(k, producer)| {
                    s.spawn(move || {
                        let k = k as u32;
                        for n in 0..5 {
                            if k == 1 && n == 3 {
                                resume_unwind(Box::new("a bad record"));
                            }
                            producer.put(k * 10 + n).unwrap();
                        }
                    })
                })
                .collect();
            let panicked = workers
                .into_iter()
                .map(|worker| worker.join().is_err())
                .filter(|&panicked| panicked)
                .count();
            (consumer.join().unwrap(), panicked)
        });
        assert_eq!(panicked, 1);
        let mut got = got;
        got.sort_unstable();
        assert_eq!(got, [0, 1, 2, 3, 4, 10, 11, 12, 20, 21, 22, 23, 24]);
    }

    #[test]
    fn an_owned_handle_moves_into_a_static_thread() {
        let queue = Arc::new(BoundedQueue::new(1));
        let producer = queue.producer_arc();
        let again = producer.clone();
        let worker = thread::spawn(move || {
            producer.put("a").unwrap();
            drop(producer);
            again.put("b").unwrap();
        });
        assert_eq!(drain(&queue), ["a", "b"]);
        worker.join().unwrap();
        let late = queue.producer_arc();
        assert!(core::ptr::eq(late.queue(), &*queue));
        assert_eq!(late.put("c"), Err(Closed("c")));
    }
}
