//! [`Semaphore`] and its RAII [`SemaphorePermit`] (Python's `threading.Semaphore`).
//!
//! A thin layer over the FIFO-fair engine in `raw_semaphore`, which
//! [`BoundedSemaphore`](crate::BoundedSemaphore) shares.

use core::fmt;

use crate::facade::const_fn;
use crate::raw_semaphore::{Excess, MAX_PERMITS, RawSemaphore};

/// A counting semaphore: a pool of `permits` that threads take and give back
/// (Python's `threading.Semaphore`).
///
/// [`acquire`](Semaphore::acquire) takes one permit, blocking while none is free,
/// and returns a [`SemaphorePermit`] that gives it back when dropped;
/// [`acquire_many`](Semaphore::acquire_many) takes several at once.
/// [`release`](Semaphore::release) adds permits, as Python's `release(n)`: any
/// thread may call it, and the count may grow past the initial value (use a
/// [`BoundedSemaphore`](crate::BoundedSemaphore) to forbid that).
///
/// # Fairness
///
/// Strict FIFO. Once a thread waits, later acquirers queue behind it even if
/// permits are free for them, and released permits go to the longest-waiting
/// request first; an `acquire_many(n)` collects permits as they are released
/// until it has all `n`. So a blocked `acquire_many(n)` is never passed over by
/// a stream of single acquires. The price is head-of-line blocking: a large
/// request holds back smaller ones queued behind it.
///
/// # Happens-before
///
/// Everything a thread did before releasing permits (dropping a permit or
/// calling `release`) happens-before the return of the acquire that receives
/// them.
///
/// # Differences from Python
///
/// Permits are RAII guards (drop to release, [`SemaphorePermit::forget`] to keep
/// the permit taken, as when Python code never calls `release`). Acquiring has
/// `acquire_for`/`acquire_until` instead of `acquire(timeout=...)`, and several
/// permits can be taken atomically. `Semaphore::new` rejects counts above
/// `usize::MAX / 2` with a panic instead of Python's `ValueError` for negatives.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::thread;
/// use threadkit::{Lock, Semaphore};
///
/// // At most two downloads at a time.
/// let slots = Arc::new(Semaphore::new(2));
/// let peak = Arc::new(Lock::new((0, 0))); // (running, most ever running)
/// let workers: Vec<_> = (0..6)
///     .map(|_| {
///         let (slots, peak) = (Arc::clone(&slots), Arc::clone(&peak));
///         thread::spawn(move || {
///             let _slot = slots.acquire();
///             {
///                 let mut p = peak.lock();
///                 p.0 += 1;
///                 p.1 = p.1.max(p.0);
///             }
///             // ... download ...
///             peak.lock().0 -= 1;
///         })
///     })
///     .collect();
/// for worker in workers {
///     worker.join().unwrap();
/// }
/// assert!(peak.lock().1 <= 2);
/// assert_eq!(slots.available_permits(), 2);
/// ```
pub struct Semaphore {
    raw: RawSemaphore,
}

/// Permits taken from a [`Semaphore`] or [`BoundedSemaphore`](crate::BoundedSemaphore),
/// given back when dropped.
///
/// Dropping the permit releases its permits, except that a permit of a
/// `BoundedSemaphore` never raises the count above the initial value (if an
/// explicit `release` already gave them back, the excess is discarded).
#[must_use = "if unused the permit is released at once"]
#[clippy::has_significant_drop]
pub struct SemaphorePermit<'a> {
    raw: &'a RawSemaphore,
    permits: usize,
}

impl<'a> SemaphorePermit<'a> {
    pub(crate) fn new(raw: &'a RawSemaphore, permits: usize) -> Self {
        SemaphorePermit { raw, permits }
    }

    /// How many permits this guard holds.
    ///
    /// ```
    /// let sem = threadkit::Semaphore::new(3);
    /// assert_eq!(sem.acquire_many(2).num_permits(), 2);
    /// ```
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// Keeps the permits taken: dropping the guard no longer gives them back
    /// (they can still be returned with `release`).
    ///
    /// ```
    /// let sem = threadkit::Semaphore::new(1);
    /// sem.acquire().forget();
    /// assert_eq!(sem.available_permits(), 0);
    /// sem.release(1);
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn forget(mut self) {
        self.permits = 0;
    }
}

