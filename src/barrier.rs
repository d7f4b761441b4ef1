//! [`Barrier`]: a reusable rendezvous for a fixed number of threads (Python's
//! `threading.Barrier`).
//!
//! # Algorithm
//!
//! One state lock guards the arrival count, a generation number and the queue
//! of parked arrivals. The last arrival of a generation runs the action (with
//! the lock released, marked `tripping`), then bumps the generation, resets the
//! count and wakes the queue with the token `PASSED`. Breaking (a timeout,
//! `abort`, `reset`, a panicking action) bumps the generation too and wakes the
//! queue with `BROKEN`. Each waiter learns its fate from its own token, so a fast
//! thread that re-enters the next generation cannot take a slot of the one
//! still being released. Threads that arrive while the action runs are parked
//! as `late` and retry once the generation has tripped or broken; one whose
//! timeout expires meanwhile breaks the barrier only after that round is
//! released (its parties had all arrived), as in Python and Java, where a late
//! arrival cannot even enter before the round is out. Likewise nothing ends a
//! round while its action runs: a waiter of that round whose deadline passes
//! meanwhile stays queued and is released with it, and an `abort` (or `reset`)
//! takes effect once the round is released (in Python they wait for the lock
//! that the action holds).

use core::fmt;
use core::time::Duration;
use std::panic::{self, AssertUnwindSafe};

use crate::facade::{self, Instant, Mutex, SpinPolicy};
use crate::wait_queue::{Cancel, Spin, Token, WaitQueue, Wakeups};

/// The generation tripped: every party arrived.
const PASSED: Token = Token::MIN;
/// The barrier broke (timeout, abort, reset or a panicking action).
const BROKEN: Token = Token::MIN.saturating_add(1);
/// (Late arrivals only) the generation ended: try again.
const RETRY: Token = Token::MIN.saturating_add(2);

/// Boxed twice, so that the state holds a thin pointer (the action runs once
/// a generation: the second indirection costs nothing that shows).
type Action = Box<Box<dyn FnMut() + Send + 'static>>;

/// A cyclic barrier: `parties` threads call [`wait`](Barrier::wait), and all of
/// them block until the last one arrives; then all are released together and
/// the barrier is ready for the next round (Python's `threading.Barrier`).
///
/// An optional action ([`with_action`](Barrier::with_action)) runs once per
/// round, in the last thread to arrive, before any thread is released.
///
/// # Breaking
///
/// A barrier breaks when a timed wait times out, when [`abort`](Barrier::abort)
/// is called, when [`reset`](Barrier::reset) is called while threads wait, or
/// when the action panics. Every waiting thread then gets
/// `Err(Broken)` (the thread whose wait timed out gets `Err(Timeout)`), and
/// every later `wait` gets `Err(Broken)` until `reset`. A panicking action's
/// panic propagates in the thread that ran it; the action is kept and runs
/// again in later rounds after `reset`.
///
/// # Happens-before
///
/// Everything each party did before its `wait` in a round happens-before the
/// action of that round, and both happen-before every `wait` of that round
/// returning `Ok`.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::thread;
/// use threadkit::Barrier;
///
/// let barrier = Arc::new(Barrier::new(3));
/// let workers: Vec<_> = (0..3)
///     .map(|_| {
///         let barrier = Arc::clone(&barrier);
///         thread::spawn(move || {
///             // phase 1 ...
///             let arrival = barrier.wait().unwrap();
///             // phase 2 starts only when all three finished phase 1
///             arrival.is_leader()
///         })
///     })
///     .collect();
/// let leaders = workers.into_iter().map(|w| w.join().unwrap());
/// assert_eq!(leaders.filter(|&is_leader| is_leader).count(), 1);
/// ```
pub struct Barrier {
    parties: usize,
    state: Mutex<State>,
    /// Whether waiters poll before parking.
    spin: SpinPolicy,
}

