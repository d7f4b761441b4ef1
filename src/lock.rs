//! [`Lock`]: mutual exclusion around a value (Python's `threading.Lock`).
//!
//! A thin layer over `lock_api::Mutex` and the facade's raw mutex: parking_lot
//! 0.12's one-byte, eventually fair mutex with a cheaper (`fetch_sub`) unlock, running on
//! `parking_lot_core` natively and on a model parking lot under `--cfg loom`. The
//! same code runs in both, so the loom models check this file and the raw mutex.

use core::fmt;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};
use core::time::Duration;

use crate::facade::{self, Instant, RawMutex, const_fn};

/// A mutual-exclusion lock protecting a value of type `T` (Python's
/// `threading.Lock`, with the data inside as in Rust's `Mutex`).
///
/// [`lock`](Lock::lock) blocks until the lock is free and returns a
/// [`LockGuard`] that gives `&mut T`; the lock is released when the guard is dropped.
///
/// # Happens-before
///
/// Everything a thread did while holding the lock happens-before everything any
/// later holder does after acquiring it (release on unlock, acquire on lock).
///
/// # Fairness
///
/// Eventually fair, as parking_lot: an unlock normally lets a running thread
/// barge in (fast), but a thread that has waited for about 0.5 ms is handed the
/// lock directly, so under constant contention no thread starves.
///
/// # Differences from `std::sync::Mutex` and from Python
///
/// - No poisoning: a panic while the guard is held releases the lock, and the
///   next `lock` succeeds (the data may be half-updated; keep invariants simple).
/// - `size_of::<Lock<()>>()` is one byte; `Lock::new` is `const`.
/// - Timed acquisition (`try_lock_for`, `try_lock_until`) as Python's
///   `acquire(timeout=...)`; a zero timeout tries once, `Duration::MAX` waits forever.
/// - Unlike Python's `Lock`, only the thread holding the guard can release it.
///   For "release from another thread" hand-offs use a `Semaphore` or an `Event`.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::thread;
/// use threadkit::Lock;
///
/// let counter = Arc::new(Lock::new(0));
/// let handles: Vec<_> = (0..4)
///     .map(|_| {
///         let counter = Arc::clone(&counter);
///         thread::spawn(move || {
///             for _ in 0..1000 {
///                 *counter.lock() += 1; // read-modify-write, no lost update
///             }
///         })
///     })
///     .collect();
/// for handle in handles {
///     handle.join().unwrap();
/// }
/// assert_eq!(*counter.lock(), 4000);
/// ```
pub struct Lock<T: ?Sized> {
    inner: lock_api::Mutex<RawMutex, T>,
}

/// The RAII guard of a held [`Lock`]: derefs to the data, unlocks when dropped.
///
/// Not `Send`: a lock is released by the thread that took it.
#[must_use = "if unused the Lock will immediately unlock"]
#[clippy::has_significant_drop]
pub struct LockGuard<'a, T: ?Sized> {
    inner: lock_api::MutexGuard<'a, RawMutex, T>,
    // `!Send` whatever parking_lot features other crates enable (`send_guard`
    // would make the inner guard `Send`); still `Sync` when `T: Sync`.
    _not_send: PhantomData<lock_api::GuardNoSend>,
}

impl<T> Lock<T> {
    const_fn! {
        /// Creates an unlocked lock holding `value` (`const` outside loom, so a
        /// `Lock` can be a `static`).
        ///
        /// ```
        /// static CONFIG: threadkit::Lock<Vec<u8>> = threadkit::Lock::new(Vec::new());
        /// CONFIG.lock().push(1);
        /// assert_eq!(*CONFIG.lock(), [1]);
        /// ```
        #[inline]
        pub const fn new(value: T) -> Lock<T> {
            Lock {
                inner: lock_api::Mutex::from_raw(facade::raw_mutex(), value),
            }
        }
    }

    /// Consumes the lock and returns the value. No locking is needed: owning the
    /// lock proves no guard exists.
    ///
    /// ```
    /// let lock = threadkit::Lock::new(String::from("done"));
    /// assert_eq!(lock.into_inner(), "done");
    /// ```
    #[inline]
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }
}