impl Drop for SemaphorePermit<'_> {
    #[inline]
    fn drop(&mut self) {
        // Only a bounded semaphore can be over its bound here; its rule is to
        // discard the excess (the count never exceeds the initial value).
        let _ = self.raw.release(self.permits, Excess::Discard);
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("permits", &self.permits)
            .finish()
    }
}

/// The acquire family, the same for `Semaphore` and `BoundedSemaphore`.
macro_rules! acquire_methods {
    ($name:ident) => {
        /// Takes one permit, blocking while none is free (in FIFO order).
        ///
        /// Everything done before the release of this permit happens-before this returns.
        ///
        /// ```
        #[doc = concat!("let sem = threadkit::", stringify!($name), "::new(1);")]
        /// let permit = sem.acquire();
        /// assert_eq!(sem.available_permits(), 0);
        /// drop(permit);
        /// assert_eq!(sem.available_permits(), 1);
        /// ```
        #[inline]
        pub fn acquire(&self) -> $crate::SemaphorePermit<'_> {
            self.acquire_many(1)
        }

        /// Takes one permit if one is free and nobody is waiting, without blocking.
        ///
        /// ```
        #[doc = concat!("let sem = threadkit::", stringify!($name), "::new(1);")]
        /// let held = sem.try_acquire().expect("one is free");
        /// assert!(sem.try_acquire().is_none());
        /// # drop(held);
        /// ```
        #[inline]
        pub fn try_acquire(&self) -> Option<$crate::SemaphorePermit<'_>> {
            self.try_acquire_many(1)
        }

        /// Takes one permit, waiting at most `timeout` (zero: try once;
        /// `Duration::MAX`: forever). Python's `acquire(timeout=...)`.
        ///
        /// ```
        /// use std::time::Duration;
        #[doc = concat!("let sem = threadkit::", stringify!($name), "::new(1);")]
        /// let held = sem.acquire();
        /// assert!(sem.acquire_for(Duration::from_millis(5)).is_none());
        /// drop(held);
        /// assert!(sem.acquire_for(Duration::from_millis(5)).is_some());
        /// ```
        pub fn acquire_for(
            &self,
            timeout: core::time::Duration,
        ) -> Option<$crate::SemaphorePermit<'_>> {
            self.acquire_many_for(1, timeout)
        }

        /// Takes one permit, waiting until `deadline` at the latest.
        ///
        /// ```
        /// use std::time::{Duration, Instant};
        #[doc = concat!("let sem = threadkit::", stringify!($name), "::new(1);")]
        /// let _held = sem.acquire();
        /// let deadline = Instant::now() + Duration::from_millis(5);
        /// assert!(sem.acquire_until(deadline).is_none());
        /// assert!(Instant::now() >= deadline);
        /// ```
        pub fn acquire_until(
            &self,
            deadline: $crate::facade::Instant,
        ) -> Option<$crate::SemaphorePermit<'_>> {
            self.acquire_many_until(1, deadline)
        }

        /// Takes `n` permits at once, blocking until all `n` are granted. Waiting
        /// requests are served in FIFO order, and released permits collect for
        /// the front request, so a large request is not starved by small ones.
        ///
        /// # Panics
        ///
        /// If `n` exceeds the most permits this semaphore can ever hold
        /// (`usize::MAX / 2`, or a bounded semaphore's initial count): such a
        /// request could never be granted. The same holds for every `acquire*`.
        ///
        /// ```
        #[doc = concat!("let sem = threadkit::", stringify!($name), "::new(3);")]
        /// let batch = sem.acquire_many(3);
        /// assert_eq!(batch.num_permits(), 3);
        /// assert_eq!(sem.available_permits(), 0);
        /// ```
        #[inline]
        pub fn acquire_many(&self, n: usize) -> $crate::SemaphorePermit<'_> {
            self.acquire_inner(n, None)
                .expect("an untimed acquire cannot time out")
        }

        /// Takes `n` permits if they are free and nobody is waiting, without blocking.
        ///
        /// ```
        #[doc = concat!("let sem = threadkit::", stringify!($name), "::new(3);")]
        /// let _one = sem.acquire();
        /// assert!(sem.try_acquire_many(3).is_none());
        /// assert!(sem.try_acquire_many(2).is_some());
        /// ```
        #[inline]
        pub fn try_acquire_many(&self, n: usize) -> Option<$crate::SemaphorePermit<'_>> {
            self.check_request(n);
            self.raw
                .try_acquire(n)
                .then(|| $crate::SemaphorePermit::new(&self.raw, n))
        }

        /// Takes `n` permits, waiting at most `timeout`. On timeout, permits
        /// collected while waiting pass on to the next waiter.
        ///
        /// ```
        /// use std::time::Duration;
        #[doc = concat!("let sem = threadkit::", stringify!($name), "::new(3);")]
        /// let one = sem.acquire();
        /// assert!(sem.acquire_many_for(3, Duration::from_millis(5)).is_none());
        /// assert_eq!(sem.available_permits(), 2); // nothing was kept
        /// # drop(one);
        /// ```
        pub fn acquire_many_for(
            &self,
            n: usize,
            timeout: core::time::Duration,
        ) -> Option<$crate::SemaphorePermit<'_>> {
            self.acquire_inner(n, $crate::facade::deadline_after(timeout))
        }

        /// Takes `n` permits, waiting until `deadline` at the latest.
        ///
        /// ```
        /// use std::time::{Duration, Instant};
        #[doc = concat!("let sem = threadkit::", stringify!($name), "::new(2);")]
        /// let deadline = Instant::now() + Duration::from_millis(5);
        /// assert!(sem.acquire_many_until(2, deadline).is_some());
        /// ```
        pub fn acquire_many_until(
            &self,
            n: usize,
            deadline: $crate::facade::Instant,
        ) -> Option<$crate::SemaphorePermit<'_>> {
            self.acquire_inner(n, Some(deadline))
        }

        /// Free permits right now (a snapshot). While threads wait this is 0:
        /// released permits are then reserved for the waiters.
        ///
        /// ```
        #[doc = concat!("let sem = threadkit::", stringify!($name), "::new(4);")]
        /// let _two = sem.acquire_many(2);
        /// assert_eq!(sem.available_permits(), 2);
        /// ```
        #[inline]
        pub fn available_permits(&self) -> usize {
            self.raw.available()
        }

        /// Not part of the API (hidden, may change): how many acquires wait
        /// right now, so tests can order a release after a waiter is queued.
        #[doc(hidden)]
        pub fn queued_waiters(&self) -> usize {
            self.raw.queued()
        }

        #[inline]
        fn acquire_inner(
            &self,
            n: usize,
            deadline: Option<$crate::facade::Instant>,
        ) -> Option<$crate::SemaphorePermit<'_>> {
            self.check_request(n);
            self.raw
                .acquire(n, deadline)
                .then(|| $crate::SemaphorePermit::new(&self.raw, n))
        }
    };
}
pub(crate) use acquire_methods;