struct State {
    /// Threads arrived in the current generation (parked or running the action).
    arrived: usize,
    /// Bumped whenever a generation ends, by tripping or breaking (wrapping:
    /// it is only compared within one generation).
    generation: u32,
    broken: bool,
    /// The last arrival is running the action with the lock released.
    tripping: bool,
    /// A late arrival timed out, or `abort` was called, while the action ran:
    /// break once the round is out.
    break_after_trip: bool,
    /// `reset` was called while the action ran: undo a break of that round
    /// (its action panicked) once the round is out.
    reset_after_trip: bool,
    action: Option<Action>,
    /// Parked arrivals of the current generation, in arrival order.
    queue: WaitQueue,
    /// Threads that arrived while the action ran; they retry afterwards.
    late: WaitQueue,
}

/// What a successful [`Barrier::wait`] returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BarrierWaitResult {
    index: usize,
    parties: usize,
}

impl BarrierWaitResult {
    /// The arrival index in `0..parties`: 0 for the first thread to arrive,
    /// `parties - 1` for the last (Python's return value of `wait()`).
    ///
    /// ```
    /// let barrier = threadkit::Barrier::new(1);
    /// assert_eq!(barrier.wait().unwrap().index(), 0);
    /// ```
    pub fn index(&self) -> usize {
        self.index
    }

    /// `true` for exactly one thread per round: the last to arrive, which also
    /// ran the action.
    ///
    /// ```
    /// let barrier = threadkit::Barrier::new(1);
    /// assert!(barrier.wait().unwrap().is_leader());
    /// ```
    pub fn is_leader(&self) -> bool {
        self.index + 1 == self.parties
    }
}

/// The barrier is broken (Python's `BrokenBarrierError`): a wait timed out, the
/// barrier was aborted or reset, or the action panicked. Call
/// [`Barrier::reset`] to use it again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BrokenBarrier;

impl fmt::Display for BrokenBarrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "the barrier is broken (a wait timed out, it was aborted or reset, or its action panicked)",
        )
    }
}

impl std::error::Error for BrokenBarrier {}

/// Why a timed [`Barrier`] wait failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BarrierWaitError {
    /// This thread's wait timed out, which broke the barrier for everyone.
    Timeout,
    /// The barrier is broken (by another thread's timeout, `abort`, `reset` or a
    /// panicking action).
    Broken,
}

impl fmt::Display for BarrierWaitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BarrierWaitError::Timeout => {
                f.write_str("the barrier wait timed out, which broke the barrier")
            }
            BarrierWaitError::Broken => fmt::Display::fmt(&BrokenBarrier, f),
        }
    }
}

impl std::error::Error for BarrierWaitError {}

impl From<BrokenBarrier> for BarrierWaitError {
    fn from(_: BrokenBarrier) -> Self {
        BarrierWaitError::Broken
    }
}

impl Barrier {
    /// Creates a barrier for `parties` threads.
    ///
    /// # Panics
    ///
    /// If `parties` is 0: no round could ever complete.
    ///
    /// ```
    /// assert_eq!(threadkit::Barrier::new(4).parties(), 4);
    /// ```
    #[track_caller]
    pub fn new(parties: usize) -> Barrier {
        Barrier::build(parties, None)
    }

    /// Creates a barrier for `parties` threads that runs `action` once per
    /// round, in the last thread to arrive, before any thread is released.
    ///
    /// # Panics
    ///
    /// If `parties` is 0.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    ///
    /// let rounds = Arc::new(AtomicUsize::new(0));
    /// let counter = Arc::clone(&rounds);
    /// let barrier = threadkit::Barrier::with_action(1, move || {
    ///     counter.fetch_add(1, Ordering::Relaxed);
    /// });
    /// barrier.wait().unwrap();
    /// barrier.wait().unwrap();
    /// assert_eq!(rounds.load(Ordering::Relaxed), 2);
    /// ```
    #[track_caller]
    pub fn with_action(parties: usize, action: impl FnMut() + Send + 'static) -> Barrier {
        Barrier::build(parties, Some(Box::new(Box::new(action))))
    }

