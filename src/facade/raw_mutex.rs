//! threadkit's native raw mutex: parking_lot's one-byte, eventually fair mutex
//! with a cheaper unlock.
//!
//! The lock side, the queue of parked threads and the fairness policy are
//! parking_lot 0.12's `RawMutex`, on the same `parking_lot_core` parking lot.
//! The change is the unlock: parking_lot releases with a compare-and-swap
//! (`LOCKED -> 0`, and a slow path when it fails because `PARKED` is set);
//! this mutex releases with `fetch_sub(LOCKED)`, which cannot fail and is
//! about 10% faster per lock/unlock pair on x86 (a `lock xadd` against a
//! `lock cmpxchg`, as fast as the `xchg` of std's futex mutex).
//!
//! Subtracting `LOCKED` from `LOCKED | PARKED` leaves `PARKED` alone, and that
//! state means *reserved*: the unlocking thread still owns the lock while it
//! wakes a parked thread, exactly like parking_lot's contended unlock (which
//! keeps `LOCKED` until its unpark callback). So, as in parking_lot:
//!
//! - nobody else can take the lock until the unlocker has chosen: every ~0.5 ms
//!   (the parking lot's `be_fair` timer) it hands the lock straight to the
//!   longest-parked thread, which is what makes the lock eventually fair; and
//! - the unlocker's last access to the mutex is the store that releases it, so
//!   a thread that locks, unlocks and frees the mutex never races with it.
//!
//! Otherwise the unlocker releases the lock as *free* (`PARKED | FREE`: parked
//! threads remain, running threads may barge in) and lets the woken thread
//! compete for it.
//!
//! # State (one byte)
//!
//! | state | meaning | can be taken by |
//! |---|---|---|
//! | `0` | unlocked, nobody parked | anyone (the fast path) |
//! | `LOCKED` | locked, nobody parked | |
//! | `LOCKED \| PARKED` | locked; threads are parked or about to park | |
//! | `PARKED` | reserved: its unlocker is waking a parked thread | |
//! | `PARKED \| FREE` | unlocked; parked threads remain, one was woken | anyone (the slow path) |
//!
//! A thread parks only if, under the parking lot's bucket lock, the state is
//! `LOCKED | PARKED` or `PARKED`, so every parked thread is covered by a
//! `PARKED` bit that an unlock will see.

use core::time::Duration;

use super::{AtomicU8, Instant, Lot, Ordering, ParkResult, SpinWait, UnparkResult, UnparkToken};

/// Set while some thread holds the lock.
const LOCKED: u8 = 0b01;
/// Set while threads are parked (or about to park) on the lock.
const PARKED: u8 = 0b10;
/// With `PARKED` and without `LOCKED`: the lock is free although threads are parked.
const FREE: u8 = 0b100;

/// Whether a thread may take the lock in `state`: unlocked and not reserved.
fn is_free(state: u8) -> bool {
    state & LOCKED == 0 && (state & PARKED == 0 || state & FREE != 0)
}

/// The state after taking the lock from a free `state`: `PARKED` stays.
fn taken(state: u8) -> u8 {
    (state & PARKED) | LOCKED
}

/// The woken thread must compete for the lock again (also what a wait queue
/// gives the threads it wakes itself).
pub(crate) const TOKEN_RETRY: UnparkToken = UnparkToken(0);
/// The lock was handed to the woken thread without being released (also to a
/// `Condition` waiter that a notify moved onto this lock's queue).
pub(crate) const TOKEN_HANDOFF: UnparkToken = UnparkToken(1);

/// A one-byte, eventually fair raw mutex (see the module docs).
#[derive(Debug)]
pub(crate) struct RawMutex {
    state: AtomicU8,
    // Zero-sized natively (the global parking lot); a queue under loom.
    lot: Lot,
}

super::const_fn! {
    /// A new, unlocked raw mutex (`const` outside loom, so locks can live in statics).
    pub(crate) const fn raw_mutex() -> RawMutex {
        RawMutex {
            state: AtomicU8::new(0),
            lot: Lot::new(),
        }
    }
}

