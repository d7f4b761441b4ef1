//! The one module that names `std::sync`, `std::thread`, `parking_lot(_core)` and `loom`.
//!
//! Every primitive in threadkit is written against the names exported here. A
//! normal build maps them to parking_lot and std ([`native`]); a build with
//! `RUSTFLAGS="--cfg loom"` maps them to loom's model types (`model.rs`). Because the
//! primitives themselves never change, the loom models in `tests/loom_*.rs` check
//! the code users run, and a downstream crate built with `--cfg loom` model-checks
//! its own use of threadkit too.
//!
//! What the facade provides, with the same signatures in both worlds:
//!
//! | name | native | loom |
//! |---|---|---|
//! | `RawMutex`, `raw_mutex()` | [`mod@raw_mutex`]: parking_lot's 1-byte, eventually fair mutex with a `fetch_sub` unlock, on `parking_lot_core` | the same code, on a model parking lot (`Lot`) |
//! | `Lot`, `SpinWait`, `ParkResult`, `RequeueOp`, ... | `parking_lot_core` (mutexes and wait-queue entries park there) | a loom queue per mutex or entry, no spinning |
//! | `current_thread_id`, `RawThreadId` | a process-unique counter, cached in a std thread-local | the same counter, cached in a loom thread-local |
//! | `Mutex<T>`, `mutex()` (internal state) | `lock_api::Mutex<RawMutex, T>` | `loom::sync::Mutex<T>` |
//! | `AtomicUsize`, ... | `core::sync::atomic` | `loom::sync::atomic` |
//! | `Arc` | `std::sync::Arc` | `loom::sync::Arc` |
//! | `Instant` | `std::time::Instant` | the same (loom has no clock) |
//! | `thread_local_const!`, `thread_local_lazy!` | std's `thread_local!` (the first `const`) | loom's (one per loom thread) |
//! | `UnsafeCell`, `fence`, `Backoff` | a `core` cell with loom's closure API; `core`'s fences; crossbeam's backoff | loom's cell (race-checked) and fences; a yield per backoff step |
//! | `SpinPolicy`, `YieldPolicy`, `parallelism` | [`mod@spin`]: poll for about one measured wake-up time, or yield once, when it pays, learned per wait queue | no polling, no yielding |
//!
//! # Time under loom
//!
//! Loom has no clock and cannot sleep, yet every blocking call in threadkit has a
//! timed form that must terminate in a model. `Lot::park` with a finite deadline
//! therefore *yields once* under loom and then reports a timeout. The caller
//! re-checks its wake-up token after that yield, so the model explores both
//! outcomes: the wake-up arriving before the deadline, and the deadline winning
//! the race. An untimed park is a real loom park, so a lost wake-up shows up as a
//! loom deadlock report.

