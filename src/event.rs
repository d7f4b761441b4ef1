//! [`Event`]: a flag threads can wait for (Python's `threading.Event`).
//!
//! # State
//!
//! One `AtomicUsize` with two bits, `SET` (the flag) and `QUEUED` (some thread
//! waits in the queue; set and cleared only under the queue lock). `is_set` is
//! one load; `set` and `clear` are one atomic operation while nobody waits. A
//! `set` that finds `QUEUED` takes the queue lock and, in one step under it,
//! raises the flag and wakes every queued waiter with a token, so each of them
//! returns `true` even if `clear` follows at once, and no thread that started
//! waiting after a later `clear` is woken by this `set`.

use core::fmt;
use core::time::Duration;

use crate::facade::{self, AtomicUsize, Instant, Mutex, Ordering, SpinPolicy, const_fn};
use crate::wait_queue::{Cancel, NOTIFIED, Spin, WaitQueue, Wakeups};

const SET: usize = 1;
const QUEUED: usize = 2;

/// A boolean flag that threads can wait for (Python's `threading.Event`).
///
/// [`set`](Event::set) raises the flag and wakes every waiter;
/// [`clear`](Event::clear) lowers it; [`wait`](Event::wait) blocks until it is
/// raised (returning at once if it already is).
///
/// # Happens-before
///
/// Everything a thread did before `set()` happens-before any `wait*` returning
/// `true` and any `is_set()` returning `true` that observed that `set` (or a
/// later one).
///
/// # No lost wake-up
///
/// A waiter woken by `set` returns `true` even if another thread calls `clear`
/// right after `set`: the wake-up is handed to the waiter, not re-read from the flag.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::thread;
/// use threadkit::Event;
///
/// let start = Arc::new(Event::new());
/// let runners: Vec<_> = (0..3)
///     .map(|i| {
///         let start = Arc::clone(&start);
///         thread::spawn(move || {
///             start.wait(); // all wait for the pistol
///             i
///         })
///     })
///     .collect();
/// start.set();
/// let finished: Vec<_> = runners.into_iter().map(|r| r.join().unwrap()).collect();
/// assert_eq!(finished, [0, 1, 2]);
/// ```
pub struct Event {
    state: AtomicUsize,
    queue: Mutex<WaitQueue>,
    /// Whether waiters poll before parking.
    spin: SpinPolicy,
}

impl Event {
    const_fn! {
        /// Creates an event whose flag is down (`const` outside loom).
        ///
        /// ```
        /// assert!(!threadkit::Event::new().is_set());
        /// ```
        pub const fn new() -> Event {
            Event {
                state: AtomicUsize::new(0),
                queue: facade::mutex(WaitQueue::new()),
                spin: SpinPolicy::new(),
            }
        }
    }

    /// Whether the flag is up: one atomic load (Acquire).
    ///
    /// If it returns `true`, everything before the `set` it observed happens-before
    /// this returns.
    ///
    /// ```
    /// let event = threadkit::Event::new();
    /// event.set();
    /// assert!(event.is_set());
    /// ```
    #[inline]
    #[doc(alias = "isSet")]
    pub fn is_set(&self) -> bool {
        self.state.load(Ordering::Acquire) & SET != 0
    }

    /// Raises the flag and wakes every waiting thread. Threads that call `wait`
    /// later return at once until [`clear`](Event::clear) is called.
    ///
    /// Everything before this call happens-before every `wait` it releases.
    ///
    /// ```
    /// let event = threadkit::Event::new();
    /// event.set();
    /// event.set(); // idempotent
    /// assert!(event.wait_for(std::time::Duration::ZERO));
    /// ```
    pub fn set(&self) {
        let mut state = self.state.load(Ordering::Relaxed);
        while state & QUEUED == 0 {
            // Release (also when already set): a waiter that sees the flag sees
            // everything before this call.
            match self.state.compare_exchange_weak(
                state,
                state | SET,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(actual) => state = actual,
            }
        }
        self.set_slow();
    }

    fn set_slow(&self) {
        let mut wakeups = Wakeups::new();
        let mut queue = self.queue.lock();
        // Under the lock no one can queue, so raising the flag and waking the
        // queue is one step: every thread woken here waited before this `set`.
        self.state.store(SET, Ordering::Release);
        queue.wake_all(NOTIFIED, &mut wakeups);
        drop(queue);
        wakeups.unpark();
    }

