//! [`Semaphore`] and its RAII [`SemaphorePermit`] (Python's `threading.Semaphore`).
//!
//! A thin layer over the FIFO-fair engine in `raw_semaphore`, which
//! [`BoundedSemaphore`](crate::BoundedSemaphore) shares.

use core::fmt;

use crate::facade::{StdArc, const_fn};
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
#[doc(alias = "release")]
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

/// Permits taken from an `Arc` of a [`Semaphore`] or
/// [`BoundedSemaphore`](crate::BoundedSemaphore), given back when dropped: the
/// owned form of [`SemaphorePermit`] (tokio's `OwnedSemaphorePermit`), which
/// keeps the semaphore alive, so it can be stored in a struct or moved into a
/// `'static` thread.
///
/// The same release rules as [`SemaphorePermit`].
///
/// ```
/// use std::sync::Arc;
/// let pool = Arc::new(threadkit::Semaphore::new(1));
/// let permit = pool.acquire_arc();
/// let worker = std::thread::spawn(move || {
///     // ... use the pooled resource ...
///     drop(permit); // released on the worker thread
/// });
/// worker.join().unwrap();
/// assert_eq!(pool.available_permits(), 1);
/// ```
#[must_use = "if unused the permit is released at once"]
#[clippy::has_significant_drop]
pub struct OwnedSemaphorePermit {
    owner: Owner,
    permits: usize,
}

/// The semaphore an [`OwnedSemaphorePermit`] keeps alive.
pub(crate) enum Owner {
    Plain(StdArc<Semaphore>),
    Bounded(StdArc<crate::BoundedSemaphore>),
}

impl Owner {
    fn raw(&self) -> &RawSemaphore {
        match self {
            Owner::Plain(sem) => &sem.raw,
            Owner::Bounded(sem) => sem.raw(),
        }
    }
}

impl OwnedSemaphorePermit {
    pub(crate) fn new(owner: Owner, permits: usize) -> Self {
        OwnedSemaphorePermit { owner, permits }
    }

    /// How many permits this guard holds.
    ///
    /// ```
    /// let sem = std::sync::Arc::new(threadkit::Semaphore::new(3));
    /// assert_eq!(sem.acquire_many_arc(2).num_permits(), 2);
    /// ```
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// Keeps the permits taken: dropping the guard no longer gives them back.
    ///
    /// ```
    /// let sem = std::sync::Arc::new(threadkit::Semaphore::new(1));
    /// sem.acquire_arc().forget();
    /// assert_eq!(sem.available_permits(), 0);
    /// ```
    pub fn forget(mut self) {
        self.permits = 0;
    }
}

impl Drop for OwnedSemaphorePermit {
    #[inline]
    fn drop(&mut self) {
        // As `SemaphorePermit`: a bounded semaphore discards the excess.
        let _ = self.owner.raw().release(self.permits, Excess::Discard);
    }
}

impl fmt::Debug for OwnedSemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedSemaphorePermit")
            .field("permits", &self.permits)
            .finish()
    }
}

