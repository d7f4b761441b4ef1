//! [`Condition`]: a condition variable for [`Lock`](crate::Lock) (Python's
//! `threading.Condition`).
//!
//! Built on the shared [`WaitQueue`] engine: each waiter enqueues itself while it
//! still holds the user's lock, so a notifier that takes that lock afterwards is
//! guaranteed to see it (no lost wake-up); it returns only on its own token or its
//! own timeout (no spurious wake-up); `notify(n)` pops exactly `min(n, waiters)`
//! entries from the front (longest-waiting first).

use core::fmt;
use core::time::Duration;

use crate::facade::{self, AtomicU32, Instant, Mutex, Ordering, SpinPolicy, const_fn};
use crate::lock::LockGuard;
use crate::wait_queue::{Cancel, NOTIFIED, Spin, WaitQueue, Wakeups};

/// A condition variable: threads wait on it while holding a [`LockGuard`], and
/// other threads wake them with [`notify_one`](Condition::notify_one),
/// [`notify`](Condition::notify) or [`notify_all`](Condition::notify_all).
///
/// `wait` atomically releases the guard's lock and blocks; when notified it takes
/// the lock again before returning. Several `Condition`s may share one
/// [`Lock`](crate::Lock) (as `queue.Queue` does with `not_empty` and `not_full`),
/// but all threads waiting on one `Condition` at the same time must use the same
/// `Lock`: waiting with a second one panics.
///
/// # No spurious wake-ups
///
/// Stronger than std and parking_lot, as Python: a wait returns only because a
/// notify chose it or its timeout expired. `notify(n)` wakes exactly
/// `min(n, waiters)` threads, longest-waiting first, and says how many.
/// Still, write waits as loops over a predicate ([`wait_while`](Condition::wait_while)):
/// another thread may change the state between the notify and the woken thread
/// re-acquiring the lock.
///
/// # Happens-before
///
/// Everything a notifier did before `notify*` happens-before the return of each
/// `wait` it woke. Together with the lock: what a thread wrote under the lock
/// before notifying is visible to the woken waiter once `wait` returns.
///
/// # Differences from Python
///
/// `wait_for(timeout)` returns a [`WaitTimeoutResult`] instead of a bool
/// (`!timed_out()` is Python's `True`); Python's `wait_for(predicate)` is
/// [`wait_while`](Condition::wait_while) with the predicate negated (it waits
/// *while* the predicate holds, as std). Python's `notify(n=1)` is
/// [`notify`](Condition::notify) and returns the number woken.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::thread;
/// use threadkit::{Condition, Lock};
///
/// let pair = Arc::new((Lock::new(Vec::new()), Condition::new()));
/// let producer = {
///     let pair = Arc::clone(&pair);
///     thread::spawn(move || {
///         let (items, ready) = &*pair;
///         items.lock().push("job");
///         ready.notify_one();
///     })
/// };
///
/// let (items, ready) = &*pair;
/// let mut guard = items.lock();
/// ready.wait_while(&mut guard, |items| items.is_empty());
/// assert_eq!(guard.pop(), Some("job"));
/// # drop(guard);
/// producer.join().unwrap();
/// ```
pub struct Condition {
    state: Mutex<State>,
    /// `state.queue.len()`, mirrored so that a notify with nobody waiting
    /// takes no lock (32 bits: no process has more threads).
    waiting: AtomicU32,
    /// Whether waiters poll before parking.
    spin: SpinPolicy,
}

/// The mirror of a queue's length in [`Condition::waiting`].
fn waiters(queue: &WaitQueue) -> u32 {
    u32::try_from(queue.len()).expect("more than u32::MAX threads wait on one Condition")
}

struct State {
    queue: WaitQueue,
    /// Address (exposed) of the raw mutex of the `Lock` the current waiters
    /// released; meaningful while any wait.
    lock: usize,
}

/// Whether a timed wait on a [`Condition`] returned because its time ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[must_use = "a timed wait may have timed out; check `timed_out()`"]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// `true` if the wait ended because the timeout expired (for the predicate
    /// forms: the timeout expired and the predicate still held).
    ///
    /// ```
    /// use std::time::Duration;
    /// use threadkit::{Condition, Lock};
    /// let (lock, cond) = (Lock::new(()), Condition::new());
    /// let mut guard = lock.lock();
    /// assert!(cond.wait_for(&mut guard, Duration::from_millis(1)).timed_out());
    /// ```
    pub fn timed_out(self) -> bool {
        self.0
    }
}

