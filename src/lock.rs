//! [`Lock`]: mutual exclusion around a value (Python's `threading.Lock`).
//!
//! A thin layer over `lock_api::Mutex` and the facade's raw mutex: parking_lot
//! 0.12's one-byte, eventually fair mutex with a cheaper (`fetch_sub`) unlock, running on
//! `parking_lot_core` natively and on a model parking lot under `--cfg loom`. The
//! same code runs in both, so the loom models check this file and the raw mutex.

use core::fmt;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};
use core::panic::Location;
use core::time::Duration;

use crate::facade::{self, Instant, RawMutex, StdArc, const_fn};
use crate::lock_order::{self, HeldToken, Node};

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
/// # Unwind safety
///
/// `Lock<T>` is `UnwindSafe` when `T` is, but not `RefUnwindSafe` (as
/// parking_lot's `Mutex`; std's is, because it poisons): without poisoning, a
/// panic in a critical section can leave the value half-updated for the next
/// holder to see. Wrap a `&Lock` in [`AssertUnwindSafe`](std::panic::AssertUnwindSafe)
/// once you have checked that your critical sections keep the value consistent.
///
/// ```compile_fail
/// fn needs_ref_unwind_safe<T: std::panic::RefUnwindSafe>(_: &T) {}
/// needs_ref_unwind_safe(&threadkit::Lock::new(0));
/// ```
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
    // Zero-sized without the `lock-order` feature.
    order: Node,
    inner: lock_api::Mutex<RawMutex, T>,
}

/// The RAII guard of a held [`Lock`]: derefs to the data, unlocks when dropped.
///
/// Not `Send`: a lock is released by the thread that took it.
#[must_use = "if unused the Lock will immediately unlock"]
#[clippy::has_significant_drop]
#[doc(alias = "release")]
pub struct LockGuard<'a, T: ?Sized> {
    inner: lock_api::MutexGuard<'a, RawMutex, T>,
    // This thread's record of the hold (zero-sized without `lock-order`).
    held: HeldToken,
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
                order: Node::new(),
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
    #[doc(alias = "acquire")]
    #[cfg_attr(feature = "lock-order", track_caller)]
    pub fn lock(&self) -> LockGuard<'_, T> {
        self.lock_at(Location::caller())
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
    #[must_use = "if unused the Lock will immediately unlock"]
    #[doc(alias = "acquire")]
    #[cfg_attr(feature = "lock-order", track_caller)]
    pub fn try_lock(&self) -> Option<LockGuard<'_, T>> {
        self.try_lock_at(Location::caller())
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
    #[must_use = "if unused the Lock will immediately unlock"]
    #[doc(alias = "acquire")]
    #[cfg_attr(feature = "lock-order", track_caller)]
    pub fn try_lock_for(&self, timeout: Duration) -> Option<LockGuard<'_, T>> {
        let site = Location::caller();
        lock_order::before_blocking(&self.order, site);
        Some(LockGuard::new(
            self,
            self.inner.try_lock_for(timeout)?,
            site,
        ))
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
    #[must_use = "if unused the Lock will immediately unlock"]
    #[cfg_attr(feature = "lock-order", track_caller)]
    pub fn try_lock_until(&self, deadline: Instant) -> Option<LockGuard<'_, T>> {
        self.try_lock_until_at(deadline, Location::caller())
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
    #[doc(alias = "locked")]
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

    /// Acquires the lock through an `Arc`, blocking until it is free; the guard
    /// owns a clone of the `Arc`, so it can be stored in a struct (parking_lot's
    /// `lock_arc`). Like [`LockGuard`] it stays on the thread that took it.
    ///
    /// Everything done by the previous holder happens-before this returns.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use threadkit::{ArcLockGuard, Lock};
    ///
    /// struct Session {
    ///     log: ArcLockGuard<Vec<String>>, // holds the lock for the session's life
    /// }
    ///
    /// let log = Arc::new(Lock::new(Vec::new()));
    /// let mut session = Session { log: log.lock_arc() };
    /// session.log.push("login".to_owned());
    /// assert!(log.is_locked());
    /// drop(session);
    /// assert_eq!(log.lock().len(), 1);
    /// ```
    #[inline]
    #[cfg_attr(feature = "lock-order", track_caller)]
    pub fn lock_arc(self: &StdArc<Self>) -> ArcLockGuard<T> {
        self.before_blocking();
        ArcLockGuard::adopt(self, self.inner.lock())
    }

    /// [`try_lock`](Lock::try_lock) through an `Arc`: an owned guard if the lock
    /// is free right now.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let lock = Arc::new(threadkit::Lock::new(()));
    /// let held = lock.try_lock_arc().unwrap();
    /// assert!(lock.try_lock_arc().is_none());
    /// # drop(held);
    /// ```
    #[inline]
    #[must_use = "if unused the Lock will immediately unlock"]
    #[cfg_attr(feature = "lock-order", track_caller)]
    pub fn try_lock_arc(self: &StdArc<Self>) -> Option<ArcLockGuard<T>> {
        Some(ArcLockGuard::adopt(self, self.inner.try_lock()?))
    }

    /// [`try_lock_for`](Lock::try_lock_for) through an `Arc`.
    ///
    /// ```
    /// use std::{sync::Arc, time::Duration};
    /// let lock = Arc::new(threadkit::Lock::new(()));
    /// assert!(lock.try_lock_arc_for(Duration::from_millis(5)).is_some());
    /// ```
    #[inline]
    #[must_use = "if unused the Lock will immediately unlock"]
    #[cfg_attr(feature = "lock-order", track_caller)]
    pub fn try_lock_arc_for(self: &StdArc<Self>, timeout: Duration) -> Option<ArcLockGuard<T>> {
        self.before_blocking();
        Some(ArcLockGuard::adopt(self, self.inner.try_lock_for(timeout)?))
    }

    /// [`try_lock_until`](Lock::try_lock_until) through an `Arc`.
    ///
    /// ```
    /// use std::{sync::Arc, time::{Duration, Instant}};
    /// let lock = Arc::new(threadkit::Lock::new(()));
    /// assert!(lock.try_lock_arc_until(Instant::now() + Duration::from_millis(5)).is_some());
    /// ```
    #[inline]
    #[must_use = "if unused the Lock will immediately unlock"]
    #[cfg_attr(feature = "lock-order", track_caller)]
    pub fn try_lock_arc_until(self: &StdArc<Self>, deadline: Instant) -> Option<ArcLockGuard<T>> {
        self.before_blocking();
        Some(ArcLockGuard::adopt(
            self,
            self.inner.try_lock_until(deadline)?,
        ))
    }
}

