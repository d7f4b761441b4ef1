//! The facade outside loom: threadkit's raw mutex on parking_lot_core for locks,
//! std for the rest.

pub(crate) use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicUsize, Ordering};
pub(crate) use std::sync::Arc;
pub(crate) use std::time::Instant;

use core::num::NonZeroUsize;

use super::{RawMutex, raw_mutex};

/// The mutex guarding each primitive's internal state: the same raw mutex as
/// [`Lock`](crate::Lock).
pub(crate) type Mutex<T> = lock_api::Mutex<RawMutex, T>;
/// The guard of [`Mutex`].
pub(crate) type MutexGuard<'a, T> = lock_api::MutexGuard<'a, RawMutex, T>;

/// A new internal mutex.
pub(crate) const fn mutex<T>(value: T) -> Mutex<T> {
    lock_api::Mutex::from_raw(raw_mutex(), value)
}

/// The current thread's identity: a number unique for the life of the process,
/// drawn from a global counter the first time a thread asks and cached in a
/// thread-local. Not the address of a thread-local (parking_lot's `RawThreadId`),
/// which a new thread inherits from a dead one; `RLock` ownership must not be.
#[inline]
pub(crate) fn current_thread_id() -> NonZeroUsize {
    std::thread_local!(static ID: core::cell::Cell<usize> = const { core::cell::Cell::new(0) });
    // No destructor, so the slot is usable even while the thread exits.
    ID.with(|id| match NonZeroUsize::new(id.get()) {
        Some(known) => known,
        None => {
            let fresh = super::next_thread_id();
            id.set(fresh.get());
            fresh
        }
    })
}

/// Thread ids for `lock_api::ReentrantMutex`: [`current_thread_id`].
pub(crate) struct RawThreadId;

// SAFETY: two threads never get the same id, live or dead (ids are never reused).
unsafe impl lock_api::GetThreadId for RawThreadId {
    const INIT: Self = RawThreadId;

    #[inline]
    fn nonzero_thread_id(&self) -> NonZeroUsize {
        current_thread_id()
    }
}

pub(crate) use core::sync::atomic::AtomicU8;
pub(crate) use parking_lot_core::{ParkResult, RequeueOp, SpinWait, UnparkResult, UnparkToken};

/// Where threads park: natively the global parking lot of `parking_lot_core`,
/// keyed by an address (a [`RawMutex`]'s, or a wait queue entry's), so this is
/// a zero-sized handle and the mutex stays one byte.
#[derive(Debug)]
pub(crate) struct Lot;

impl Lot {
    /// A handle to the parking lot.
    pub(crate) const fn new() -> Lot {
        Lot
    }

    /// A handle to the parking lot, for a wait-queue entry (the same natively;
    /// under loom a queue of its own that is not a lock's).
    pub(crate) const fn for_entry() -> Lot {
        Lot
    }

    /// Parks the current thread on `key` if `validate()` holds under the lot's
    /// lock; `timed_out(key, was_last)` runs under that lock if `deadline`
    /// passes (`key` is where the thread was parked then: requeueing moves it).
    ///
    /// # Safety
    ///
    /// As `parking_lot_core::park`: `key` is an address the caller owns, and
    /// neither closure panics nor calls into the parking lot.
    #[inline]
    pub(crate) unsafe fn park(
        &self,
        key: usize,
        validate: impl FnOnce() -> bool,
        timed_out: impl FnOnce(usize, bool),
        deadline: Option<Instant>,
    ) -> ParkResult {
        // SAFETY: the caller's contract is parking_lot_core's; the empty
        // `before_sleep` does not park.
        unsafe {
            parking_lot_core::park(
                key,
                validate,
                || {},
                timed_out,
                parking_lot_core::DEFAULT_PARK_TOKEN,
                deadline,
            )
        }
    }

    /// Wakes the longest-parked thread on `key`, giving it the token that
    /// `callback` returns; the callback runs under the lot's lock.
    ///
    /// # Safety
    ///
    /// As `parking_lot_core::unpark_one`: `key` is an address the caller owns,
    /// and `callback` neither panics nor calls into the parking lot.
    #[inline]
    pub(crate) unsafe fn unpark_one(
        &self,
        key: usize,
        callback: impl FnOnce(UnparkResult) -> UnparkToken,
    ) {
        // SAFETY: the caller's contract is parking_lot_core's.
        unsafe {
            parking_lot_core::unpark_one(key, callback);
        }
    }

    /// Under the lot's locks of both keys, asks `validate` what to do with
    /// the longest-parked thread on `key_from`: wake it (with the token
    /// `callback` returns), move it to `key_to` in the lot `to()` returns
    /// (where an unpark of `key_to` will find it), or nothing. `to` is called
    /// only while a thread is parked on `key_from` (natively never).
    ///
    /// # Safety
    ///
    /// As `parking_lot_core::unpark_requeue`: both keys are addresses the
    /// caller owns, and neither closure panics nor calls into the parking lot.
    #[inline]
    pub(crate) unsafe fn unpark_requeue<'a>(
        &self,
        key_from: usize,
        _to: impl FnOnce() -> &'a Lot,
        key_to: usize,
        validate: impl FnOnce() -> RequeueOp,
        callback: impl FnOnce(RequeueOp, UnparkResult) -> UnparkToken,
    ) {
        // SAFETY: the caller's contract is parking_lot_core's.
        unsafe {
            parking_lot_core::unpark_requeue(key_from, key_to, validate, callback);
        }
    }
}

pub(crate) use super::spin::{
    SpinPolicy, YieldPolicy, handed_to_poller, parallelism, poll_shortly, waking, woke, yield_once,
};

/// Memory fences (`core`'s).
pub(crate) use core::sync::atomic::fence;

/// Pacing for the few-instruction waits of a lock-free loop (another thread is
/// between two steps of its operation): crossbeam's, which spins and then yields.
pub(crate) use crossbeam_utils::Backoff;

/// An `UnsafeCell` with loom's closure API, so code that touches a cell is
/// written once and loom checks every access for data races.
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(core::cell::UnsafeCell<T>);

impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> UnsafeCell<T> {
        UnsafeCell(core::cell::UnsafeCell::new(value))
    }

    /// Runs `f` with a shared pointer to the contents.
    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Runs `f` with an exclusive pointer to the contents.
    #[inline]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}