impl Condition {
    const_fn! {
        /// Creates a condition variable with no waiters (`const` outside loom).
        ///
        /// ```
        /// let cond = threadkit::Condition::new();
        /// assert_eq!(cond.notify_all(), 0);
        /// ```
        pub const fn new() -> Condition {
            Condition {
                state: facade::mutex(State { queue: WaitQueue::new(), lock: 0 }),
                waiting: AtomicU32::new(0),
                spin: SpinPolicy::new(),
            }
        }
    }

    /// Releases the guard's lock, blocks until notified, and takes the lock again.
    ///
    /// Everything the notifier did before notifying happens-before this returns.
    ///
    /// # Panics
    ///
    /// If other threads are waiting on this `Condition` with a guard of a
    /// different [`Lock`](crate::Lock).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use threadkit::{Condition, Lock};
    ///
    /// let state = Arc::new((Lock::new(false), Condition::new()));
    /// let waker = Arc::clone(&state);
    /// std::thread::spawn(move || {
    ///     *waker.0.lock() = true;
    ///     waker.1.notify_all();
    /// });
    /// let mut ready = state.0.lock();
    /// while !*ready {
    ///     state.1.wait(&mut ready);
    /// }
    /// ```
    #[track_caller]
    pub fn wait<T: ?Sized>(&self, guard: &mut LockGuard<'_, T>) {
        let result = self.wait_until_opt(guard, None, "wait");
        debug_assert!(!result.timed_out(), "an untimed wait cannot time out");
    }

    /// As [`wait`](Condition::wait), but gives up after `timeout` (a zero timeout
    /// releases and re-takes the lock without blocking; `Duration::MAX` waits forever).
    /// Either way the lock is held again on return.
    ///
    /// ```
    /// use std::time::Duration;
    /// use threadkit::{Condition, Lock};
    /// let (lock, cond) = (Lock::new(0), Condition::new());
    /// let mut guard = lock.lock();
    /// let result = cond.wait_for(&mut guard, Duration::from_millis(10));
    /// assert!(result.timed_out()); // nobody notified
    /// *guard += 1; // the lock is held again
    /// ```
    #[track_caller]
    pub fn wait_for<T: ?Sized>(
        &self,
        guard: &mut LockGuard<'_, T>,
        timeout: Duration,
    ) -> WaitTimeoutResult {
        self.wait_until_opt(guard, facade::deadline_after(timeout), "wait_for")
    }

    /// As [`wait`](Condition::wait), but gives up at `deadline`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use threadkit::{Condition, Lock};
    /// let (lock, cond) = (Lock::new(()), Condition::new());
    /// let mut guard = lock.lock();
    /// let deadline = Instant::now() + Duration::from_millis(5);
    /// assert!(cond.wait_until(&mut guard, deadline).timed_out());
    /// assert!(Instant::now() >= deadline);
    /// ```
    #[track_caller]
    pub fn wait_until<T: ?Sized>(
        &self,
        guard: &mut LockGuard<'_, T>,
        deadline: Instant,
    ) -> WaitTimeoutResult {
        self.wait_until_opt(guard, Some(deadline), "wait_until")
    }

