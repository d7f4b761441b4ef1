//! The facade outside loom: threadkit's raw mutex on parking_lot_core for locks,
//! std for the rest.

pub(crate) use core::sync::atomic::{AtomicUsize, Ordering};
pub(crate) use std::sync::Arc;
pub(crate) use std::time::Instant;

use core::num::NonZeroUsize;

use super::{Parked, RawMutex, raw_mutex};

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

/// Blocks one waiting thread until another thread unparks it.
///
/// Natively this is the thread's own park token (`std::thread::park`), created
/// by the thread that will park.
#[derive(Debug)]
pub(crate) struct Parker {
    thread: std::thread::Thread,
}

impl Parker {
    /// A parker for the current thread.
    pub(crate) fn for_current_thread() -> Parker {
        Parker {
            thread: std::thread::current(),
        }
    }

    /// Parks until unparked or `deadline` passes. May return [`Parked::Woken`]
    /// spuriously: callers re-check their own wake-up condition.
    pub(crate) fn park_until(&self, deadline: Option<Instant>) -> Parked {
        match deadline {
            None => {
                std::thread::park();
                Parked::Woken
            }
            Some(deadline) => {
                let now = Instant::now();
                if now >= deadline {
                    return Parked::TimedOut;
                }
                std::thread::park_timeout(deadline - now);
                Parked::Woken
            }
        }
    }

    /// Wakes the parked thread (or makes its next park return at once).
    pub(crate) fn unpark(&self) {
        self.thread.unpark();
    }
}

pub(crate) use core::sync::atomic::AtomicU8;
pub(crate) use parking_lot_core::{ParkResult, SpinWait, UnparkResult, UnparkToken};

/// Where [`RawMutex`] parks its waiters: natively the global parking lot of
/// `parking_lot_core`, keyed by the mutex's address, so this is a zero-sized
/// handle and the mutex stays one byte.
#[derive(Debug)]
pub(crate) struct Lot;

impl Lot {
    /// A handle to the parking lot.
    pub(crate) const fn new() -> Lot {
        Lot
    }

    /// Parks the current thread on `key` if `validate()` holds under the lot's
    /// lock; `timed_out(was_last)` runs under that lock if `deadline` passes.
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
        timed_out: impl FnOnce(bool),
        deadline: Option<Instant>,
    ) -> ParkResult {
        // SAFETY: the caller's contract is parking_lot_core's; the empty
        // `before_sleep` does not park.
        unsafe {
            parking_lot_core::park(
                key,
                validate,
                || {},
                |_, was_last| timed_out(was_last),
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
}

pub(crate) use super::spin::{SpinPolicy, parallelism};
