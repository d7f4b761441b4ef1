//! The facade outside loom: parking_lot for raw locks, std for the rest.

pub(crate) use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
pub(crate) use parking_lot::{RawMutex, RawThreadId};
pub(crate) use std::sync::Arc;
pub(crate) use std::thread::{Thread, current};
pub(crate) use std::time::Instant;

use super::Parked;

/// How many rounds a waiter spins on its token before it parks (see `wait_queue`).
pub(crate) const SPIN_LIMIT: u32 = 6;

/// A CPU hint for one round of a spin loop.
#[inline]
pub(crate) fn spin_loop() {
    core::hint::spin_loop();
}

/// Gives up the CPU to another runnable thread.
#[inline]
pub(crate) fn yield_now() {
    std::thread::yield_now();
}

/// Parks the current thread until it is unparked or `deadline` passes. May return
/// [`Parked::Woken`] spuriously: callers re-check their own wake-up condition.
pub(crate) fn park_until(deadline: Option<Instant>) -> Parked {
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