    /// Waits while `condition` returns `true` for the protected value: checks it
    /// first, then after every wake-up, with the lock held. Python's
    /// `wait_for(predicate)` with the predicate negated.
    ///
    /// Everything the notifier did before the notify that ended the wait
    /// happens-before this returns (the predicate sees it).
    ///
    /// # Panics
    ///
    /// If other threads wait on this `Condition` with a different `Lock` (see
    /// [`wait`](Condition::wait)). If `condition` panics, the panic propagates
    /// with the lock held (the guard unlocks as it unwinds) and this thread is
    /// no longer queued: the `Condition` stays consistent.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use threadkit::{Condition, Lock};
    ///
    /// let shared = Arc::new((Lock::new(0), Condition::new()));
    /// let worker = Arc::clone(&shared);
    /// std::thread::spawn(move || {
    ///     for _ in 0..3 {
    ///         *worker.0.lock() += 1;
    ///         worker.1.notify_all();
    ///     }
    /// });
    /// let mut count = shared.0.lock();
    /// shared.1.wait_while(&mut count, |count| *count < 3);
    /// assert_eq!(*count, 3);
    /// ```
    #[track_caller]
    #[doc(alias = "wait_for")]
    pub fn wait_while<T: ?Sized, F>(&self, guard: &mut LockGuard<'_, T>, condition: F)
    where
        F: FnMut(&mut T) -> bool,
    {
        let result = self.wait_while_until_opt(guard, condition, None, "wait_while");
        debug_assert!(!result.timed_out(), "an untimed wait cannot time out");
    }

    /// As [`wait_while`](Condition::wait_while), for at most `timeout`.
    /// `timed_out()` is `true` only if the time ran out with the predicate still `true`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use threadkit::{Condition, Lock};
    /// let (lock, cond) = (Lock::new(5), Condition::new());
    /// let mut guard = lock.lock();
    /// // Already false: returns at once, not timed out.
    /// assert!(!cond.wait_while_for(&mut guard, |n| *n < 5, Duration::ZERO).timed_out());
    /// // Stays true: times out.
    /// assert!(cond.wait_while_for(&mut guard, |n| *n < 10, Duration::from_millis(5)).timed_out());
    /// ```
    #[track_caller]
    pub fn wait_while_for<T: ?Sized, F>(
        &self,
        guard: &mut LockGuard<'_, T>,
        condition: F,
        timeout: Duration,
    ) -> WaitTimeoutResult
    where
        F: FnMut(&mut T) -> bool,
    {
        self.wait_while_until_opt(
            guard,
            condition,
            facade::deadline_after(timeout),
            "wait_while_for",
        )
    }

    /// As [`wait_while`](Condition::wait_while), until `deadline` at the latest.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use threadkit::{Condition, Lock};
    /// let (lock, cond) = (Lock::new(false), Condition::new());
    /// let mut guard = lock.lock();
    /// let deadline = Instant::now() + Duration::from_millis(5);
    /// assert!(cond.wait_while_until(&mut guard, |done| !*done, deadline).timed_out());
    /// ```
    #[track_caller]
    pub fn wait_while_until<T: ?Sized, F>(
        &self,
        guard: &mut LockGuard<'_, T>,
        condition: F,
        deadline: Instant,
    ) -> WaitTimeoutResult
    where
        F: FnMut(&mut T) -> bool,
    {
        self.wait_while_until_opt(guard, condition, Some(deadline), "wait_while_until")
    }

    /// Wakes the longest-waiting thread, if any; returns whether one was woken.
    ///
    /// Everything before this call happens-before the woken `wait` returning.
    ///
    /// ```
    /// let cond = threadkit::Condition::new();
    /// assert!(!cond.notify_one()); // nobody waiting: the notification is not stored
    /// ```
    pub fn notify_one(&self) -> bool {
        self.notify(1) == 1
    }

    /// Wakes the `n` longest-waiting threads (all of them if fewer wait); returns
    /// how many were woken, exactly `min(n, waiters)`.
    ///
    /// Everything before this call happens-before each woken `wait` returning.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use threadkit::{Condition, Lock};
    ///
    /// // Three workers wait for tickets; the main thread hands out three.
    /// let shared = Arc::new((Lock::new(0u32), Condition::new()));
    /// let workers: Vec<_> = (0..3)
    ///     .map(|_| {
    ///         let shared = Arc::clone(&shared);
    ///         std::thread::spawn(move || {
    ///             let (tickets, cond) = &*shared;
    ///             let mut tickets = tickets.lock();
    ///             cond.wait_while(&mut tickets, |t| *t == 0);
    ///             *tickets -= 1;
    ///         })
    ///     })
    ///     .collect();
    /// let (tickets, cond) = &*shared;
    /// *tickets.lock() = 3;
    /// let woken = cond.notify(3); // workers not yet waiting will find a ticket anyway
    /// assert!(woken <= 3);
    /// for worker in workers {
    ///     worker.join().unwrap();
    /// }
    /// assert_eq!(*tickets.lock(), 0);
    /// ```
    pub fn notify(&self, n: usize) -> usize {
        // Relaxed suffices: a waiter stores `waiting` before releasing the user's
        // lock, and a notifier that must see it takes that lock first.
        if n == 0 || self.waiting.load(Ordering::Relaxed) == 0 {
            return 0;
        }
        let mut wakeups = Wakeups::new();
        let mut state = self.state.lock();
        let woken = state.queue.wake(n, NOTIFIED, &mut wakeups);
        self.waiting.store(waiters(&state.queue), Ordering::Relaxed);
        let lock = state.lock;
        drop(state);
        // Wait morphing: a woken waiter whose lock is held (usually by us) waits
        // on the lock's queue for its unlock instead of waking into it.
        wakeups.unpark_onto(lock);
        woken
    }

    /// Wakes every waiting thread; returns how many were woken.
    ///
    /// Everything before this call happens-before each woken `wait` returning.
    ///
    /// ```
    /// let cond = threadkit::Condition::new();
    /// assert_eq!(cond.notify_all(), 0);
    /// ```
    #[doc(alias = "notifyAll")]
    pub fn notify_all(&self) -> usize {
        self.notify(usize::MAX)
    }

    /// Not part of the API (hidden, may change): how many threads wait right
    /// now, so tests can order a notify after a waiter is known to be queued.
    #[doc(hidden)]
    pub fn queued_waiters(&self) -> usize {
        self.state.lock().queue.len()
    }

    #[track_caller]
    fn wait_while_until_opt<T: ?Sized, F>(
        &self,
        guard: &mut LockGuard<'_, T>,
        mut condition: F,
        deadline: Option<Instant>,
        method: &str,
    ) -> WaitTimeoutResult
    where
        F: FnMut(&mut T) -> bool,
    {
        while condition(&mut **guard) {
            if self.wait_until_opt(guard, deadline, method).timed_out() {
                // As std: a timeout counts only if the predicate still holds.
                return WaitTimeoutResult(condition(&mut **guard));
            }
        }
        WaitTimeoutResult(false)
    }

    #[track_caller]
    fn wait_until_opt<T: ?Sized>(
        &self,
        guard: &mut LockGuard<'_, T>,
        deadline: Option<Instant>,
        method: &str,
    ) -> WaitTimeoutResult {
        // The wait ends by taking the lock again: checked now, before blocking.
        LockGuard::before_reacquiring(guard);
        // Exposed: a notify turns the address back into the lock to morph onto.
        let raw = LockGuard::raw(guard);
        let lock = core::ptr::from_ref(raw).expose_provenance();
        let waiter = {
            let mut state = self.state.lock();
            if state.queue.is_empty() {
                state.lock = lock;
            } else if state.lock != lock {
                drop(state);
                panic!(
                    "Condition::{method}: called with a guard of a different Lock than the \
                     threads already waiting on this Condition; all waiters of a Condition \
                     must use the same Lock"
                );
            }
            let waiter = state.queue.push(());
            self.waiting.store(waiters(&state.queue), Ordering::Relaxed);
            waiter
        };
        let timed_out = LockGuard::unlock_for_wait(guard, || {
            let spin = Spin::Adaptive(&self.spin);
            let woken = waiter.wait_morphing(&self.state, deadline, spin, Some(raw), |state| {
                let removed = state.queue.remove(&waiter).is_some();
                self.waiting.store(waiters(&state.queue), Ordering::Relaxed);
                Cancel::removed(removed)
            });
            // `None` only if we left the queue ourselves: a notify that chose us
            // first is never reported as a timeout.
            (woken.token.is_none(), woken.holds_lock)
        });
        WaitTimeoutResult(timed_out)
    }
}

impl Default for Condition {
    fn default() -> Self {
        Condition::new()
    }
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condition")
            .field("waiting", &self.waiting.load(Ordering::Relaxed))
            .finish()
    }
}

// A panic never leaves the state half-updated: the internal lock is held only
// by threadkit code that does not panic (the misuse panic releases it first;
// a panicking predicate runs outside it), and nothing is poisoned.
impl core::panic::UnwindSafe for Condition {}
impl core::panic::RefUnwindSafe for Condition {}
