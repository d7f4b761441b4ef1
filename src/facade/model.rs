//! The facade under `--cfg loom`: every synchronising operation is loom's, so loom
//! sees (and permutes) every point where threads interact.

use core::num::NonZeroUsize;
use core::time::Duration;
use std::sync::OnceLock;

pub(crate) use loom::sync::Arc;
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
pub(crate) use loom::thread::{Thread, current};
pub(crate) use std::time::Instant;

use super::{Parked, deadline_after};

/// No spinning under loom: a spin is invisible to its scheduler and only adds states.
pub(crate) const SPIN_LIMIT: u32 = 0;

/// A CPU hint for one round of a spin loop (a loom yield point).
#[inline]
pub(crate) fn spin_loop() {
    loom::hint::spin_loop();
}

/// Gives up the CPU to another runnable thread (a loom yield point).
#[inline]
pub(crate) fn yield_now() {
    loom::thread::yield_now();
}

/// Parks under loom. Untimed: a real loom park (a lost wake-up becomes a loom
/// deadlock). Timed: one yield, then a timeout, so the model explores the wake-up
/// winning the race as well as the deadline winning it.
pub(crate) fn park_until(deadline: Option<Instant>) -> Parked {
    match deadline {
        None => {
            loom::thread::park();
            Parked::Woken
        }
        Some(_) => {
            loom::thread::yield_now();
            Parked::TimedOut
        }
    }
}

/// A raw mutex built from loom's `Mutex<bool>` and `Condvar`.
///
/// `lock_api` needs a `const INIT`, but loom's types cannot be built in a const
/// context, so the loom state is created on first use (inside the model run, which
/// is the only place a loom object may be created).
pub(crate) struct RawMutex {
    state: OnceLock<LoomLock>,
}

struct LoomLock {
    locked: loom::sync::Mutex<bool>,
    unlocked: loom::sync::Condvar,
}

impl RawMutex {
    fn state(&self) -> &LoomLock {
        self.state.get_or_init(|| LoomLock {
            locked: loom::sync::Mutex::new(false),
            unlocked: loom::sync::Condvar::new(),
        })
    }

}

// SAFETY: `locked` is only changed under loom's mutex, which gives mutual exclusion
// with acquire/release semantics; a guard token is handed out only after `locked`
// went from false to true, and `unlock` (given that token) sets it back.
unsafe impl lock_api::RawMutex for RawMutex {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Self = RawMutex {
        state: OnceLock::new(),
    };
    type Guard = lock_api::GuardNoSend;

    fn lock(&self) -> Self::Guard {
        let state = self.state();
        let mut locked = state.locked.lock().unwrap();
        while *locked {
            locked = state.unlocked.wait(locked).unwrap();
        }
        *locked = true;
        lock_api::GuardNoSend::new()
    }

    fn try_lock(&self) -> Option<Self::Guard> {
        let mut locked = self.state().locked.lock().unwrap();
        if *locked {
            return None;
        }
        *locked = true;
        Some(lock_api::GuardNoSend::new())
    }

    unsafe fn unlock(&self, _guard: Self::Guard) {
        let state = self.state();
        *state.locked.lock().unwrap() = false;
        state.unlocked.notify_one();
    }

    fn is_locked(&self) -> bool {
        *self.state().locked.lock().unwrap()
    }
}

// SAFETY: the timed forms only ever acquire through `try_lock` above.
unsafe impl lock_api::RawMutexTimed for RawMutex {
    type Duration = Duration;
    type Instant = Instant;

    fn try_lock_for(&self, timeout: Duration) -> Option<Self::Guard> {
        self.try_lock_until_opt(deadline_after(timeout))
    }

    fn try_lock_until(&self, deadline: Instant) -> Option<Self::Guard> {
        self.try_lock_until_opt(Some(deadline))
    }
}

impl RawMutex {
    /// Timed acquire under loom: try, yield (the "timeout" may or may not win the
    /// race), try again. An overflowing timeout (`None`) blocks like `lock`.
    fn try_lock_until_opt(&self, deadline: Option<Instant>) -> Option<lock_api::GuardNoSend> {
        use lock_api::RawMutex as _;
        if deadline.is_none() {
            return Some(self.lock());
        }
        self.try_lock().or_else(|| {
            loom::thread::yield_now();
            self.try_lock()
        })
    }
}

/// Thread ids for `lock_api::ReentrantMutex` under loom: the address of a loom
/// thread-local, which is distinct for every live loom thread (loom threads share
/// one OS thread, so std's thread-locals would not do).
pub(crate) struct RawThreadId;

// SAFETY: two live loom threads never share a thread-local slot, so never an address.
unsafe impl lock_api::GetThreadId for RawThreadId {
    const INIT: Self = RawThreadId;

    fn nonzero_thread_id(&self) -> NonZeroUsize {
        loom::thread_local!(static KEY: u8 = 0);
        KEY.with(|key| NonZeroUsize::new(core::ptr::from_ref(key).addr()).expect("non-null"))
    }
}