    #[track_caller]
    fn build(parties: usize, action: Option<Action>) -> Barrier {
        assert!(
            parties > 0,
            "Barrier::new: parties must be at least 1 (a barrier for 0 threads never trips)"
        );
        Barrier {
            parties,
            state: facade::mutex(State {
                arrived: 0,
                generation: 0,
                broken: false,
                tripping: false,
                break_after_trip: false,
                reset_after_trip: false,
                action,
                queue: WaitQueue::new(),
                late: WaitQueue::new(),
            }),
            spin: SpinPolicy::new(),
        }
    }

    /// Blocks until all `parties` threads have called `wait` in this round.
    /// Returns the arrival index, or `Err(BrokenBarrier)` if the barrier is or
    /// becomes broken.
    ///
    /// ```
    /// let barrier = threadkit::Barrier::new(2);
    /// std::thread::scope(|s| {
    ///     let other = s.spawn(|| barrier.wait().unwrap().index());
    ///     let mine = barrier.wait().unwrap().index();
    ///     let mut both = [mine, other.join().unwrap()];
    ///     both.sort();
    ///     assert_eq!(both, [0, 1]);
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// [`BrokenBarrier`] if the barrier is broken when this thread arrives, or
    /// breaks while it waits: another party's wait timed out, [`abort`](Barrier::abort)
    /// or [`reset`](Barrier::reset) was called, or the action panicked.
    ///
    /// # Panics
    ///
    /// If this thread is the last to arrive and the action panics: the panic
    /// propagates here after the barrier is broken for the others.
    pub fn wait(&self) -> Result<BarrierWaitResult, BrokenBarrier> {
        self.wait_until_opt(None).map_err(|error| {
            debug_assert_eq!(error, BarrierWaitError::Broken);
            BrokenBarrier
        })
    }

    /// As [`wait`](Barrier::wait), but for at most `timeout`. A timeout breaks
    /// the barrier for everyone, as in Python: this thread gets
    /// `Err(BarrierWaitError::Timeout)`, the others `Err(Broken)`.
    ///
    /// The deadline counts until the round's last party arrives: once it has,
    /// the round is complete and this wait returns `Ok` with it, even if the
    /// deadline passes while the action runs (as in Python and Java).
    ///
    /// ```
    /// use std::time::Duration;
    /// use threadkit::{Barrier, BarrierWaitError};
    /// let barrier = Barrier::new(2);
    /// assert_eq!(barrier.wait_for(Duration::from_millis(5)), Err(BarrierWaitError::Timeout));
    /// assert!(barrier.is_broken());
    /// ```
    ///
    /// # Errors
    ///
    /// [`BarrierWaitError::Timeout`] if this thread's timeout expired before
    /// the round's last party arrived (the barrier is then broken);
    /// [`BarrierWaitError::Broken`] as for [`wait`](Barrier::wait).
    ///
    /// # Panics
    ///
    /// As [`wait`](Barrier::wait), if this thread runs a panicking action.
    pub fn wait_for(&self, timeout: Duration) -> Result<BarrierWaitResult, BarrierWaitError> {
        self.wait_until_opt(facade::deadline_after(timeout))
    }

    /// As [`wait`](Barrier::wait), but until `deadline` at the latest (a timeout
    /// breaks the barrier, as with [`wait_for`](Barrier::wait_for)).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let barrier = threadkit::Barrier::new(1);
    /// assert!(barrier.wait_until(Instant::now() + Duration::from_secs(1)).is_ok());
    /// ```
    ///
    /// # Errors
    ///
    /// As [`wait_for`](Barrier::wait_for).
    ///
    /// # Panics
    ///
    /// As [`wait`](Barrier::wait), if this thread runs a panicking action.
    pub fn wait_until(&self, deadline: Instant) -> Result<BarrierWaitResult, BarrierWaitError> {
        self.wait_until_opt(Some(deadline))
    }

