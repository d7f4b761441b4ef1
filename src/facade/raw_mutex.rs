//! threadkit's native raw mutex: parking_lot's one-byte, eventually fair mutex
//! with a cheaper unlock.
//!
//! The lock side, the queue of parked threads and the fairness policy are
//! parking_lot 0.12's `RawMutex`, on the same `parking_lot_core` parking lot.
//! The one change is the uncontended unlock: parking_lot releases with a
//! compare-and-swap (`LOCKED -> 0`, and a slow path when it fails), this mutex
//! with a plain swap to 0, which is what std's futex mutex does and is about 10%
//! faster per lock/unlock pair on x86 (an `xchg` against a `lock cmpxchg`).
//!
//! The price is paid only when threads are parked: the swap has then released
//! the lock *and* cleared `PARKED` in one step, so the slow path first takes the
//! lock back (or, if a running thread took it meanwhile, marks it `PARKED` and
//! leaves the wake-up to that thread's unlock) and then does exactly what
//! parking_lot's unlock does: wake one parked thread, and every ~0.5 ms (the
//! parking lot's `be_fair` timer) hand the lock to it directly instead of
//! letting running threads barge in. That hand-off is what makes the lock
//! eventually fair, so no thread starves.
//!
//! # State (one byte, as parking_lot)
//!
//! | `PARKED` | `LOCKED` | meaning |
//! |---|---|---|
//! | 0 | 0 | unlocked, nobody parked |
//! | 0 | 1 | locked, nobody parked |
//! | 1 | 0 | unlocked; parked threads exist, one is being woken |
//! | 1 | 1 | locked; threads are parked or about to park |
//!
//! A thread parks only if, under the parking lot's bucket lock, the state is
//! exactly `LOCKED | PARKED`, so every parked thread is covered by a `PARKED`
//! bit that the holder's unlock will see.

use core::time::Duration;

use super::{AtomicU8, Instant, Lot, Ordering, ParkResult, SpinWait, UnparkResult, UnparkToken};

/// Set while some thread holds the lock.
const LOCKED: u8 = 0b01;
/// Set while threads are parked (or about to park) on the lock.
const PARKED: u8 = 0b10;

/// The woken thread must compete for the lock again.
const TOKEN_RETRY: UnparkToken = UnparkToken(0);
/// The lock was handed to the woken thread without being released.
const TOKEN_HANDOFF: UnparkToken = UnparkToken(1);

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
    }

    #[inline]
    fn try_lock(&self) -> bool {
        let mut state = self.state.load(Ordering::Relaxed);
        while state & LOCKED == 0 {
            match self.state.compare_exchange_weak(
                state,
                state | LOCKED,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => state = now,
            }
        }
        false
    }

    #[inline]
    unsafe fn unlock(&self) {
        // The whole uncontended unlock: one swap.
        if self.state.swap(0, Ordering::Release) != LOCKED {
            self.unlock_slow();
        }
    }

    #[inline]
    fn is_locked(&self) -> bool {
        self.state.load(Ordering::Relaxed) & LOCKED != 0
    }
}

// SAFETY: the timed forms acquire only through the same protocol as `lock`.
unsafe impl lock_api::RawMutexTimed for RawMutex {
    type Duration = Duration;
    type Instant = Instant;

    #[inline]
    fn try_lock_until(&self, deadline: Instant) -> bool {
        self.try_lock_fast() || self.lock_slow(Some(deadline))
    }

    #[inline]
    fn try_lock_for(&self, timeout: Duration) -> bool {
        self.try_lock_fast() || self.lock_slow(super::deadline_after(timeout))
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

    /// The parking lot's key for this lock.
    fn addr(&self) -> usize {
        core::ptr::from_ref(self).addr()
    }

    /// parking_lot's acquire: barge in when unlocked, spin a little while nobody
    /// is parked, then park. `false` when `deadline` passed first.
    #[cold]
    fn lock_slow(&self, deadline: Option<Instant>) -> bool {
        let mut spin = SpinWait::new();
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & LOCKED == 0 {
                match self.state.compare_exchange_weak(
                    state,
                    state | LOCKED,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return true,
                    Err(now) => state = now,
                }
                continue;
            }
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

            let validate = || self.state.load(Ordering::Relaxed) == LOCKED | PARKED;
            let timed_out = |was_last_thread| {
                if was_last_thread {
                    self.state.fetch_and(!PARKED, Ordering::Relaxed);
                }
            };
            // SAFETY: the key is this lock's address, which only this type parks
            // on; `validate` and `timed_out` neither panic nor call into the lot.
            let parked = unsafe { self.lot.park(self.addr(), validate, timed_out, deadline) };
            match parked {
                // The Acquire that pairs with the hand-off is the bucket lock the
                // parking lot took to unpark us.
                ParkResult::Unparked(TOKEN_HANDOFF) => return true,
                ParkResult::Unparked(_) | ParkResult::Invalid => {}
                ParkResult::TimedOut => return false,
            }
            spin.reset();
            state = self.state.load(Ordering::Relaxed);
        }
    }

    /// The unlock's swap found `PARKED`: it released the lock and cleared the
    /// bit, but a parked thread must still be woken.
    #[cold]
    fn unlock_slow(&self) {
        if !self.retake_or_mark_parked() {
            // A running thread holds the lock again and will see `PARKED` when
            // it unlocks: the wake-up is its job now.
            return;
        }
        // We hold the lock again: parking_lot's contended unlock from here on.
        let callback = |result: UnparkResult| {
            if result.unparked_threads != 0 && result.be_fair {
                if !result.have_more_threads {
                    self.state.store(LOCKED, Ordering::Relaxed);
                }
                return TOKEN_HANDOFF;
            }
            let parked = if result.have_more_threads { PARKED } else { 0 };
            self.state.store(parked, Ordering::Release);
            TOKEN_RETRY
        };
        // SAFETY: the key is this lock's address; the callback neither panics
        // nor calls into the lot.
        unsafe { self.lot.unpark_one(self.addr(), callback) };
    }

    /// Takes the just-released lock back, with `PARKED` set (`true`); or, if a
    /// running thread took it first, sets `PARKED` on its hold (`false`).
    fn retake_or_mark_parked(&self) -> bool {
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            let (next, retaken) = if state & LOCKED == 0 {
                (LOCKED | PARKED, true)
            } else {
                (state | PARKED, false)
            };
            // Acquire when retaking: we continue as the holder.
            match self.state.compare_exchange_weak(
                state,
                next,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return retaken,
                Err(now) => state = now,
            }
        }
    }
}
