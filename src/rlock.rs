//! [`RLock`]: a reentrant lock (Python's `threading.RLock`).
//!
//! `lock_api::ReentrantMutex` over the facade's raw mutex and thread id, plus a
//! hold counter that only the owning thread touches (so a `Cell` suffices: the
//! raw mutex orders it between owners).

use core::cell::Cell;
use core::fmt;
use core::ops::Deref;
use core::time::Duration;

use crate::facade::{self, Instant, RawMutex, RawThreadId, const_fn};
use crate::lock_order::{self, HeldToken, Node};

/// A reentrant lock: the thread that holds it may lock it again; other threads
/// block until the owner has dropped every one of its guards (Python's
/// `threading.RLock`).
///
/// Guards give only `&T`, because two guards of the same thread can be alive at
/// once. For mutation put a `Cell` or `RefCell` inside (`RLock<RefCell<T>>`), as
/// with `thread_local!`. `RLock<T>` is `Sync` whenever `T: Send`, so
/// `RLock<RefCell<T>>` can be shared between threads.
///
/// # Happens-before
///
/// Everything the owner did before its last guard was dropped happens-before
/// everything the next owner does after its first `lock` returns.
///
/// # Fairness
///
/// As [`Lock`](crate::Lock): eventually fair (a thread waiting about 0.5 ms is
/// handed the lock). Re-entry by the owner never waits.
///
/// # Differences from Python
///
/// Releasing is dropping a guard, so a release by a thread that does not own the
/// lock (Python's `RuntimeError`) cannot be written. [`hold_count`](RLock::hold_count)
/// is Python's private `_recursion_count()`.
///
/// # Unwind safety
///
/// As [`Lock`](crate::Lock): `UnwindSafe` when `T` is, not `RefUnwindSafe`
/// (no poisoning, so a panic can leave the value half-updated).
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use threadkit::RLock;
///
/// struct Account {
///     log: RLock<RefCell<Vec<String>>>,
/// }
///
/// impl Account {
///     fn record(&self, entry: &str) {
///         let log = self.log.lock();
///         log.borrow_mut().push(entry.to_owned());
///     }
///
///     fn transfer(&self) {
///         let _held = self.log.lock(); // keep the log consistent for the whole transfer
///         self.record("debit"); // re-enters the lock on the same thread
///         self.record("credit");
///     }
/// }
///
/// let account = Account { log: RLock::new(RefCell::new(Vec::new())) };
/// account.transfer();
/// assert_eq!(account.log.lock().borrow().len(), 2);
/// ```
pub struct RLock<T: ?Sized> {
    // Zero-sized without the `lock-order` feature.
    order: Node,
    inner: lock_api::ReentrantMutex<RawMutex, RawThreadId, Held<T>>,
}

/// The data of an [`RLock`] plus its owner's hold count.
struct Held<T: ?Sized> {
    holds: Cell<usize>,
    value: T,
}

/// The RAII guard of a held [`RLock`]: derefs to `&T`; dropping it releases one hold.
///
/// Not `Send`: holds belong to the thread that took them.
#[must_use = "if unused the RLock will immediately release this hold"]
#[clippy::has_significant_drop]
#[doc(alias = "release")]
pub struct RLockGuard<'a, T: ?Sized> {
    inner: lock_api::ReentrantMutexGuard<'a, RawMutex, RawThreadId, Held<T>>,
    // This thread's record of the hold (zero-sized without `lock-order`).
    _held: HeldToken,
}

impl<T> RLock<T> {
    const_fn! {
        /// Creates an unlocked reentrant lock holding `value` (`const` outside loom).
        ///
        /// ```
        /// let lock = threadkit::RLock::new(5);
        /// assert_eq!(*lock.lock(), 5);
        /// ```
        #[inline]
        pub const fn new(value: T) -> RLock<T> {
            let held = Held {
                holds: Cell::new(0),
                value,
            };
            RLock {
                order: Node::new(),
                inner: lock_api::ReentrantMutex::from_raw(facade::raw_mutex(), RawThreadId, held),
            }
        }
    }

    /// Consumes the lock and returns the value.
    ///
    /// ```
    /// assert_eq!(threadkit::RLock::new(3).into_inner(), 3);
    /// ```
    #[inline]
    pub fn into_inner(self) -> T {
        self.inner.into_inner().value
    }
}