    /// Breaks the barrier: every waiting thread and every later `wait` gets
    /// `Err(Broken)` until [`reset`](Barrier::reset) (Python's `abort()`).
    ///
    /// Called while a round's action runs, it takes effect once that round is
    /// released: the round's parties all arrived, so they get `Ok` (as in
    /// Python, where `abort` waits for the lock the action holds).
    ///
    /// ```
    /// let barrier = threadkit::Barrier::new(2);
    /// barrier.abort();
    /// assert!(barrier.wait().is_err());
    /// ```
    pub fn abort(&self) {
        let mut wakeups = Wakeups::new();
        let mut state = self.state.lock();
        if state.tripping {
            // The round is complete: it is released first, then the barrier breaks.
            state.break_after_trip = true;
            return;
        }
        Self::break_locked(&mut state, &mut wakeups);
        drop(state);
        wakeups.unpark();
    }

    /// Returns the barrier to its initial, unbroken state. Threads waiting in the
    /// current round get `Err(Broken)` (Python's `reset()`).
    ///
    /// Called while a round's action runs, it waits for nothing and breaks
    /// nothing: that round is released as usual (or broken, if its action
    /// panics), and then the barrier is reset as if `reset` had come after it:
    /// a break requested meanwhile (an `abort`, a late arrival's timeout) is
    /// cancelled, and so is the break of a panicking action.
    ///
    /// ```
    /// let barrier = threadkit::Barrier::new(1);
    /// barrier.abort();
    /// assert!(barrier.is_broken());
    /// barrier.reset();
    /// assert!(barrier.wait().is_ok());
    /// ```
    pub fn reset(&self) {
        let mut wakeups = Wakeups::new();
        let mut state = self.state.lock();
        if state.tripping {
            // The round is complete and is released as usual; whatever broke
            // the barrier meanwhile (an `abort`, a late arrival's timeout), or
            // breaks it at its end (a panicking action), is undone then.
            state.break_after_trip = false;
            state.reset_after_trip = true;
            return;
        }
        if state.arrived > 0 {
            Self::break_locked(&mut state, &mut wakeups);
        }
        state.broken = false;
        drop(state);
        wakeups.unpark();
    }

    /// Whether the barrier is broken.
    ///
    /// ```
    /// let barrier = threadkit::Barrier::new(3);
    /// assert!(!barrier.is_broken());
    /// ```
    pub fn is_broken(&self) -> bool {
        self.state.lock().broken
    }

    /// The number of threads needed to trip the barrier.
    ///
    /// ```
    /// assert_eq!(threadkit::Barrier::new(2).parties(), 2);
    /// ```
    pub fn parties(&self) -> usize {
        self.parties
    }

    /// The number of threads currently blocked in this round (a snapshot).
    ///
    /// ```
    /// assert_eq!(threadkit::Barrier::new(2).n_waiting(), 0);
    /// ```
    pub fn n_waiting(&self) -> usize {
        self.state.lock().queue.len()
    }

    /// Not part of the API (hidden, may change): how many threads arrived
    /// while the action runs and wait for the round to be out, so tests can
    /// order steps after a late arrival is queued.
    #[doc(hidden)]
    pub fn late_arrivals(&self) -> usize {
        self.state.lock().late.len()
    }