impl Semaphore {
    const_fn! {
        /// Creates a semaphore with `permits` free permits (`const` outside loom).
        ///
        /// # Panics
        ///
        /// If `permits` exceeds `usize::MAX / 2`.
        ///
        /// ```
        /// let sem = threadkit::Semaphore::new(5);
        /// assert_eq!(sem.available_permits(), 5);
        /// ```
        pub const fn new(permits: usize) -> Semaphore {
            assert!(permits <= MAX_PERMITS, "Semaphore::new: more than usize::MAX / 2 permits");
            Semaphore {
                raw: RawSemaphore::new(permits, MAX_PERMITS),
            }
        }
    }

    acquire_methods!(Semaphore);

    /// Adds `n` permits, waking waiters in FIFO order (Python's `release(n)`).
    /// Any thread may release, and the count may exceed the initial value.
    ///
    /// Everything before this call happens-before the return of the acquires
    /// that receive these permits.
    ///
    /// # Panics
    ///
    /// If the count would exceed `usize::MAX / 2`.
    ///
    /// ```
    /// let sem = threadkit::Semaphore::new(0);
    /// sem.release(2);
    /// assert_eq!(sem.available_permits(), 2);
    /// ```
    #[inline]
    pub fn release(&self, n: usize) {
        if let Err(over) = self.raw.release(n, Excess::Refuse) {
            panic!(
                "Semaphore::release: adding {n} permits to {} would exceed the maximum, usize::MAX / 2",
                over.count
            );
        }
    }

    #[inline]
    #[track_caller]
    fn check_request(&self, n: usize) {
        assert!(
            n <= MAX_PERMITS,
            "Semaphore::acquire_many: {n} permits is more than a semaphore can hold (usize::MAX / 2)"
        );
    }
}

impl Default for Semaphore {
    /// A semaphore with one permit (Python's `Semaphore()`).
    fn default() -> Self {
        Semaphore::new(1)
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("available_permits", &self.available_permits())
            .finish()
    }
}
