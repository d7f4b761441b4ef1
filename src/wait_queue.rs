//! The engine every blocking primitive shares: a FIFO queue of parked threads.
//!
//! A primitive keeps its own state and a [`WaitQueue`] together behind one
//! internal [`Mutex`]. Blocking follows one protocol:
//!
//! 1. under the state lock, check the condition; if it does not hold, [`push`]
//!    a waiter (with whatever per-waiter data `D` the primitive needs);
//! 2. release the state lock and [`Waiter::wait`]: poll for the token briefly
//!    (as the queue's [`SpinPolicy`] allows; never with [`Spin::Never`]; on one
//!    CPU, yield it once instead, so the waker can run), then park until it comes;
//! 3. a waker, holding the state lock, pops waiters from the front and stores a
//!    non-zero *token* in each (the token says why: "notified", "broken", ...),
//!    then unparks them after releasing the lock ([`Wakeups`]);
//! 4. a waiter whose deadline passes takes the state lock and [`remove`]s itself
//!    (the `cancel` step of [`Waiter::wait`], where a primitive also undoes its
//!    own bookkeeping: a semaphore passes on permits it was granted, a barrier breaks).
//!    If it is no longer queued, a waker chose it first and its token is already
//!    stored (tokens are written under the lock), so it reports the wake-up, never
//!    a timeout: a wake-up is never lost and never counted twice. A primitive may
//!    also keep it queued when its wake-up is already certain ([`Cancel::Committed`]:
//!    a barrier round that tripped releases its waiters even past their deadlines).
//!
//! Because a waiter only returns on its own token (or its own timeout), there are
//! no spurious wake-ups, and popping from the front makes every wake-up go to
//! the longest-waiting thread.
//!
//! [`push`]: WaitQueue::push
//! [`remove`]: WaitQueue::remove

use std::collections::VecDeque;

use crate::facade::{
    Arc, AtomicUsize, Instant, Lot, LotFlag, Mutex, Ordering, ParkResult, RawMutex, RequeueOp,
    SpinPolicy, TOKEN_HANDOFF, TOKEN_RETRY, UnparkResult,
};

/// A wake-up token: why a waiter was woken. Never 0 (0 means "still waiting").
pub(crate) type Token = core::num::NonZeroUsize;

/// The token of a plain notification.
pub(crate) const NOTIFIED: Token = Token::MIN;

/// Whether a waiter polls its token for a few microseconds before it parks.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Spin<'a> {
    /// Poll first if the queue's [`SpinPolicy`] says it pays (see
    /// `facade::spin`): a waker on another CPU often answers sooner than a
    /// park and wake-up would take.
    Adaptive(&'a SpinPolicy),
    /// Park at once: the threads that will wake this one cannot all be running,
    /// so polling would only take CPU time from them.
    Never,
}

/// One waiting thread, shared between its queue entry and the thread itself.
///
/// It parks in the facade's parking lot under its own address as the key, so
/// that a `Condition` notify can move it onto a `Lock`'s queue (wait morphing:
/// `Wakeups::unpark_onto`) instead of waking it into a lock that is still held.
pub(crate) struct Waiter {
    token: AtomicUsize,
    /// Natively a handle to the global parking lot; under loom this entry's own queue.
    lot: Lot,
    /// Whether the thread is parked under this entry's key. Written under the
    /// lot's lock for that key: by the thread's park, by the timeout and by
    /// the unparks that take it off the key.
    parked: LotFlag,
    /// When a waker unparked the thread (`facade::waking`), for it to measure
    /// its wake-up time; 0 if none did. It only steers the waiting policy.
    unparked_at: core::sync::atomic::AtomicU64,
}

/// How a wait ended, for [`Waiter::wait_morphing`].
pub(crate) struct Woken {
    /// The token, or `None` if the wait timed out.
    pub(crate) token: Option<Token>,
    /// A notify moved the thread onto the lock's queue and the unlock handed
    /// it the lock: the caller holds it already.
    pub(crate) holds_lock: bool,
}

impl Waiter {
    fn for_current_thread() -> Arc<Waiter> {
        Arc::new(Waiter {
            token: AtomicUsize::new(0),
            lot: Lot::for_entry(),
            parked: LotFlag::new(false),
            unparked_at: core::sync::atomic::AtomicU64::new(0),
        })
    }

    /// The token, if a waker has stored one. Acquire: pairs with the waker's
    /// release store, so everything the waker did before waking happens-before
    /// the waiter returning.
    fn token(&self) -> Option<Token> {
        Token::new(self.token.load(Ordering::Acquire))
    }

    /// This entry's key in the parking lot.
    fn key(&self) -> usize {
        core::ptr::from_ref(self).addr()
    }