impl<T: ?Sized> Lock<T> {
    /// The lock-order check before a blocking acquisition (nothing without
    /// the `lock-order` feature).
    #[inline(always)]
    #[cfg_attr(feature = "lock-order", track_caller)]
    fn before_blocking(&self) {
        lock_order::before_blocking(&self.order, Location::caller());
    }

    /// [`lock`](Lock::lock), with the call site the lock-order checker names
    /// given explicitly (`lock_all` passes its caller's).
    #[inline]
    pub(crate) fn lock_at(&self, site: &'static Location<'static>) -> LockGuard<'_, T> {
        lock_order::before_blocking(&self.order, site);
        LockGuard::new(self, self.inner.lock(), site)
    }

    /// [`try_lock`](Lock::try_lock) at an explicit call site. Adds no
    /// lock-order edge: it cannot block.
    #[inline]
    pub(crate) fn try_lock_at(&self, site: &'static Location<'static>) -> Option<LockGuard<'_, T>> {
        Some(LockGuard::new(self, self.inner.try_lock()?, site))
    }

    /// [`try_lock_until`](Lock::try_lock_until) at an explicit call site.
    #[inline]
    pub(crate) fn try_lock_until_at(
        &self,
        deadline: Instant,
        site: &'static Location<'static>,
    ) -> Option<LockGuard<'_, T>> {
        lock_order::before_blocking(&self.order, site);
        Some(LockGuard::new(
            self,
            self.inner.try_lock_until(deadline)?,
            site,
        ))
    }

    /// The lock's node in the lock-order graph (zero-sized without the feature).
    pub(crate) fn order_node(&self) -> &Node {
        &self.order
    }
}

impl<'a, T: ?Sized> LockGuard<'a, T> {
    #[inline(always)]
    fn new(
        lock: &'a Lock<T>,
        inner: lock_api::MutexGuard<'a, RawMutex, T>,
        site: &'static Location<'static>,
    ) -> Self {
        LockGuard {
            inner,
            held: HeldToken::new(&lock.order, site),
            _not_send: PhantomData,
        }
    }

