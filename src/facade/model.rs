//! The facade under `--cfg loom`: every synchronising operation is loom's, so loom
//! sees (and permutes) every point where threads interact.

use core::num::NonZeroUsize;
use core::time::Duration;

pub(crate) use loom::sync::Arc;
pub(crate) use loom::sync::MutexGuard;
pub(crate) use loom::sync::atomic::{AtomicUsize, Ordering};
pub(crate) use std::time::Instant;

use super::{Parked, deadline_after};

/// Blocks one waiting thread until another thread unparks it.
///
/// Under loom this is a `loom::sync::Notify` per waiter, not the thread's park
/// token: loom treats `Thread::unpark` as "make runnable" whatever the thread is
/// blocked on, so a late unpark would wake the thread out of an unrelated loom
/// `Mutex` or `Condvar` (ours or a downstream model's). A `Notify` only wakes a
/// thread waiting on that very object.
#[derive(Debug)]
pub(crate) struct Parker {
    notify: loom::sync::Notify,
}

impl Parker {
    /// A parker for the current thread.
    pub(crate) fn for_current_thread() -> Parker {
        Parker {
            notify: loom::sync::Notify::new(),
        }
    }

    /// Untimed: a real loom wait (a lost wake-up becomes a loom deadlock report).
    /// Timed: one yield, then a timeout, so the model explores the wake-up winning
    /// the race as well as the deadline winning it.
    pub(crate) fn park_until(&self, deadline: Option<Instant>) -> Parked {
        match deadline {
            None => {
                self.notify.wait();
                Parked::Woken
            }
            Some(_) => {
                loom::thread::yield_now();
                Parked::TimedOut
            }
        }
    }

    /// Wakes the waiting thread (or makes its next wait return at once).
    pub(crate) fn unpark(&self) {
        self.notify.notify();
    }
}

/// The mutex guarding each primitive's internal state: loom's own, which costs
/// the model two operations per critical section.
#[derive(Debug)]
pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

/// A new internal mutex.
pub(crate) fn mutex<T>(value: T) -> Mutex<T> {
    Mutex(loom::sync::Mutex::new(value))
}

impl<T> Mutex<T> {
    /// Locks it (internal mutexes are never poisoned: threadkit does not panic
    /// while holding one, except on the `Condition` misuse, which drops it first).
    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        self.0.lock().unwrap()
    }
}

/// A raw mutex for loom: a loom `Mutex<bool>` ("held?") and a `Condvar` to
/// block on while it is held, so a lock that is never released is a loom
/// deadlock report (a spin lock would only exhaust loom's branch budget).
///
/// Loom's types cannot be built in a const context, so there is no usable
/// `lock_api::RawMutex::INIT`: every lock is built with [`raw_mutex`] and
/// `from_raw` instead (eagerly: a loom object created lazily by one thread and
/// used by another is a causality violation to loom).
pub(crate) struct RawMutex {
    held: loom::sync::Mutex<bool>,
    released: loom::sync::Condvar,
}

/// A new, unlocked raw mutex.
pub(crate) fn raw_mutex() -> RawMutex {
    RawMutex {
        held: loom::sync::Mutex::new(false),
        released: loom::sync::Condvar::new(),
    }
}

// SAFETY: `held` is only changed under loom's mutex, which gives mutual exclusion
// with acquire/release semantics; `lock`/`try_lock` succeed only by changing
// `held` from false to true, and `unlock` (called only by the holder) sets it back.
unsafe impl lock_api::RawMutex for RawMutex {
    // Never evaluated: threadkit builds loom locks with `raw_mutex()` + `from_raw`.
    const INIT: Self = panic!("use facade::raw_mutex(): loom objects cannot be const");
    type GuardMarker = lock_api::GuardNoSend;

    fn lock(&self) {
        let mut held = self.held.lock().unwrap();
        while *held {
            held = self.released.wait(held).unwrap();
        }
        *held = true;
    }

    fn try_lock(&self) -> bool {
        let mut held = self.held.lock().unwrap();
        !std::mem::replace(&mut *held, true)
    }

    unsafe fn unlock(&self) {
        *self.held.lock().unwrap() = false;
        self.released.notify_one();
    }

    fn is_locked(&self) -> bool {
        *self.held.lock().unwrap()
    }
}

// SAFETY: the timed forms only ever acquire through `lock` and `try_lock` above.
unsafe impl lock_api::RawMutexTimed for RawMutex {
    type Duration = Duration;
    type Instant = Instant;

    fn try_lock_for(&self, timeout: Duration) -> bool {
        self.try_lock_until_opt(deadline_after(timeout))
    }

    fn try_lock_until(&self, deadline: Instant) -> bool {
        self.try_lock_until_opt(Some(deadline))
    }
}

impl RawMutex {
    /// Timed acquire under loom: try, yield (the "timeout" may or may not win the
    /// race), try again. An overflowing timeout (`None`) blocks like `lock`.
    fn try_lock_until_opt(&self, deadline: Option<Instant>) -> bool {
        use lock_api::RawMutex as _;
        if deadline.is_none() {
            self.lock();
            return true;
        }
        self.try_lock() || {
            loom::thread::yield_now();
            self.try_lock()
        }
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
