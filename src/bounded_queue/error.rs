//! The errors of [`BoundedQueue`](super::BoundedQueue). A failed put hands its item
//! back in the error, so no item is ever dropped on the floor.

use core::fmt;

/// The queue is closed: a put fails with its item in `.0`; a get fails with
/// `Closed(())` once the queue is closed *and* drained.
///
/// ```
/// use threadkit::{BoundedQueue, Closed};
///
/// let queue = BoundedQueue::new(1);
/// queue.close();
/// let Closed(item) = queue.put("late").unwrap_err();
/// assert_eq!(item, "late"); // handed back, not dropped
/// assert_eq!(queue.get(), Err(Closed(())));
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Closed<T = ()>(pub T);

/// Why [`try_put`](super::BoundedQueue::try_put) failed; either way the item
/// is handed back.
///
/// ```
/// use threadkit::{BoundedQueue, TryPutError};
///
/// let queue = BoundedQueue::new(1);
/// queue.try_put(1).unwrap();
/// assert_eq!(queue.try_put(2), Err(TryPutError::Full(2)));
/// queue.close();
/// assert_eq!(queue.try_put(3).unwrap_err().into_inner(), 3);
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TryPutError<T> {
    /// The queue is full.
    Full(T),
    /// The queue is closed.
    Closed(T),
}

/// Why [`put_for`](super::BoundedQueue::put_for) or
/// [`put_until`](super::BoundedQueue::put_until) failed; either way the item
/// is handed back.
///
/// ```
/// use std::time::Duration;
/// use threadkit::{BoundedQueue, PutTimeoutError};
///
/// let queue = BoundedQueue::new(1);
/// queue.put('a').unwrap();
/// let err = queue.put_for('b', Duration::from_millis(1)).unwrap_err();
/// assert_eq!(err, PutTimeoutError::Timeout('b'));
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum PutTimeoutError<T> {
    /// The queue stayed full until the deadline.
    Timeout(T),
    /// The queue is closed (it may have been closed while the put waited).
    Closed(T),
}

/// Why [`try_get`](super::BoundedQueue::try_get) failed.
///
/// ```
/// use threadkit::{BoundedQueue, TryGetError};
///
/// let queue = BoundedQueue::<u8>::new(1);
/// assert_eq!(queue.try_get(), Err(TryGetError::Empty));
/// queue.close();
/// assert_eq!(queue.try_get(), Err(TryGetError::Closed));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TryGetError {
    /// The queue is empty (and open).
    Empty,
    /// The queue is closed and empty: no item will ever come.
    Closed,
}

/// Why [`get_for`](super::BoundedQueue::get_for) or
/// [`get_until`](super::BoundedQueue::get_until) failed.
///
/// ```
/// use std::time::Duration;
/// use threadkit::{BoundedQueue, GetTimeoutError};
///
/// let queue = BoundedQueue::<u8>::new(1);
/// assert_eq!(queue.get_for(Duration::from_millis(1)), Err(GetTimeoutError::Timeout));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GetTimeoutError {
    /// The queue stayed empty until the deadline.
    Timeout,
    /// The queue is closed and empty: no item will ever come.
    Closed,
}

/// [`task_done`](super::BoundedQueue::task_done) was called more often than
/// items were put (Python's `ValueError: task_done() called too many times`).
///
/// ```
/// let queue = threadkit::BoundedQueue::<u8>::new(1);
/// assert!(queue.task_done().is_err());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TaskDoneError;

impl<T> Closed<T> {
    /// The item the failed put hands back.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> TryPutError<T> {
    /// The item the failed put hands back.
    pub fn into_inner(self) -> T {
        match self {
            TryPutError::Full(item) | TryPutError::Closed(item) => item,
        }
    }

    /// Whether the queue was full.
    pub fn is_full(&self) -> bool {
        matches!(self, TryPutError::Full(_))
    }

    /// Whether the queue was closed.
    pub fn is_closed(&self) -> bool {
        matches!(self, TryPutError::Closed(_))
    }
}

impl<T> PutTimeoutError<T> {
    /// The item the failed put hands back.
    pub fn into_inner(self) -> T {
        match self {
            PutTimeoutError::Timeout(item) | PutTimeoutError::Closed(item) => item,
        }
    }

    /// Whether the put timed out.
    pub fn is_timeout(&self) -> bool {
        matches!(self, PutTimeoutError::Timeout(_))
    }

    /// Whether the queue was closed.
    pub fn is_closed(&self) -> bool {
        matches!(self, PutTimeoutError::Closed(_))
    }
}

impl TryGetError {
    /// Whether the queue was empty and open.
    pub fn is_empty(&self) -> bool {
        *self == TryGetError::Empty
    }

    /// Whether the queue was closed and empty.
    pub fn is_closed(&self) -> bool {
        *self == TryGetError::Closed
    }
}

impl GetTimeoutError {
    /// Whether the get timed out.
    pub fn is_timeout(&self) -> bool {
        *self == GetTimeoutError::Timeout
    }

    /// Whether the queue was closed and empty.
    pub fn is_closed(&self) -> bool {
        *self == GetTimeoutError::Closed
    }
}

impl<T> From<Closed<T>> for TryPutError<T> {
    fn from(Closed(item): Closed<T>) -> Self {
        TryPutError::Closed(item)
    }
}

impl<T> From<Closed<T>> for PutTimeoutError<T> {
    fn from(Closed(item): Closed<T>) -> Self {
        PutTimeoutError::Closed(item)
    }
}

impl From<Closed> for TryGetError {
    fn from(_: Closed) -> Self {
        TryGetError::Closed
    }
}

impl From<Closed> for GetTimeoutError {
    fn from(_: Closed) -> Self {
        GetTimeoutError::Closed
    }
}

// Debug without `T: Debug` (as std's `SendError`): the item is the caller's.
impl<T> fmt::Debug for Closed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Closed(..)")
    }
}

impl<T> fmt::Debug for TryPutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TryPutError::Full(_) => "Full(..)",
            TryPutError::Closed(_) => "Closed(..)",
        })
    }
}

impl<T> fmt::Debug for PutTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PutTimeoutError::Timeout(_) => "Timeout(..)",
            PutTimeoutError::Closed(_) => "Closed(..)",
        })
    }
}

impl<T> fmt::Display for Closed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the queue is closed")
    }
}

impl<T> fmt::Display for TryPutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TryPutError::Full(_) => "the queue is full; the item is handed back",
            TryPutError::Closed(_) => "the queue is closed; the item is handed back",
        })
    }
}

impl<T> fmt::Display for PutTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PutTimeoutError::Timeout(_) => {
                "timed out waiting for room in the queue; the item is handed back"
            }
            PutTimeoutError::Closed(_) => "the queue is closed; the item is handed back",
        })
    }
}

impl fmt::Display for TryGetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TryGetError::Empty => "the queue is empty",
            TryGetError::Closed => "the queue is closed and drained",
        })
    }
}

impl fmt::Display for GetTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GetTimeoutError::Timeout => "timed out waiting for an item",
            GetTimeoutError::Closed => "the queue is closed and drained",
        })
    }
}

impl fmt::Display for TaskDoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task_done() called more times than items were put")
    }
}

impl<T> std::error::Error for Closed<T> {}
impl<T> std::error::Error for TryPutError<T> {}
impl<T> std::error::Error for PutTimeoutError<T> {}
impl std::error::Error for TryGetError {}
impl std::error::Error for GetTimeoutError {}
impl std::error::Error for TaskDoneError {}