    /// Before a `Condition` wait on this guard: the lock-order check of its
    /// re-acquisition (nothing without the `lock-order` feature).
    #[inline(always)]
    #[cfg_attr(feature = "lock-order", track_caller)]
    pub(crate) fn before_reacquiring(guard: &Self) {
        guard.held.check_again(Location::caller());
    }

    /// The held lock's raw mutex, for [`Condition`](crate::Condition): its
    /// address identifies the lock while the guard lives, and a notify may move
    /// waiters onto its queue.
    pub(crate) fn raw(guard: &Self) -> &'a RawMutex {
        // SAFETY: `raw` is unsafe because the raw mutex could be unlocked behind
        // the guard's back; only `unlock_for_wait` below does that, and it
        // restores the lock before returning or unwinding.
        unsafe { lock_api::MutexGuard::mutex(&guard.inner).raw() }
    }

    /// Releases the lock while `wait` runs, for a `Condition` wait. `wait`
    /// returns its result and whether it holds the lock again already (a notify
    /// moved it onto the lock's queue and the unlock handed it over); if not,
    /// the lock is taken again here, as it is if `wait` panics.
    pub(crate) fn unlock_for_wait<U>(guard: &mut Self, wait: impl FnOnce() -> (U, bool)) -> U {
        /// Takes the lock again when dropped, unless forgotten.
        struct Relock<'r>(&'r RawMutex);
        impl Drop for Relock<'_> {
            fn drop(&mut self) {
                lock_api::RawMutex::lock(self.0);
            }
        }
        let raw = LockGuard::raw(guard);
        // SAFETY: the guard proves this thread holds the lock; `guard` is
        // borrowed mutably until the lock is held again, so nothing reads the
        // value meanwhile.
        unsafe { lock_api::RawMutex::unlock(raw) };
        let relock = Relock(raw);
        let (result, holds_lock) = wait();
        if holds_lock {
            // Handed over by its unlocker: held without a `lock` call here.
            facade::track::acquired(raw.addr());
            core::mem::forget(relock);
        }
        result
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
    #[cfg_attr(feature = "lock-order", track_caller)]
    pub fn unlocked<F: FnOnce() -> U, U>(guard: &mut Self, f: F) -> U {
        LockGuard::before_reacquiring(guard);
        lock_api::MutexGuard::unlocked(&mut guard.inner, f)
    }

    /// Narrows the guard to a part of the value (as `MutexGuard::map`); the
    /// lock stays held until the returned guard is dropped.
    ///
    /// An associated function (`LockGuard::map(guard, ...)`), so it does not
    /// shadow a `map` method of `T`.
    ///
    /// ```
    /// use threadkit::{Lock, LockGuard};
    /// let point = Lock::new((1, 2));
    /// let mut y = LockGuard::map(point.lock(), |p| &mut p.1);
    /// *y += 10;
    /// drop(y);
    /// assert_eq!(*point.lock(), (1, 12));
    /// ```
    #[inline]
    pub fn map<U: ?Sized, F>(guard: Self, f: F) -> MappedLockGuard<'a, U>
    where
        F: FnOnce(&mut T) -> &mut U,
    {
        MappedLockGuard {
            inner: lock_api::MutexGuard::map(guard.inner, f),
            _held: guard.held,
            _not_send: PhantomData,
        }
    }

    /// As [`map`](LockGuard::map) for a part that may be missing: `Err` gives
    /// the original guard back (the lock stays held either way).
    ///
    /// ```
    /// use threadkit::{Lock, LockGuard};
    /// let slots = Lock::new(vec![1, 2]);
    /// assert!(LockGuard::try_map(slots.lock(), |v| v.get_mut(5)).is_err());
    /// let first = LockGuard::try_map(slots.lock(), |v| v.first_mut()).unwrap();
    /// assert_eq!(*first, 1);
    /// ```
    #[inline]
    pub fn try_map<U: ?Sized, F>(guard: Self, f: F) -> Result<MappedLockGuard<'a, U>, Self>
    where
        F: FnOnce(&mut T) -> Option<&mut U>,
    {
        let LockGuard { inner, held, .. } = guard;
        match lock_api::MutexGuard::try_map(inner, f) {
            Ok(inner) => Ok(MappedLockGuard {
                inner,
                _held: held,
                _not_send: PhantomData,
            }),
            Err(inner) => Err(LockGuard {
                inner,
                held,
                _not_send: PhantomData,
            }),
        }
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

/// A [`LockGuard`] narrowed to a part of the value by [`LockGuard::map`]: derefs
/// to that part, unlocks the whole [`Lock`] when dropped. Not `Send`.
#[must_use = "if unused the Lock will immediately unlock"]
#[clippy::has_significant_drop]
pub struct MappedLockGuard<'a, T: ?Sized> {
    inner: lock_api::MappedMutexGuard<'a, RawMutex, T>,
    _held: HeldToken,
    _not_send: PhantomData<lock_api::GuardNoSend>,
}