// SAFETY: `lock`/`try_lock` return only after setting `LOCKED` with an Acquire
// RMW (or after receiving the lock from its holder by hand-off, synchronised by
// the parking lot's bucket lock), and `LOCKED` is cleared only by the holder's
// `unlock` (a Release RMW), so at most one thread holds the lock at a time.
unsafe impl lock_api::RawMutex for RawMutex {
    #[cfg(not(loom))]
    #[allow(clippy::declare_interior_mutable_const)] // the trait's constructor
    const INIT: RawMutex = raw_mutex();
    // Never evaluated: threadkit builds loom locks with `raw_mutex()` + `from_raw`.
    #[cfg(loom)]
    const INIT: RawMutex = panic!("use facade::raw_mutex(): loom objects cannot be const");

    type GuardMarker = lock_api::GuardNoSend;

    #[inline]
    fn lock(&self) {
        if !self.try_lock_fast() {
            self.lock_slow(None);
        }
        super::track::acquired(self.addr());
    }

    #[inline]
    fn try_lock(&self) -> bool {
        let mut state = self.state.load(Ordering::Relaxed);
        while is_free(state) {
            match self.take(state) {
                Ok(()) => {
                    super::track::acquired(self.addr());
                    return true;
                }
                Err(now) => state = now,
            }
        }
        false
    }

    #[inline]
    unsafe fn unlock(&self) {
        super::track::released(self.addr());
        // The whole uncontended unlock: one `fetch_sub`. From `LOCKED | PARKED`
        // it leaves `PARKED`: reserved, so we still own the lock in `unlock_slow`.
        if self.state.fetch_sub(LOCKED, Ordering::Release) != LOCKED {
            self.unlock_slow();
        }
    }

    #[inline]
    fn is_locked(&self) -> bool {
        !is_free(self.state.load(Ordering::Relaxed))
    }
}

// SAFETY: the timed forms acquire only through the same protocol as `lock`.
unsafe impl lock_api::RawMutexTimed for RawMutex {
    type Duration = Duration;
    type Instant = Instant;

    #[inline]
    fn try_lock_until(&self, deadline: Instant) -> bool {
        let locked = self.try_lock_fast() || self.lock_slow(Some(deadline));
        if locked {
            super::track::acquired(self.addr());
        }
        locked
    }

    #[inline]
    fn try_lock_for(&self, timeout: Duration) -> bool {
        // A zero timeout is `try_lock`: no clock read, no spinning, no parking.
        if timeout.is_zero() {
            return lock_api::RawMutex::try_lock(self);
        }
        let locked = self.try_lock_fast() || self.lock_slow(super::deadline_after(timeout));
        if locked {
            super::track::acquired(self.addr());
        }
        locked
    }
}