impl<T: ?Sized> Lock<T> {
    /// Acquires the lock, blocking until it is free.
    ///
    /// Everything done by the previous holder happens-before this returns.
    /// Locking again on the same thread while holding the guard deadlocks (use
    /// [`RLock`](crate::RLock) for re-entry).
    ///
    /// ```
    /// let lock = threadkit::Lock::new(1);
    /// *lock.lock() += 1;
    /// assert_eq!(*lock.lock(), 2);
    /// ```
    #[inline]
    pub fn lock(&self) -> LockGuard<'_, T> {
        LockGuard::new(self.inner.lock())
    }

    /// Acquires the lock if it is free right now, without blocking.
    ///
    /// On success, everything done by the previous holder happens-before this returns.
    ///
    /// ```
    /// let lock = threadkit::Lock::new(());
    /// let guard = lock.try_lock().expect("free");
    /// assert!(lock.try_lock().is_none());
    /// drop(guard);
    /// assert!(lock.try_lock().is_some());
    /// ```
    #[inline]
    pub fn try_lock(&self) -> Option<LockGuard<'_, T>> {
        self.inner.try_lock().map(LockGuard::new)
    }

    /// Acquires the lock, blocking for at most `timeout` (Python's
    /// `acquire(timeout=...)`). A zero timeout tries once; a timeout too large to
    /// represent as a deadline (e.g. `Duration::MAX`) waits forever.
    ///
    /// On success, everything done by the previous holder happens-before this returns.
    ///
    /// ```
    /// use std::time::Duration;
    /// let lock = threadkit::Lock::new(0);
    /// let held = lock.lock();
    /// assert!(lock.try_lock_for(Duration::from_millis(1)).is_none());
    /// drop(held);
    /// assert!(lock.try_lock_for(Duration::from_millis(1)).is_some());
    /// ```
    #[inline]
    pub fn try_lock_for(&self, timeout: Duration) -> Option<LockGuard<'_, T>> {
        self.inner.try_lock_for(timeout).map(LockGuard::new)
    }

    /// Acquires the lock, blocking until `deadline` at the latest. A deadline in
    /// the past tries once.
    ///
    /// On success, everything done by the previous holder happens-before this returns.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let lock = threadkit::Lock::new(0);
    /// let deadline = Instant::now() + Duration::from_millis(10);
    /// assert!(lock.try_lock_until(deadline).is_some());
    /// ```
    #[inline]
    pub fn try_lock_until(&self, deadline: Instant) -> Option<LockGuard<'_, T>> {
        self.inner.try_lock_until(deadline).map(LockGuard::new)
    }

    /// Whether some thread holds the lock right now (a snapshot, for diagnostics
    /// and assertions; by the time you act on it, it may have changed).
    ///
    /// ```
    /// let lock = threadkit::Lock::new(());
    /// assert!(!lock.is_locked());
    /// let _guard = lock.lock();
    /// assert!(lock.is_locked());
    /// ```
    #[inline]
    pub fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }

    /// A mutable reference to the value, without locking: `&mut self` proves no
    /// other thread can hold a guard.
    ///
    /// ```
    /// let mut lock = threadkit::Lock::new(1);
    /// *lock.get_mut() = 5;
    /// assert_eq!(*lock.lock(), 5);
    /// ```
    #[inline]
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut()
    }
}

impl<'a, T: ?Sized> LockGuard<'a, T> {
    fn new(inner: lock_api::MutexGuard<'a, RawMutex, T>) -> Self {
        LockGuard {
            inner,
            _not_send: PhantomData,
        }
    }

    /// The address of the held lock: identifies it while the guard lives (used
    /// by [`Condition`](crate::Condition) to check that its waiters share one lock).
    pub(crate) fn lock_addr(guard: &Self) -> usize {
        core::ptr::from_ref(lock_api::MutexGuard::mutex(&guard.inner))
            .cast::<()>()
            .addr()
    }

    /// Releases the lock while `f` runs, then takes it again (also if `f`
    /// panics). Useful to do slow work without holding the lock.
    ///
    /// Everything other holders did meanwhile happens-before this returns.
    ///
    /// ```
    /// let lock = threadkit::Lock::new(0);
    /// let mut guard = lock.lock();
    /// threadkit::LockGuard::unlocked(&mut guard, || assert!(!lock.is_locked()));
    /// *guard += 1;
    /// ```
    #[inline]
    pub fn unlocked<F: FnOnce() -> U, U>(guard: &mut Self, f: F) -> U {
        lock_api::MutexGuard::unlocked(&mut guard.inner, f)
    }
}

impl<T: ?Sized> Deref for LockGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T: ?Sized> DerefMut for LockGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

impl<T: Default> Default for Lock<T> {
    fn default() -> Self {
        Lock::new(T::default())
    }
}

impl<T> From<T> for Lock<T> {
    fn from(value: T) -> Self {
        Lock::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Lock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Lock");
        match self.try_lock() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for LockGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for LockGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}