impl<'a, T: ?Sized> MappedLockGuard<'a, T> {
    /// Narrows the guard further (see [`LockGuard::map`]).
    ///
    /// ```
    /// use threadkit::{Lock, LockGuard, MappedLockGuard};
    /// let nested = Lock::new(((0, 1), 2));
    /// let inner = LockGuard::map(nested.lock(), |n| &mut n.0);
    /// assert_eq!(*MappedLockGuard::map(inner, |i| &mut i.1), 1);
    /// ```
    #[inline]
    pub fn map<U: ?Sized, F>(guard: Self, f: F) -> MappedLockGuard<'a, U>
    where
        F: FnOnce(&mut T) -> &mut U,
    {
        MappedLockGuard {
            inner: lock_api::MappedMutexGuard::map(guard.inner, f),
            _held: guard._held,
            _not_send: PhantomData,
        }
    }
}

impl<T: ?Sized> Deref for MappedLockGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T: ?Sized> DerefMut for MappedLockGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MappedLockGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MappedLockGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// The guard of a [`Lock`] held through an `Arc` ([`Lock::lock_arc`]): owns a
/// clone of the `Arc`, so it has no lifetime and can be stored in a struct.
/// Derefs to the data; unlocks when dropped. Not `Send`: the thread that took
/// the lock releases it.
#[must_use = "if unused the Lock will immediately unlock"]
#[clippy::has_significant_drop]
pub struct ArcLockGuard<T: ?Sized> {
    lock: StdArc<Lock<T>>,
    // Dropped after `drop` below has unlocked.
    _held: HeldToken,
    // `!Send` and `!Sync`; `Sync` is restored below where `T` allows it.
    _not_send: PhantomData<lock_api::GuardNoSend>,
}

// SAFETY: a shared `&ArcLockGuard` only gives `&T` (needs `T: Sync`) and `&Arc<Lock<T>>`
// (cloning it to another thread needs `Lock<T>: Send + Sync`, i.e. `T: Send`).
unsafe impl<T: ?Sized + Send + Sync> Sync for ArcLockGuard<T> {}

impl<T: ?Sized> ArcLockGuard<T> {
    /// Keeps the lock that `guard` holds locked beyond `guard`'s lifetime,
    /// owned by the new guard through a clone of `lock`.
    #[cfg_attr(feature = "lock-order", track_caller)]
    fn adopt(lock: &StdArc<Lock<T>>, guard: lock_api::MutexGuard<'_, RawMutex, T>) -> Self {
        core::mem::forget(guard);
        ArcLockGuard {
            _held: HeldToken::new(&lock.order, Location::caller()),
            lock: StdArc::clone(lock),
            _not_send: PhantomData,
        }
    }

    /// The `Arc` of the locked [`Lock`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// let lock = Arc::new(threadkit::Lock::new(0));
    /// let guard = lock.lock_arc();
    /// assert!(Arc::ptr_eq(threadkit::ArcLockGuard::lock(&guard), &lock));
    /// ```
    pub fn lock(guard: &Self) -> &StdArc<Lock<T>> {
        &guard.lock
    }
}

impl<T: ?Sized> Deref for ArcLockGuard<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: this guard holds the lock (adopted in `adopt`, released only in
        // `drop`), so no other thread accesses the value; `&self` rules out a
        // `&mut` from this guard for the returned lifetime.
        unsafe { &*self.lock.inner.data_ptr() }
    }
}

impl<T: ?Sized> DerefMut for ArcLockGuard<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this the only reference.
        unsafe { &mut *self.lock.inner.data_ptr() }
    }
}

impl<T: ?Sized> Drop for ArcLockGuard<T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: this guard holds the lock (see `adopt`), on this thread (the
        // guard is `!Send`), and releases it exactly once.
        unsafe { self.lock.inner.force_unlock() }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for ArcLockGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for ArcLockGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}