impl RawMutex {
    /// The uncontended acquire: unlocked and nobody parked.
    #[inline]
    fn try_lock_fast(&self) -> bool {
        self.state
            .compare_exchange_weak(0, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Takes the lock if it is still in the free `state`; else returns the
    /// state found.
    #[inline]
    fn take(&self, state: u8) -> Result<(), u8> {
        self.state
            .compare_exchange_weak(state, taken(state), Ordering::Acquire, Ordering::Relaxed)
            .map(drop)
    }

    /// The parking lot's key for this lock.
    pub(crate) fn addr(&self) -> usize {
        core::ptr::from_ref(self).addr()
    }

    /// Where this lock's waiters park (with [`addr`](RawMutex::addr) as the key).
    pub(crate) fn lot(&self) -> &Lot {
        &self.lot
    }

    /// Wait morphing (a `Condition` notify, under the lot's lock of this lock's
    /// key): if the lock is held or reserved, makes sure `PARKED` is set, so
    /// that the unlock wakes a thread moved onto its queue, and returns `true`
    /// (move it); if the lock is free, returns `false` (wake it to compete).
    pub(crate) fn mark_parked_if_held(&self) -> bool {
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if is_free(state) {
                return false;
            }
            if state & PARKED != 0 {
                return true;
            }
            match self.state.compare_exchange_weak(
                state,
                state | PARKED,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => state = now,
            }
        }
    }

    /// A thread moved onto this lock's queue by wait morphing timed out there
    /// (its wait's deadline; under the lot's lock): as a parked locker would.
    pub(crate) fn requeued_waiter_timed_out(&self, was_last_thread: bool) {
        if was_last_thread {
            self.clear_parked();
        }
    }

    /// parking_lot's acquire: barge in when free, spin a little while nobody
    /// is parked, then park. `false` when `deadline` passed first.
    #[cold]
    fn lock_slow(&self, deadline: Option<Instant>) -> bool {
        let mut spin = SpinWait::new();
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if is_free(state) {
                match self.take(state) {
                    Ok(()) => return true,
                    Err(now) => state = now,
                }
                continue;
            }
            // Held (`LOCKED`, perhaps with `PARKED`) or reserved (`PARKED`).
            // A deadline already past (`try_lock_until` a past instant) tried once.
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                return false;
            }
            #[cfg(all(test, not(loom)))]
            tests::WAITED.with(|waited| waited.set(waited.get() + 1));
            if state & PARKED == 0 && spin.spin() {
                state = self.state.load(Ordering::Relaxed);
                continue;
            }
            if state & PARKED == 0 {
                if let Err(now) = self.state.compare_exchange_weak(
                    state,
                    state | PARKED,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    state = now;
                    continue;
                }
            }

            // Park only while an unlock is still to come (held) or under way
            // (reserved): either will wake a parked thread.
            let validate = || {
                let state = self.state.load(Ordering::Relaxed);
                state == LOCKED | PARKED || state == PARKED
            };
            let timed_out = |_key, was_last_thread| {
                if was_last_thread {
                    self.clear_parked();
                }
            };
            super::track::waiting(Some(self.addr()));
            // SAFETY: the key is this lock's address, which only this type parks
            // on; `validate` and `timed_out` neither panic nor call into the lot.
            let parked = unsafe { self.lot.park(self.addr(), validate, timed_out, deadline) };
            super::track::waiting(None);
            match parked {
                // The unlocker handed the lock over without releasing it; the
                // parker's wake-up (Release/Acquire) carries its critical section.
                ParkResult::Unparked(TOKEN_HANDOFF) => return true,
                ParkResult::Unparked(_) | ParkResult::Invalid => {}
                ParkResult::TimedOut => return false,
            }
            spin.reset();
            state = self.state.load(Ordering::Relaxed);
        }
    }

    /// The last parked thread timed out (under the lot's lock): clear `PARKED`,
    /// unless the lock is reserved, whose unlocker will find the queue empty and
    /// release it.
    fn clear_parked(&self) {
        let mut state = self.state.load(Ordering::Relaxed);
        while state & PARKED != 0 && state != PARKED {
            match self.state.compare_exchange_weak(
                state,
                state & LOCKED,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(now) => state = now,
            }
        }
    }

    /// The unlock found `PARKED`: the lock is reserved (still ours), and a
    /// parked thread must be woken. parking_lot's contended unlock from here on.
    #[cold]
    fn unlock_slow(&self) {
        let callback = |result: UnparkResult| {
            if result.unparked_threads != 0 && result.be_fair {
                let parked = if result.have_more_threads { PARKED } else { 0 };
                self.state.store(LOCKED | parked, Ordering::Relaxed);
                return TOKEN_HANDOFF;
            }
            let parked = if result.have_more_threads {
                PARKED | FREE
            } else {
                0
            };
            self.state.store(parked, Ordering::Release);
            TOKEN_RETRY
        };
        // SAFETY: the key is this lock's address; the callback neither panics
        // nor calls into the lot.
        unsafe { self.lot.unpark_one(self.addr(), callback) };
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use lock_api::{RawMutex as _, RawMutexTimed as _};

    std::thread_local! {
        /// How often this thread spun or parked in `lock_slow`.
        pub(super) static WAITED: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
    }

    fn waited() -> usize {
        WAITED.with(core::cell::Cell::get)
    }

    /// Issue 7, bug 3: a zero timeout or a past deadline tries once; it never
    /// spins, yields or parks (it used to cost a park: ~4 µs, not ~1 ns).
    #[test]
    fn a_zero_timeout_or_a_past_deadline_tries_once_without_waiting() {
        let mutex = raw_mutex();
        mutex.lock();
        assert!(!mutex.try_lock_for(Duration::ZERO));
        assert!(!mutex.try_lock_until(Instant::now()));
        assert_eq!(waited(), 0, "a try-once acquisition spun or parked");
        assert_eq!(
            mutex.state.load(Ordering::Relaxed),
            LOCKED,
            "PARKED was set"
        );
        // SAFETY: locked above, on this thread.
        unsafe { mutex.unlock() };
        assert!(mutex.try_lock_for(Duration::ZERO), "a free lock is taken");
        // SAFETY: just locked.
        unsafe { mutex.unlock() };
    }
}