    /// Waiters poll before parking only if all parties can run at once: with
    /// more parties than CPUs, a poller takes CPU time from a thread yet to arrive.
    fn spin(&self) -> Spin<'_> {
        if self.parties <= facade::parallelism() {
            Spin::Adaptive(&self.spin)
        } else {
            Spin::Never
        }
    }

    fn wait_until_opt(
        &self,
        deadline: Option<Instant>,
    ) -> Result<BarrierWaitResult, BarrierWaitError> {
        let mut state = self.state.lock();
        while state.tripping {
            // The action of the previous round is running: wait for its end.
            let waiter = state.late.push(());
            drop(state);
            let token = waiter.wait(&self.state, deadline, self.spin(), |state| {
                let removed = state.late.remove(&waiter).is_some();
                // Still in `late`, so the action still runs (the trip wakes `late`
                // in the critical section that ends it). Its round is complete:
                // the timeout breaks the barrier after that round, not during it.
                debug_assert!(!removed || state.tripping);
                state.break_after_trip |= removed;
                Cancel::removed(removed)
            });
            if token.is_none() {
                return Err(BarrierWaitError::Timeout);
            }
            state = self.state.lock();
        }
        if state.broken {
            return Err(BarrierWaitError::Broken);
        }
        let index = state.arrived;
        state.arrived += 1;
        if state.arrived == self.parties {
            return self.trip(state, index);
        }
        let waiter = state.queue.push(());
        drop(state);
        let mut wakeups = Wakeups::new();
        let token = waiter.wait(&self.state, deadline, self.spin(), |state| {
            if state.tripping {
                // Our round's last party arrived and runs the action: the round
                // is complete, so we are released with it, deadline or not.
                return Cancel::Committed;
            }
            let removed = state.queue.remove(&waiter).is_some();
            if removed {
                Self::break_locked(state, &mut wakeups);
            }
            Cancel::removed(removed)
        });
        wakeups.unpark();
        match token {
            Some(PASSED) => Ok(self.arrival(index)),
            Some(_) => Err(BarrierWaitError::Broken),
            None => Err(BarrierWaitError::Timeout),
        }
    }

    /// The last arrival: runs the action (lock released), then releases the round.
    fn trip<'a>(
        &'a self,
        mut state: facade::MutexGuard<'a, State>,
        index: usize,
    ) -> Result<BarrierWaitResult, BarrierWaitError> {
        let generation = state.generation;
        let mut panic = None;
        if let Some(mut action) = state.action.take() {
            state.tripping = true;
            drop(state);
            panic = panic::catch_unwind(AssertUnwindSafe(&mut action)).err();
            state = self.state.lock();
            state.action = Some(action); // kept even if it panicked: it runs again after reset
            state.tripping = false;
        }
        let mut wakeups = Wakeups::new();
        // Nothing ends a round while its action runs: breaks wait for the release.
        debug_assert_eq!(state.generation, generation);
        let outcome = if panic.is_some() {
            Self::break_locked(&mut state, &mut wakeups);
            Err(BarrierWaitError::Broken)
        } else {
            Self::end_generation(&mut state, PASSED, &mut wakeups);
            Ok(self.arrival(index))
        };
        // What was asked while the action ran, in order: a `reset` (which
        // cleared earlier requests to break), then any later break.
        if state.reset_after_trip {
            state.broken = false;
        }
        state.broken |= state.break_after_trip;
        state.break_after_trip = false;
        state.reset_after_trip = false;
        state.late.wake_all(RETRY, &mut wakeups);
        drop(state);
        wakeups.unpark();
        if let Some(payload) = panic {
            panic::resume_unwind(payload);
        }
        outcome
    }

    fn arrival(&self, index: usize) -> BarrierWaitResult {
        BarrierWaitResult {
            index,
            parties: self.parties,
        }
    }

    /// Breaks the barrier: the current round's waiters get `BROKEN`.
    fn break_locked(state: &mut State, wakeups: &mut Wakeups) {
        state.broken = true;
        Self::end_generation(state, BROKEN, wakeups);
    }

    fn end_generation(state: &mut State, token: Token, wakeups: &mut Wakeups) {
        state.generation = state.generation.wrapping_add(1);
        state.arrived = 0;
        state.queue.wake_all(token, wakeups);
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.lock();
        f.debug_struct("Barrier")
            .field("parties", &self.parties)
            .field("n_waiting", &state.queue.len())
            .field("broken", &state.broken)
            .finish_non_exhaustive()
    }
}

// A panic never leaves the state half-updated: the internal lock is held only
// by threadkit code that does not panic (the action runs unlocked, under
// `catch_unwind`, and a panic in it breaks the barrier on purpose), and
// nothing is poisoned.
impl core::panic::UnwindSafe for Barrier {}
impl core::panic::RefUnwindSafe for Barrier {}