impl<T: ?Sized> RLock<T> {
    /// Acquires the lock, blocking while another thread owns it. Returns at once
    /// if the current thread already owns it (one more hold).
    ///
    /// Everything the previous owner did happens-before this returns.
    ///
    /// ```
    /// let lock = threadkit::RLock::new(());
    /// let outer = lock.lock();
    /// let inner = lock.lock(); // no deadlock
    /// assert_eq!(lock.hold_count(), 2);
    /// drop((inner, outer));
    /// assert!(!lock.is_locked());
    /// ```
    #[inline]
    #[doc(alias = "acquire")]
    #[cfg_attr(feature = "lock-order", track_caller)]
    pub fn lock(&self) -> RLockGuard<'_, T> {
        self.before_blocking();
        RLockGuard::hold(self, self.inner.lock())
    }

    /// Acquires the lock if it is free or already owned by this thread, without blocking.
    ///
    /// ```
    /// let lock = threadkit::RLock::new(());
    /// let _a = lock.try_lock().unwrap();
    /// let _b = lock.try_lock().unwrap(); // re-entry succeeds
    /// assert_eq!(lock.hold_count(), 2);
    /// ```
    #[inline]
    #[must_use = "if unused the RLock will immediately release this hold"]
    #[cfg_attr(feature = "lock-order", track_caller)]
    pub fn try_lock(&self) -> Option<RLockGuard<'_, T>> {
        // Adds no lock-order edge: it cannot block.
        Some(RLockGuard::hold(self, self.inner.try_lock()?))
    }

    /// Acquires the lock, blocking for at most `timeout`. A zero timeout tries
    /// once; `Duration::MAX` waits forever. Re-entry succeeds at once.
    ///
    /// ```
    /// use std::time::Duration;
    /// let lock = threadkit::RLock::new(());
    /// assert!(lock.try_lock_for(Duration::from_millis(5)).is_some());
    /// ```
    #[inline]
    #[must_use = "if unused the RLock will immediately release this hold"]
    #[doc(alias = "acquire")]
    #[cfg_attr(feature = "lock-order", track_caller)]
    pub fn try_lock_for(&self, timeout: Duration) -> Option<RLockGuard<'_, T>> {
        self.before_blocking();
        Some(RLockGuard::hold(self, self.inner.try_lock_for(timeout)?))
    }

    /// Acquires the lock, blocking until `deadline` at the latest.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let lock = threadkit::RLock::new(());
    /// assert!(lock.try_lock_until(Instant::now() + Duration::from_millis(5)).is_some());
    /// ```
    #[inline]
    #[must_use = "if unused the RLock will immediately release this hold"]
    #[cfg_attr(feature = "lock-order", track_caller)]
    pub fn try_lock_until(&self, deadline: Instant) -> Option<RLockGuard<'_, T>> {
        self.before_blocking();
        Some(RLockGuard::hold(self, self.inner.try_lock_until(deadline)?))
    }

    /// Whether any thread owns the lock right now (a snapshot).
    ///
    /// ```
    /// let lock = threadkit::RLock::new(());
    /// assert!(!lock.is_locked());
    /// let _g = lock.lock();
    /// assert!(lock.is_locked());
    /// ```
    #[inline]
    pub fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }

    /// Whether the current thread owns the lock.
    ///
    /// ```
    /// let lock = threadkit::RLock::new(());
    /// let _g = lock.lock();
    /// assert!(lock.is_owned_by_current_thread());
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert!(!lock.is_owned_by_current_thread()));
    /// });
    /// ```
    #[inline]
    pub fn is_owned_by_current_thread(&self) -> bool {
        self.inner.is_owned_by_current_thread()
    }

    /// How many guards the current thread holds; 0 when it does not own the lock
    /// (whoever else does).
    ///
    /// ```
    /// let lock = threadkit::RLock::new(());
    /// assert_eq!(lock.hold_count(), 0);
    /// let a = lock.lock();
    /// let b = lock.lock();
    /// assert_eq!(lock.hold_count(), 2);
    /// drop(b);
    /// assert_eq!(lock.hold_count(), 1);
    /// drop(a);
    /// assert_eq!(lock.hold_count(), 0);
    /// ```
    #[doc(alias = "_recursion_count")]
    pub fn hold_count(&self) -> usize {
        if !self.inner.is_owned_by_current_thread() {
            return 0;
        }
        // We own it, so this re-entry cannot block; it lets us read the counter.
        self.inner.try_lock().map_or(0, |held| held.holds.get())
    }

    /// A mutable reference to the value, without locking.
    ///
    /// ```
    /// let mut lock = threadkit::RLock::new(1);
    /// *lock.get_mut() += 1;
    /// assert_eq!(*lock.lock(), 2);
    /// ```
    #[inline]
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner.get_mut().value
    }
}

impl<T: ?Sized> RLock<T> {
    /// The lock-order check before a blocking acquisition; a re-entry adds no
    /// edge (nothing without the `lock-order` feature).
    #[inline(always)]
    #[cfg_attr(feature = "lock-order", track_caller)]
    fn before_blocking(&self) {
        if lock_order::ENABLED && !self.inner.is_owned_by_current_thread() {
            lock_order::before_blocking(&self.order, core::panic::Location::caller());
        }
    }
}

impl<'a, T: ?Sized> RLockGuard<'a, T> {
    #[inline(always)]
    #[cfg_attr(feature = "lock-order", track_caller)]
    fn hold(
        lock: &'a RLock<T>,
        inner: lock_api::ReentrantMutexGuard<'a, RawMutex, RawThreadId, Held<T>>,
    ) -> Self {
        inner.holds.set(inner.holds.get() + 1);
        RLockGuard {
            inner,
            _held: HeldToken::new(&lock.order, core::panic::Location::caller()),
        }
    }
}

impl<T: ?Sized> Drop for RLockGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // Still held here: the inner guard releases its hold right after this.
        self.inner.holds.set(self.inner.holds.get() - 1);
    }
}

impl<T: ?Sized> Deref for RLockGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        &self.inner.value
    }
}

impl<T: Default> Default for RLock<T> {
    fn default() -> Self {
        RLock::new(T::default())
    }
}

impl<T> From<T> for RLock<T> {
    fn from(value: T) -> Self {
        RLock::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RLock");
        match self.try_lock() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RLockGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
