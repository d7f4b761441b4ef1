//! The facade outside loom: parking_lot for raw locks, std for the rest.

pub(crate) use core::sync::atomic::{AtomicUsize, Ordering};
pub(crate) use parking_lot::{RawMutex, RawThreadId};
pub(crate) use std::sync::Arc;
pub(crate) use std::time::Instant;

use super::Parked;

/// A new, unlocked raw mutex (`const`, so locks can live in statics).
pub(crate) const fn raw_mutex() -> RawMutex {
    <RawMutex as lock_api::RawMutex>::INIT
}

/// The mutex guarding each primitive's internal state.
pub(crate) type Mutex<T> = parking_lot::Mutex<T>;
/// The guard of [`Mutex`].
pub(crate) type MutexGuard<'a, T> = parking_lot::MutexGuard<'a, T>;

/// A new internal mutex.
pub(crate) const fn mutex<T>(value: T) -> Mutex<T> {
    parking_lot::Mutex::new(value)
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