    /// Lowers the flag. Threads already woken by a `set` still return `true`.
    ///
    /// ```
    /// let event = threadkit::Event::new();
    /// event.set();
    /// event.clear();
    /// assert!(!event.is_set());
    /// ```
    pub fn clear(&self) {
        self.state.fetch_and(!SET, Ordering::Relaxed);
    }

    /// Blocks until the flag is up; returns at once if it already is.
    ///
    /// Everything before the `set` that released it happens-before this returns.
    ///
    /// ```
    /// let event = threadkit::Event::new();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| event.set());
    ///     event.wait();
    /// });
    /// ```
    #[inline]
    pub fn wait(&self) {
        // The fast path is `is_set`'s one load; the rest stays out of line.
        if !self.is_set() {
            self.wait_slow();
        }
    }

    #[cold]
    fn wait_slow(&self) {
        let up = self.wait_until_opt(None);
        debug_assert!(up, "an untimed wait returns only when the flag was set");
    }

    /// Blocks until the flag is up or `timeout` passes; returns the flag's value
    /// (`false`: timed out), as Python's `wait(timeout)`. Zero: check once;
    /// `Duration::MAX`: wait forever.
    ///
    /// ```
    /// use std::time::Duration;
    /// let event = threadkit::Event::new();
    /// assert!(!event.wait_for(Duration::from_millis(5)));
    /// event.set();
    /// assert!(event.wait_for(Duration::from_millis(5)));
    /// ```
    #[must_use = "the result says whether the flag was set or the wait timed out"]
    pub fn wait_for(&self, timeout: Duration) -> bool {
        // Checked before the clock is read: a set event answers in one load.
        self.is_set() || self.wait_until_opt(facade::deadline_after(timeout))
    }

    /// Blocks until the flag is up or `deadline` passes; returns the flag's value.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let event = threadkit::Event::new();
    /// let deadline = Instant::now() + Duration::from_millis(5);
    /// assert!(!event.wait_until(deadline));
    /// assert!(Instant::now() >= deadline);
    /// ```
    #[must_use = "the result says whether the flag was set or the wait timed out"]
    pub fn wait_until(&self, deadline: Instant) -> bool {
        self.wait_until_opt(Some(deadline))
    }

    /// Not part of the API (hidden, may change): how many threads are queued
    /// right now, so tests and loom models can order a `set` after a waiter is
    /// known to be blocked, without guessing from the kernel's thread state.
    #[doc(hidden)]
    pub fn queued_waiters(&self) -> usize {
        self.queue.lock().len()
    }

    fn wait_until_opt(&self, deadline: Option<Instant>) -> bool {
        if self.is_set() {
            return true;
        }
        let waiter = {
            let mut queue = self.queue.lock();
            // Only lock holders add QUEUED; `set` and `clear` may race us on SET.
            let state = self.state.fetch_or(QUEUED, Ordering::Acquire);
            if state & SET != 0 {
                self.unmark_if_empty(&queue);
                return true;
            }
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                self.unmark_if_empty(&queue);
                return false; // a zero timeout checks once and never queues
            }
            queue.push(())
        };
        let token = waiter.wait(&self.queue, deadline, Spin::Adaptive(&self.spin), |queue| {
            let removed = queue.remove(&waiter).is_some();
            if removed {
                self.unmark_if_empty(queue);
            }
            Cancel::removed(removed)
        });
        // Timed out while still queued: no `set` reached us, so the flag was down.
        token.is_some()
    }
}

impl Event {
    /// Clears `QUEUED` once nobody is queued. Called with the queue locked.
    fn unmark_if_empty(&self, queue: &WaitQueue) {
        if queue.is_empty() {
            self.state.fetch_and(!QUEUED, Ordering::Relaxed);
        }
    }
}

impl Default for Event {
    fn default() -> Self {
        Event::new()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("is_set", &self.is_set())
            .finish()
    }
}

// A panic never leaves the state half-updated: the internal lock is held only
// by threadkit code that does not panic, and nothing is poisoned.
impl core::panic::UnwindSafe for Event {}
impl core::panic::RefUnwindSafe for Event {}