/// The acquire family, the same for `Semaphore` and `BoundedSemaphore`
/// (`$owner` wraps an `Arc` of the type into an [`Owner`]).
///
/// Untimed forms panic on a request larger than the semaphore can ever hold
/// (it would block forever); `try_*` forms return `None` for it, and timed
/// forms wait out their timeout and return `None`, as Python returns `False`.
macro_rules! acquire_methods {
    ($name:ident, $owner:path) => {
        /// Takes one permit, blocking while none is free (in FIFO order).
        ///
        /// Everything done before the release of this permit happens-before this returns.
        ///
        /// # Panics
        ///
        #[doc = concat!("If the ", stringify!($name), " can never hold a permit (a `BoundedSemaphore::new(0)`): it would block forever.")]
        ///
        /// ```
        #[doc = concat!("let sem = threadkit::", stringify!($name), "::new(1);")]
        /// let permit = sem.acquire();
        /// assert_eq!(sem.available_permits(), 0);
        /// drop(permit);
        /// assert_eq!(sem.available_permits(), 1);
        /// ```
        #[inline]
        #[track_caller]
        pub fn acquire(&self) -> $crate::SemaphorePermit<'_> {
            self.check_request(1, "acquire");
            self.acquire_raw(1, None)
                .expect("an untimed acquire cannot time out")
        }

        /// Takes one permit if one is free and nobody is waiting, without blocking
        /// (Python's `acquire(blocking=False)`).
        ///
        /// On success, everything done before the release of this permit
        /// happens-before this returns.
        ///
        /// ```
        #[doc = concat!("let sem = threadkit::", stringify!($name), "::new(1);")]
        /// let held = sem.try_acquire().expect("one is free");
        /// assert!(sem.try_acquire().is_none());
        /// # drop(held);
        /// ```
        #[inline]
        #[must_use = "if unused the permit is released at once"]
        pub fn try_acquire(&self) -> Option<$crate::SemaphorePermit<'_>> {
            self.try_acquire_many(1)
        }

        /// Takes one permit, waiting at most `timeout` (zero: try once;
        /// `Duration::MAX`: forever). Python's `acquire(timeout=...)`.
        ///
        /// On success, everything done before the release of this permit
        /// happens-before this returns.
        ///
        /// ```
        /// use std::time::Duration;
        #[doc = concat!("let sem = threadkit::", stringify!($name), "::new(1);")]
        /// let held = sem.acquire();
        /// assert!(sem.acquire_for(Duration::from_millis(5)).is_none());
        /// drop(held);
        /// assert!(sem.acquire_for(Duration::from_millis(5)).is_some());
        /// ```
        #[must_use = "if unused the permit is released at once"]
        #[track_caller]
        pub fn acquire_for(
            &self,
            timeout: core::time::Duration,
        ) -> Option<$crate::SemaphorePermit<'_>> {
            self.acquire_timed(1, timeout, "acquire_for")
        }

        /// Takes one permit, waiting until `deadline` at the latest.
        ///
        /// On success, everything done before the release of this permit
        /// happens-before this returns.
        ///
        /// ```
        /// use std::time::{Duration, Instant};
        #[doc = concat!("let sem = threadkit::", stringify!($name), "::new(1);")]
        /// let _held = sem.acquire();
        /// let deadline = Instant::now() + Duration::from_millis(5);
        /// assert!(sem.acquire_until(deadline).is_none());
        /// assert!(Instant::now() >= deadline);
        /// ```
        #[must_use = "if unused the permit is released at once"]
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
        /// Everything done before the releases of these permits happens-before
        /// this returns.
        ///
        /// # Panics
        ///
        /// If `n` exceeds the most permits this semaphore can ever hold
        /// (`usize::MAX / 2`, or a bounded semaphore's initial count): such a
        /// request could never be granted.
        ///
        /// ```
        #[doc = concat!("let sem = threadkit::", stringify!($name), "::new(3);")]
        /// let batch = sem.acquire_many(3);
        /// assert_eq!(batch.num_permits(), 3);
        /// assert_eq!(sem.available_permits(), 0);
        /// ```
        #[inline]
        #[track_caller]
        pub fn acquire_many(&self, n: usize) -> $crate::SemaphorePermit<'_> {
            self.check_request(n, "acquire_many");
            self.acquire_raw(n, None)
                .expect("an untimed acquire cannot time out")
        }

        /// Takes `n` permits if they are free and nobody is waiting, without
        /// blocking; `None` also for a request larger than the semaphore can hold.
        ///
        /// ```
        #[doc = concat!("let sem = threadkit::", stringify!($name), "::new(3);")]
        /// let _one = sem.acquire();
        /// assert!(sem.try_acquire_many(3).is_none());
        /// assert!(sem.try_acquire_many(2).is_some());
        /// ```
        #[inline]
        #[must_use = "if unused the permits are released at once"]
        pub fn try_acquire_many(&self, n: usize) -> Option<$crate::SemaphorePermit<'_>> {
            // An impossible request simply finds too few free permits.
            self.raw
                .try_acquire(n)
                .then(|| $crate::SemaphorePermit::new(&self.raw, n))
        }

        /// Takes `n` permits, waiting at most `timeout`. On timeout, permits
        /// collected while waiting pass on to the next waiter. A request larger
        /// than the semaphore can ever hold waits out its timeout and returns
        /// `None` (Python returns `False`).
        ///
        /// # Panics
        ///
        /// For such a request with a timeout too long to represent as a
        /// deadline (`Duration::MAX`), which is the untimed
        #[doc = concat!("[`acquire_many`](", stringify!($name), "::acquire_many): it would block forever.")]
        ///
        /// ```
        /// use std::time::Duration;
        #[doc = concat!("let sem = threadkit::", stringify!($name), "::new(3);")]
        /// let one = sem.acquire();
        /// assert!(sem.acquire_many_for(3, Duration::from_millis(5)).is_none());
        /// assert_eq!(sem.available_permits(), 2); // nothing was kept
        /// # drop(one);
        /// ```
        #[must_use = "if unused the permits are released at once"]
        #[track_caller]
        pub fn acquire_many_for(
            &self,
            n: usize,
            timeout: core::time::Duration,
        ) -> Option<$crate::SemaphorePermit<'_>> {
            self.acquire_timed(n, timeout, "acquire_many_for")
        }

        /// Takes `n` permits, waiting until `deadline` at the latest (see
        #[doc = concat!("[`acquire_many_for`](", stringify!($name), "::acquire_many_for)).")]
        ///
        /// ```
        /// use std::time::{Duration, Instant};
        #[doc = concat!("let sem = threadkit::", stringify!($name), "::new(2);")]
        /// let deadline = Instant::now() + Duration::from_millis(5);
        /// assert!(sem.acquire_many_until(2, deadline).is_some());
        /// ```
        #[must_use = "if unused the permits are released at once"]
        pub fn acquire_many_until(
            &self,
            n: usize,
            deadline: $crate::facade::Instant,
        ) -> Option<$crate::SemaphorePermit<'_>> {
            self.acquire_raw(n, Some(deadline))
        }

        /// [`acquire`](Self::acquire) for an `Arc` of the semaphore: the permit
        /// owns a clone of the `Arc`, so it can move into a `'static` thread.
        ///
        /// # Panics
        ///
        /// As [`acquire`](Self::acquire).
        ///
        /// ```
        /// use std::sync::Arc;
        #[doc = concat!("let sem = Arc::new(threadkit::", stringify!($name), "::new(1));")]
        /// let permit = sem.acquire_arc();
        /// std::thread::spawn(move || drop(permit)).join().unwrap();
        /// assert_eq!(sem.available_permits(), 1);
        /// ```
        #[track_caller]
        #[doc(alias = "acquire_owned")]
        pub fn acquire_arc(self: &$crate::facade::StdArc<Self>) -> $crate::OwnedSemaphorePermit {
            self.check_request(1, "acquire_arc");
            self.own(self.acquire_raw(1, None).expect("an untimed acquire cannot time out"))
        }

        /// [`try_acquire`](Self::try_acquire) for an `Arc` of the semaphore.
        ///
        /// ```
        /// use std::sync::Arc;
        #[doc = concat!("let sem = Arc::new(threadkit::", stringify!($name), "::new(1));")]
        /// let held = sem.try_acquire_arc().unwrap();
        /// assert!(sem.try_acquire_arc().is_none());
        /// # drop(held);
        /// ```
        #[must_use = "if unused the permit is released at once"]
        #[doc(alias = "try_acquire_owned")]
        pub fn try_acquire_arc(
            self: &$crate::facade::StdArc<Self>,
        ) -> Option<$crate::OwnedSemaphorePermit> {
            self.try_acquire_many_arc(1)
        }

        /// [`acquire_for`](Self::acquire_for) for an `Arc` of the semaphore.
        ///
        /// ```
        /// use std::{sync::Arc, time::Duration};
        #[doc = concat!("let sem = Arc::new(threadkit::", stringify!($name), "::new(1));")]
        /// assert!(sem.try_acquire_arc_for(Duration::from_millis(5)).is_some());
        /// ```
        #[must_use = "if unused the permit is released at once"]
        #[track_caller]
        pub fn try_acquire_arc_for(
            self: &$crate::facade::StdArc<Self>,
            timeout: core::time::Duration,
        ) -> Option<$crate::OwnedSemaphorePermit> {
            self.acquire_timed(1, timeout, "try_acquire_arc_for")
                .map(|permit| self.own(permit))
        }

        /// [`acquire_until`](Self::acquire_until) for an `Arc` of the semaphore.
        ///
        /// ```
        /// use std::{sync::Arc, time::{Duration, Instant}};
        #[doc = concat!("let sem = Arc::new(threadkit::", stringify!($name), "::new(1));")]
        /// assert!(sem.try_acquire_arc_until(Instant::now() + Duration::from_millis(5)).is_some());
        /// ```
        #[must_use = "if unused the permit is released at once"]
        pub fn try_acquire_arc_until(
            self: &$crate::facade::StdArc<Self>,
            deadline: $crate::facade::Instant,
        ) -> Option<$crate::OwnedSemaphorePermit> {
            self.try_acquire_many_arc_until(1, deadline)
        }

        /// [`acquire_many`](Self::acquire_many) for an `Arc` of the semaphore.
        ///
        /// # Panics
        ///
        /// As [`acquire_many`](Self::acquire_many).
        ///
        /// ```
        /// use std::sync::Arc;
        #[doc = concat!("let sem = Arc::new(threadkit::", stringify!($name), "::new(3));")]
        /// let batch = sem.acquire_many_arc(2);
        /// assert_eq!(sem.available_permits(), 1);
        /// # drop(batch);
        /// ```
        #[track_caller]
        #[doc(alias = "acquire_many_owned")]
        pub fn acquire_many_arc(
            self: &$crate::facade::StdArc<Self>,
            n: usize,
        ) -> $crate::OwnedSemaphorePermit {
            self.check_request(n, "acquire_many_arc");
            self.own(self.acquire_raw(n, None).expect("an untimed acquire cannot time out"))
        }

        /// [`try_acquire_many`](Self::try_acquire_many) for an `Arc` of the semaphore.
        ///
        /// ```
        /// use std::sync::Arc;
        #[doc = concat!("let sem = Arc::new(threadkit::", stringify!($name), "::new(2));")]
        /// assert!(sem.try_acquire_many_arc(3).is_none());
        /// assert!(sem.try_acquire_many_arc(2).is_some());
        /// ```
        #[must_use = "if unused the permits are released at once"]
        #[doc(alias = "try_acquire_many_owned")]
        pub fn try_acquire_many_arc(
            self: &$crate::facade::StdArc<Self>,
            n: usize,
        ) -> Option<$crate::OwnedSemaphorePermit> {
            self.try_acquire_many(n).map(|permit| self.own(permit))
        }

        /// [`acquire_many_for`](Self::acquire_many_for) for an `Arc` of the semaphore.
        ///
        /// ```
        /// use std::{sync::Arc, time::Duration};
        #[doc = concat!("let sem = Arc::new(threadkit::", stringify!($name), "::new(2));")]
        /// assert!(sem.try_acquire_many_arc_for(2, Duration::from_millis(5)).is_some());
        /// ```
        #[must_use = "if unused the permits are released at once"]
        #[track_caller]
        pub fn try_acquire_many_arc_for(
            self: &$crate::facade::StdArc<Self>,
            n: usize,
            timeout: core::time::Duration,
        ) -> Option<$crate::OwnedSemaphorePermit> {
            self.acquire_timed(n, timeout, "try_acquire_many_arc_for")
                .map(|permit| self.own(permit))
        }

        /// [`acquire_many_until`](Self::acquire_many_until) for an `Arc` of the semaphore.
        ///
        /// ```
        /// use std::{sync::Arc, time::{Duration, Instant}};
        #[doc = concat!("let sem = Arc::new(threadkit::", stringify!($name), "::new(2));")]
        /// let deadline = Instant::now() + Duration::from_millis(5);
        /// assert!(sem.try_acquire_many_arc_until(2, deadline).is_some());
        /// ```
        #[must_use = "if unused the permits are released at once"]
        pub fn try_acquire_many_arc_until(
            self: &$crate::facade::StdArc<Self>,
            n: usize,
            deadline: $crate::facade::Instant,
        ) -> Option<$crate::OwnedSemaphorePermit> {
            self.acquire_many_until(n, deadline).map(|permit| self.own(permit))
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
        #[doc(alias = "_value")]
        pub fn available_permits(&self) -> usize {
            self.raw.available()
        }

        /// Not part of the API (hidden, may change): how many acquires wait
        /// right now, so tests can order a release after a waiter is queued.
        #[doc(hidden)]
        pub fn queued_waiters(&self) -> usize {
            self.raw.queued()
        }

        /// Panics (at the caller's line) if `n` permits can never be granted.
        #[inline]
        #[track_caller]
        fn check_request(&self, n: usize, method: &str) {
            if n > self.raw.bound() {
                $crate::raw_semaphore::impossible_request(stringify!($name), method, n, self.raw.bound());
            }
        }

        /// Takes `n` permits within `timeout`. A timeout too long for a
        /// deadline makes this the untimed form, which panics (at the caller's
        /// line, naming `method`) on a request that could never be granted.
        #[inline]
        #[track_caller]
        fn acquire_timed(
            &self,
            n: usize,
            timeout: core::time::Duration,
            method: &str,
        ) -> Option<$crate::SemaphorePermit<'_>> {
            let deadline = $crate::facade::deadline_after(timeout);
            if deadline.is_none() {
                self.check_request(n, method);
            }
            self.acquire_raw(n, deadline)
        }

        /// Takes `n` permits until `deadline`; an impossible request waits out
        /// the deadline (untimed callers checked it first).
        #[inline]
        fn acquire_raw(
            &self,
            n: usize,
            deadline: Option<$crate::facade::Instant>,
        ) -> Option<$crate::SemaphorePermit<'_>> {
            self.raw
                .acquire(n, deadline)
                .then(|| $crate::SemaphorePermit::new(&self.raw, n))
        }

        /// Turns a borrowed permit of this semaphore into an owned one.
        fn own(
            self: &$crate::facade::StdArc<Self>,
            permit: $crate::SemaphorePermit<'_>,
        ) -> $crate::OwnedSemaphorePermit {
            let permits = permit.num_permits();
            permit.forget();
            $crate::OwnedSemaphorePermit::new($owner($crate::facade::StdArc::clone(self)), permits)
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
        #[track_caller]
        pub const fn new(permits: usize) -> Semaphore {
            assert!(permits <= MAX_PERMITS, "Semaphore::new: more than usize::MAX / 2 permits");
            Semaphore {
                raw: RawSemaphore::new(permits, MAX_PERMITS),
            }
        }
    }

    acquire_methods!(Semaphore, Owner::Plain);

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
    #[track_caller]
    pub fn release(&self, n: usize) {
        if let Err(over) = self.raw.release(n, Excess::Refuse) {
            panic!(
                "Semaphore::release: adding {n} permits to {} would exceed the maximum, usize::MAX / 2",
                over.count
            );
        }
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