    /// Blocks until woken (returns the token) or until `deadline` passes (the
    /// token is then `None`; the caller must [`WaitQueue::remove`] itself
    /// under its lock). `morph` is the lock a notify may move this thread onto.
    fn park_until(
        &self,
        deadline: Option<Instant>,
        spin: Spin<'_>,
        morph: Option<&RawMutex>,
    ) -> Woken {
        let became_ready = match spin {
            Spin::Adaptive(policy) => {
                let woken = || self.token.load(Ordering::Relaxed) != 0;
                policy.spin(deadline, woken) || crate::facade::yield_once(woken)
            }
            Spin::Never => false,
        };
        let woken = |holds_lock| Woken {
            token: self.token(),
            holds_lock,
        };
        if became_ready {
            return woken(false);
        }
        loop {
            if self.token().is_some() {
                return woken(false);
            }
            // Park only while no token is stored: a waker stores it before it
            // unparks this key, and the lot's lock orders the two checks.
            let validate = || {
                let waiting = self.token.load(Ordering::Relaxed) == 0;
                self.parked.store(waiting, Ordering::Relaxed);
                waiting
            };
            let timed_out = |key, was_last| {
                if key == self.key() {
                    self.parked.store(false, Ordering::Relaxed);
                } else if let Some(lock) = morph {
                    // Moved onto the lock's queue (so notified) and timed out there.
                    lock.requeued_waiter_timed_out(was_last);
                }
            };
            // SAFETY: the key is this entry's address, alive while the entry is
            // (its `Arc` is held here); the closures neither panic nor call into the lot.
            match unsafe { self.lot.park(self.key(), validate, timed_out, deadline) } {
                // Moved onto the lock's queue by a notify (so its token is
                // stored), then handed the lock. Nothing here may panic from now
                // on: the caller would re-lock a lock it already holds.
                ParkResult::Unparked(TOKEN_HANDOFF) => return woken(true),
                ParkResult::Unparked(_) => {
                    crate::facade::woke(self.unparked_at.swap(0, Ordering::Relaxed));
                }
                ParkResult::Invalid => {}
                ParkResult::TimedOut => return woken(false),
            }
        }
    }

    /// Steps 2 and 4 of the protocol: polls (as `spin` says) and parks until
    /// woken (returns the token) or until `deadline`; then takes `state`'s lock
    /// and runs `cancel`, which says what became of this waiter (see [`Cancel`]).
    pub(crate) fn wait<S>(
        &self,
        state: &Mutex<S>,
        deadline: Option<Instant>,
        spin: Spin<'_>,
        cancel: impl FnOnce(&mut S) -> Cancel,
    ) -> Option<Token> {
        let woken = self.wait_morphing(state, deadline, spin, None, cancel);
        debug_assert!(!woken.holds_lock, "handed a lock without one to morph onto");
        woken.token
    }

    /// [`wait`](Waiter::wait) for a `Condition`, whose notify may move this
    /// thread onto `morph`'s queue: the result says whether the thread was
    /// handed that lock on the way.
    pub(crate) fn wait_morphing<S>(
        &self,
        state: &Mutex<S>,
        deadline: Option<Instant>,
        spin: Spin<'_>,
        morph: Option<&RawMutex>,
        cancel: impl FnOnce(&mut S) -> Cancel,
    ) -> Woken {
        let woken = self.park_until(deadline, spin, morph);
        if woken.token.is_some() {
            return woken;
        }
        let mut state = state.lock();
        match cancel(&mut state) {
            Cancel::TimedOut => woken,
            Cancel::Woken => {
                let token = self.token();
                debug_assert!(token.is_some(), "a dequeued waiter has its token");
                Woken {
                    token,
                    holds_lock: false,
                }
            }
            Cancel::Committed => {
                drop(state);
                self.park_until(None, Spin::Never, morph)
            }
        }
    }
}

/// What a waiter whose deadline passed finds when it takes the state lock
/// (the `cancel` step of [`Waiter::wait`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cancel {
    /// It was still queued and has dequeued itself: the wait timed out.
    TimedOut,
    /// A waker dequeued it first: its token is already stored.
    Woken,
    /// It stays queued because a wake-up is already certain (a barrier round
    /// whose last party arrived): it waits for that token without a deadline.
    Committed,
}

impl Cancel {
    /// [`TimedOut`](Cancel::TimedOut) if the waiter removed itself, else
    /// [`Woken`](Cancel::Woken).
    pub(crate) fn removed(removed: bool) -> Cancel {
        if removed {
            Cancel::TimedOut
        } else {
            Cancel::Woken
        }
    }
}

/// A FIFO queue of waiters, each with primitive-specific data `D`.
///
/// One pointer wide: the entries live on the heap from the first wait on, so
/// a primitive that nobody waits on stays small (a `VecDeque` is four words).
pub(crate) struct WaitQueue<D = ()> {
    // The box is the point: one word here instead of the deque's four.
    #[allow(clippy::box_collection)]
    entries: Option<Box<VecDeque<Entry<D>>>>,
}

/// A queued waiter and its data.
pub(crate) struct Entry<D> {
    waiter: Arc<Waiter>,
    pub(crate) data: D,
}

