//! [`BoundedSemaphore`]: a semaphore whose count never exceeds its initial value
//! (Python's `threading.BoundedSemaphore`), on the same engine as
//! [`Semaphore`](crate::Semaphore).

use core::fmt;

use crate::facade::const_fn;
use crate::raw_semaphore::{Excess, MAX_PERMITS, RawSemaphore};
use crate::semaphore::{Owner, acquire_methods};

/// A counting semaphore that refuses to be released above its initial count
/// (Python's `threading.BoundedSemaphore`): releasing too often is usually a
/// bug, and this turns it into an error you can see.
///
/// The API is [`Semaphore`](crate::Semaphore)'s, with the same FIFO fairness
/// and happens-before guarantees, except that [`release`](BoundedSemaphore::release)
/// returns `Err(TooManyReleases)` and changes nothing when the count (free
/// permits plus permits already collected by a waiting `acquire_many`) would go
/// above the initial value. A [`SemaphorePermit`](crate::SemaphorePermit)
/// dropped after such an explicit release never lifts the count above the
/// initial value either: the excess is discarded.
///
/// # Examples
///
/// ```
/// use threadkit::BoundedSemaphore;
///
/// let pool = BoundedSemaphore::new(2);
/// let conn = pool.acquire();
/// assert!(pool.release(2).is_err()); // one is out: 1 free + 2 > 2
/// drop(conn);
/// assert_eq!(pool.available_permits(), 2);
/// assert!(pool.release(1).is_err()); // already full
/// ```
pub struct BoundedSemaphore {
    raw: RawSemaphore,
}

/// The error of [`BoundedSemaphore::release`]: the release would have raised
/// the count above the initial value. Nothing was changed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TooManyReleases {
    /// How many permits the refused call tried to release.
    pub requested: usize,
    /// The count at the time: free permits plus permits reserved for a waiter.
    pub count: usize,
    /// The semaphore's initial (and maximum) count.
    pub max: usize,
}

impl fmt::Display for TooManyReleases {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "BoundedSemaphore released too many times: releasing {} permit(s) with {} \
             already counted would exceed the initial value {}",
            self.requested, self.count, self.max
        )
    }
}

impl std::error::Error for TooManyReleases {}

impl BoundedSemaphore {
    const_fn! {
        /// Creates a bounded semaphore with `permits` free permits, which is also
        /// the most it can ever hold (`const` outside loom).
        ///
        /// # Panics
        ///
        /// If `permits` exceeds `usize::MAX / 2`.
        ///
        /// ```
        /// let sem = threadkit::BoundedSemaphore::new(3);
        /// assert_eq!(sem.max_permits(), 3);
        /// ```
        #[track_caller]
        pub const fn new(permits: usize) -> BoundedSemaphore {
            assert!(permits <= MAX_PERMITS, "BoundedSemaphore::new: more than usize::MAX / 2 permits");
            BoundedSemaphore {
                raw: RawSemaphore::new(permits, permits),
            }
        }
    }

    acquire_methods!(BoundedSemaphore, Owner::Bounded);

    /// Gives back `n` permits, waking waiters in FIFO order, unless that would
    /// raise the count above the initial value: then it returns
    /// `Err(TooManyReleases)` and changes nothing.
    ///
    /// Everything before a successful call happens-before the return of the
    /// acquires that receive these permits.
    ///
    /// # Errors
    ///
    /// [`TooManyReleases`] if the count (free permits plus permits already
    /// collected by a waiting `acquire_many`) plus `n` would exceed the initial
    /// value: a release without a matching acquire, usually a bug (Python's
    /// `ValueError`). Nothing changes.
    ///
    /// ```
    /// let sem = threadkit::BoundedSemaphore::new(2);
    /// sem.acquire_many(2).forget();
    /// assert!(sem.release(1).is_ok());
    /// let err = sem.release(2).unwrap_err();
    /// assert_eq!((err.requested, err.count, err.max), (2, 1, 2));
    /// assert_eq!(sem.available_permits(), 1); // unchanged by the refusal
    /// ```
    pub fn release(&self, n: usize) -> Result<(), TooManyReleases> {
        self.raw
            .release(n, Excess::Refuse)
            .map_err(|over| TooManyReleases {
                requested: n,
                count: over.count,
                max: self.raw.bound(),
            })
    }

    /// The initial count, which is also the most this semaphore can hold.
    ///
    /// ```
    /// assert_eq!(threadkit::BoundedSemaphore::new(4).max_permits(), 4);
    /// ```
    pub fn max_permits(&self) -> usize {
        self.raw.bound()
    }

    /// The engine, for [`OwnedSemaphorePermit`](crate::OwnedSemaphorePermit).
    pub(crate) fn raw(&self) -> &RawSemaphore {
        &self.raw
    }
}

impl Default for BoundedSemaphore {
    /// A bounded semaphore with one permit (Python's `BoundedSemaphore()`).
    fn default() -> Self {
        BoundedSemaphore::new(1)
    }
}

impl fmt::Debug for BoundedSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundedSemaphore")
            .field("available_permits", &self.available_permits())
            .field("max_permits", &self.max_permits())
            .finish()
    }
}