/// Declares a function `const` outside loom and plain under loom, whose atomics
/// cannot be built in a const context (the trick is concurrent-queue's).
macro_rules! const_fn {
    ($(#[$attr:meta])* $vis:vis const fn $($rest:tt)*) => {
        #[cfg(not(loom))]
        $(#[$attr])* $vis const fn $($rest)*
        #[cfg(loom)]
        $(#[$attr])* $vis fn $($rest)*
    };
}
pub(crate) use const_fn;

/// Declares a thread-local without a destructor, read on every fast path:
/// std's, `const`-initialised (no lazy-init check), outside loom; loom's under
/// it, so each loom thread has its own (loom threads share one OS thread).
macro_rules! thread_local_const {
    ($(#[$attr:meta])* static $name:ident: $t:ty = $init:expr;) => {
        #[cfg(not(loom))]
        std::thread_local!($(#[$attr])* static $name: $t = const { $init });
        #[cfg(loom)]
        loom::thread_local!($(#[$attr])* static $name: $t = $init);
    };
}
pub(crate) use thread_local_const;

/// Declares a lazily initialised thread-local whose destructor runs when its
/// thread exits: std's, or loom's (dropped when the loom thread ends).
macro_rules! thread_local_lazy {
    ($(#[$attr:meta])* static $name:ident: $t:ty = $init:expr;) => {
        #[cfg(not(loom))]
        std::thread_local!($(#[$attr])* static $name: $t = $init);
        #[cfg(loom)]
        loom::thread_local!($(#[$attr])* static $name: $t = $init);
    };
}
pub(crate) use thread_local_lazy;

#[cfg(all(feature = "deadlock-detection", not(loom)))]
mod deadlock;
mod raw_mutex;
#[cfg(all(feature = "deadlock-detection", not(loom)))]
pub(crate) use deadlock::detect as detect_deadlocks;
#[cfg(all(feature = "deadlock-detection", not(loom)))]
pub use deadlock::{DeadlockReport, DeadlockedThread};

/// The raw mutex's hooks for deadlock detection: what each thread holds and
/// waits for. Empty (and gone after inlining) without `deadlock-detection`.
pub(crate) mod track {
    /// This thread now holds the lock at `addr`.
    #[inline(always)]
    pub(crate) fn acquired(_addr: usize) {
        #[cfg(all(feature = "deadlock-detection", not(loom)))]
        super::deadlock::acquired(_addr);
    }

    /// This thread is about to release the lock at `addr`.
    #[inline(always)]
    pub(crate) fn released(_addr: usize) {
        #[cfg(all(feature = "deadlock-detection", not(loom)))]
        super::deadlock::released(_addr);
    }

    /// This thread parks for the lock at `addr`, or (`None`) stopped waiting.
    #[inline(always)]
    pub(crate) fn waiting(_addr: Option<usize>) {
        #[cfg(all(feature = "deadlock-detection", not(loom)))]
        super::deadlock::waiting(_addr);
    }
}
#[cfg(not(loom))]
mod spin;

#[cfg(not(loom))]
mod native;
#[cfg(not(loom))]
pub(crate) use native::*;

#[cfg(loom)]
mod model;
// The glob is crate-only; lib.rs re-exports the hooks.
#[cfg(loom)]
pub use model::loom_hooks;
#[cfg(loom)]
pub(crate) use model::*;

pub(crate) use raw_mutex::{RawMutex, TOKEN_HANDOFF, TOKEN_RETRY, raw_mutex};

/// Pads a value to a cache line (crossbeam's, in both worlds: it only lays out memory).
pub(crate) use crossbeam_utils::CachePadded;

/// A flag written and read only under the parking lot's lock for one key,
/// which orders it: a plain atomic in both worlds (a loom atomic would only
/// add interleavings the lock already rules out).
pub(crate) type LotFlag = core::sync::atomic::AtomicBool;

/// The `Arc` of the owned guards' public API (`Lock::lock_arc`,
/// `Semaphore::acquire_arc`): std's in both worlds, because callers hold std
/// `Arc`s (`self: &Arc<Self>` needs the real type); it synchronises nothing
/// the models must see beyond what the lock or semaphore itself does.
pub(crate) use std::sync::{Arc as StdArc, Weak as StdWeak};

/// A std mutex in both worlds, for process-wide bookkeeping that never blocks
/// a thread for long and orders nothing the models check (`Local`'s slot
/// allocator): a loom mutex cannot live in a `static` across models.
pub(crate) use std::sync::{Condvar as StdCondvar, Mutex as StdMutex, MutexGuard as StdMutexGuard};

/// Waits on a std condvar for such bookkeeping (`Local`'s drops in flight at
/// thread exit). Under loom, which cannot see it, it lets the model's other
/// threads run and locks again: the caller's loop re-checks its condition.
pub(crate) fn wait_std<'a, T>(
    condvar: &StdCondvar,
    mutex: &'a StdMutex<T>,
    guard: StdMutexGuard<'a, T>,
) -> StdMutexGuard<'a, T> {
    #[cfg(not(loom))]
    {
        let _ = mutex;
        condvar
            .wait(guard)
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
    #[cfg(loom)]
    {
        let _ = condvar;
        drop(guard);
        loom::thread::yield_now();
        mutex
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Blocks the calling thread until `deadline` (forever with `None`), for a
/// timed request that can never be granted: it times out as Python's does.
/// Under loom this yields once (a timed park), or deadlocks the model with `None`.
pub(crate) fn sleep_until(deadline: Option<Instant>) {
    let lot = Lot::for_entry();
    // The key: a 1-byte local, so its address is this frame's own (the lot
    // handle itself is zero-sized natively, and could share an address).
    let anchor = 0u8;
    let key = core::ptr::from_ref(&anchor).addr();
    // SAFETY: the key is the address of a local only this thread knows; the
    // closures neither panic nor call into the lot.
    while unsafe { lot.park(key, || true, |_, _| {}, deadline) } != ParkResult::TimedOut {}
}

/// A fresh thread identity: never 0, never handed out twice in this process.
/// The counter is a plain std atomic in both worlds: it orders nothing, it only
/// has to be unique (under loom, across every execution of every model).
#[cold]
fn next_thread_id() -> core::num::NonZeroUsize {
    static NEXT: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(1);
    let id = NEXT
        .fetch_update(
            core::sync::atomic::Ordering::Relaxed,
            core::sync::atomic::Ordering::Relaxed,
            |id| id.checked_add(1),
        )
        .expect("threadkit: thread identities exhausted (usize::MAX threads used an RLock)");
    core::num::NonZeroUsize::new(id).expect("the counter starts at 1 and never wraps")
}

/// Whether the current thread is unwinding (std's; loom has no own).
pub(crate) fn panicking() -> bool {
    std::thread::panicking()
}

/// Turns a timeout into a deadline; `None` (wait forever) when it overflows, so
/// `Duration::MAX` means "no timeout" rather than a panic.
pub(crate) fn deadline_after(timeout: core::time::Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

// Named threads (the `Watchdog`'s monitor and monitored threads): std's, or
// loom's under loom, so a model can run them.
#[cfg(loom)]
pub(crate) use loom::thread::{Builder as ThreadBuilder, JoinHandle, current as current_thread};
#[cfg(not(loom))]
pub(crate) use std::thread::{Builder as ThreadBuilder, JoinHandle, current as current_thread};