impl<D> WaitQueue<D> {
    pub(crate) const fn new() -> Self {
        WaitQueue { entries: None }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.as_ref().map_or(0, |entries| entries.len())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Queues the current thread at the back.
    pub(crate) fn push(&mut self, data: D) -> Arc<Waiter> {
        let waiter = Waiter::for_current_thread();
        self.entries.get_or_insert_default().push_back(Entry {
            waiter: Arc::clone(&waiter),
            data,
        });
        waiter
    }

    /// The longest-waiting entry.
    pub(crate) fn front_mut(&mut self) -> Option<&mut Entry<D>> {
        self.entries.as_mut()?.front_mut()
    }

    /// Dequeues `waiter` (after its timeout) and returns its data, or `None` if a
    /// waker dequeued it first.
    pub(crate) fn remove(&mut self, waiter: &Arc<Waiter>) -> Option<D> {
        let entries = self.entries.as_mut()?;
        let index = entries
            .iter()
            .position(|entry| Arc::ptr_eq(&entry.waiter, waiter))?;
        entries.remove(index).map(|entry| entry.data)
    }

    /// Dequeues up to `n` waiters from the front, storing `token` in each;
    /// returns how many.
    pub(crate) fn wake(&mut self, n: usize, token: Token, wakeups: &mut Wakeups) -> usize {
        let n = n.min(self.len());
        for _ in 0..n {
            self.wake_front(token, wakeups);
        }
        n
    }

    /// Dequeues every waiter, storing `token` in each.
    pub(crate) fn wake_all(&mut self, token: Token, wakeups: &mut Wakeups) {
        self.wake(usize::MAX, token, wakeups);
    }

    /// Dequeues the front waiter, storing `token`, and returns its data.
    pub(crate) fn wake_front(&mut self, token: Token, wakeups: &mut Wakeups) -> Option<D> {
        let entry = self.entries.as_mut()?.pop_front()?;
        wakeups.push(entry.waiter, token);
        Some(entry.data)
    }
}

/// Waiters chosen under the state lock, to unpark once it is released (so a woken
/// thread does not run straight into a lock its waker still holds).
#[must_use = "call `unpark` once the state lock is released"]
pub(crate) struct Wakeups {
    first: Option<Arc<Waiter>>,
    rest: Vec<Arc<Waiter>>,
}

impl Wakeups {
    pub(crate) const fn new() -> Self {
        Wakeups {
            first: None,
            rest: Vec::new(),
        }
    }

    fn push(&mut self, waiter: Arc<Waiter>, token: Token) {
        // Release: pairs with `Waiter::token`. Stored under the state lock (see
        // the module docs); the unpark itself comes later.
        waiter.token.store(token.get(), Ordering::Release);
        match self.first {
            None => self.first = Some(waiter),
            Some(_) => self.rest.push(waiter),
        }
    }

    /// Unparks every chosen waiter. Call after releasing the state lock.
    pub(crate) fn unpark(self) {
        for waiter in self.first.into_iter().chain(self.rest) {
            let callback = |result: UnparkResult| {
                waiter.parked.store(false, Ordering::Relaxed);
                if result.unparked_threads != 0 {
                    let at = crate::facade::waking();
                    waiter.unparked_at.store(at, Ordering::Relaxed);
                } else {
                    crate::facade::handed_to_poller();
                }
                TOKEN_RETRY
            };
            // SAFETY: the key is the entry's address, kept alive by this `Arc`;
            // the callback neither panics nor calls into the lot.
            unsafe { waiter.lot.unpark_one(waiter.key(), callback) };
        }
    }

    /// Wait morphing, for a `Condition`: each chosen waiter that is parked is
    /// moved onto the queue of `lock` (the address of the `RawMutex` its wait
    /// released) if that lock is held, to be woken by its unlock, and woken
    /// now if it is free. A waiter not parked (still polling, or on its way
    /// out) sees its token by itself. Call after releasing the state lock.
    pub(crate) fn unpark_onto(self, lock: usize) {
        for waiter in self.first.into_iter().chain(self.rest) {
            let validate = || {
                if !waiter.parked.load(Ordering::Relaxed) {
                    crate::facade::handed_to_poller();
                    return RequeueOp::Abort;
                }
                // SAFETY: the waiter is parked inside `Condition::wait`, whose
                // guard borrows the lock: it is alive at least until this
                // thread is unparked, which needs the lot's lock we hold.
                let lock = unsafe { &*core::ptr::with_exposed_provenance::<RawMutex>(lock) };
                if lock.mark_parked_if_held() {
                    RequeueOp::RequeueOne
                } else {
                    RequeueOp::UnparkOne
                }
            };
            let callback = |op, result: UnparkResult| {
                waiter.parked.store(false, Ordering::Relaxed);
                if op == RequeueOp::UnparkOne && result.unparked_threads != 0 {
                    let at = crate::facade::waking();
                    waiter.unparked_at.store(at, Ordering::Relaxed);
                }
                TOKEN_RETRY
            };
            // SAFETY: as in `validate`: the lot asks for the lock's queue only
            // while the waiter is parked on its key, so inside its wait.
            let target =
                || unsafe { (*core::ptr::with_exposed_provenance::<RawMutex>(lock)).lot() };
            // SAFETY: the keys are the entry's address (kept alive by this
            // `Arc`) and the lock's; the closures neither panic nor call into the lot.
            unsafe {
                waiter
                    .lot
                    .unpark_requeue(waiter.key(), target, lock, validate, callback)
            };
        }
    }
}
