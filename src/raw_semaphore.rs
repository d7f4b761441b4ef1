//! The counting-semaphore engine behind [`Semaphore`](crate::Semaphore) and
//! [`BoundedSemaphore`](crate::BoundedSemaphore).
//!
//! # State
//!
//! One `AtomicUsize`, `permits << 1 | QUEUED`:
//!
//! | bit | meaning |
//! |---|---|
//! | 0 `QUEUED` | some thread waits; set and cleared only under the queue lock |
//! | 1.. | free permits; always 0 while `QUEUED` is set |
//!
//! With nobody queued, `acquire` and `release` are one compare-and-swap each and
//! never touch the lock. Once a thread has to wait, `QUEUED` sends every later
//! acquire to the back of the queue and every release through the lock.
//!
//! # Fairness: strict FIFO with hand-off
//!
//! A released permit goes to the longest-waiting request first. A request for
//! `n` permits collects them as they are released (only the front request ever
//! holds a partial grant) and is woken when it has all `n`; what is left over
//! goes to the next request, and to the free count once nobody waits. No
//! acquirer barges past a waiting one, so a blocked `acquire_many(n)` cannot be
//! starved by a stream of single acquires; the price is head-of-line blocking
//! (a large request holds back smaller ones behind it). This is tokio's
//! `batch_semaphore` policy. A request that times out passes on what it collected.

use crate::facade::{self, AtomicUsize, Instant, Mutex, Ordering, SpinPolicy, const_fn};
use crate::wait_queue::{Cancel, NOTIFIED, Spin, WaitQueue, Wakeups};

const QUEUED: usize = 1;

/// The largest number of permits a semaphore can hold.
pub(crate) const MAX_PERMITS: usize = usize::MAX >> 1;

/// The panic of an untimed acquire that can never be granted (it would block
/// forever), with the caller's line and the method it called.
#[cold]
#[track_caller]
pub(crate) fn impossible_request(semaphore: &str, method: &str, n: usize, bound: usize) -> ! {
    if bound == MAX_PERMITS {
        panic!(
            "{semaphore}::{method}: {n} permits can never be granted: more than a semaphore \
             can hold (usize::MAX / 2); this call would block forever"
        )
    }
    panic!(
        "{semaphore}::{method}: {n} permit(s) can never be granted by a semaphore bounded at \
         {bound}; this call would block forever"
    )
}

/// A waiting request: how many permits it needs and how many it already holds.
struct Request {
    needed: usize,
    granted: usize,
}

/// A FIFO-fair counting semaphore whose free count never exceeds `bound`.
pub(crate) struct RawSemaphore {
    state: AtomicUsize,
    queue: Mutex<WaitQueue<Request>>,
    bound: usize,
    /// Whether waiters poll before parking.
    spin: SpinPolicy,
}

/// What [`RawSemaphore::release`] does with permits that would exceed the bound.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Excess {
    /// Refuse the whole release and change nothing.
    Refuse,
    /// Release only up to the bound (a permit dropped after an explicit release).
    Discard,
}

/// The release was refused: it would have raised the count above the bound.
/// Carries the count (free plus reserved for the front waiter) it found.
pub(crate) struct OverBound {
    pub(crate) count: usize,
}

impl RawSemaphore {
    const_fn! {
        pub(crate) const fn new(permits: usize, bound: usize) -> RawSemaphore {
            RawSemaphore {
                state: AtomicUsize::new(permits << 1),
                queue: facade::mutex(WaitQueue::new()),
                bound,
                spin: SpinPolicy::new(),
            }
        }
    }

    pub(crate) fn bound(&self) -> usize {
        self.bound
    }

    /// Free permits right now; 0 while threads wait (released permits are then
    /// reserved for them).
    #[inline]
    pub(crate) fn available(&self) -> usize {
        let state = self.state.load(Ordering::Acquire);
        if state & QUEUED != 0 { 0 } else { state >> 1 }
    }

    /// How many requests wait right now.
    pub(crate) fn queued(&self) -> usize {
        self.queue.lock().len()
    }

    /// Takes `n` permits if they are free and nobody is queued, without blocking.
    /// Zero permits are always granted at once, even with threads queued.
    #[inline]
    pub(crate) fn try_acquire(&self, n: usize) -> bool {
        if n == 0 {
            return true;
        }
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & QUEUED != 0 || state >> 1 < n {
                return false;
            }
            // Acquire: pairs with the Release of whoever released these permits.
            match self.state.compare_exchange_weak(
                state,
                state - (n << 1),
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => state = actual,
            }
        }
    }

    /// Takes `n` permits, waiting in FIFO order until `deadline`; `false` on timeout.
    #[inline]
    pub(crate) fn acquire(&self, n: usize, deadline: Option<Instant>) -> bool {
        self.try_acquire(n) || self.acquire_slow(n, deadline)
    }

    fn acquire_slow(&self, n: usize, deadline: Option<Instant>) -> bool {
        if n > self.bound {
            // Never grantable: wait out the deadline without queueing (a queued
            // request would hold back every acquire behind it), as Python's
            // `acquire(timeout=...)` returns False after its timeout.
            facade::sleep_until(deadline);
            return false;
        }
        // A deadline already past (a zero timeout) tries once and never queues.
        let expired = deadline.is_some_and(|deadline| Instant::now() >= deadline);
        let waiter = {
            let mut queue = self.queue.lock();
            let mut state = self.state.load(Ordering::Relaxed);
            let granted = loop {
                let free = state >> 1;
                let (next, granted) = if state & QUEUED == 0 && free >= n {
                    (state - (n << 1), n)
                } else if expired {
                    return false;
                } else if state & QUEUED != 0 {
                    break 0; // others are already waiting: join the back
                } else {
                    (QUEUED, free) // queue up, holding what is free now
                };
                match self.state.compare_exchange_weak(
                    state,
                    next,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                ) {
                    Ok(_) if granted == n => return true,
                    Ok(_) => break granted,
                    Err(actual) => state = actual,
                }
            };
            queue.push(Request { needed: n, granted })
        };
        let mut wakeups = Wakeups::new();
        let token =
            waiter.wait(
                &self.queue,
                deadline,
                Spin::Adaptive(&self.spin),
                |queue| match queue.remove(&waiter) {
                    Some(request) => {
                        self.hand_out(queue, request.granted, &mut wakeups);
                        Cancel::TimedOut
                    }
                    None => Cancel::Woken,
                },
            );
        wakeups.unpark();
        token == Some(NOTIFIED)
    }

    /// Adds `n` permits; `Err` (and no change) if that would raise the count
    /// above the bound with [`Excess::Refuse`].
    #[inline]
    pub(crate) fn release(&self, n: usize, excess: Excess) -> Result<(), OverBound> {
        if n == 0 {
            return Ok(());
        }
        let mut state = self.state.load(Ordering::Relaxed);
        while state & QUEUED == 0 {
            let add = self.admit(state >> 1, n, excess)?;
            // Release: everything before this release happens-before the acquire
            // that takes these permits.
            match self.state.compare_exchange_weak(
                state,
                state + (add << 1),
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(actual) => state = actual,
            }
        }
        self.release_slow(n, excess)
    }

    fn release_slow(&self, n: usize, excess: Excess) -> Result<(), OverBound> {
        let mut wakeups = Wakeups::new();
        let mut queue = self.queue.lock();
        if self.state.load(Ordering::Relaxed) & QUEUED == 0 {
            drop(queue); // the queue drained meanwhile: back to the lock-free path
            return self.release(n, excess);
        }
        let reserved = queue.front_mut().map_or(0, |front| front.data.granted);
        let add = self.admit(reserved, n, excess)?;
        self.hand_out(&mut queue, add, &mut wakeups);
        drop(queue);
        wakeups.unpark();
        Ok(())
    }

    /// How many of `n` released permits fit on top of `count` without passing the bound.
    #[inline]
    fn admit(&self, count: usize, n: usize, excess: Excess) -> Result<usize, OverBound> {
        let room = self.bound - count;
        match excess {
            _ if n <= room => Ok(n),
            Excess::Discard => Ok(room),
            Excess::Refuse => Err(OverBound { count }),
        }
    }

    /// Gives `n` permits to the queue, front first, waking every request that is
    /// complete; once nobody waits, the rest become free permits. Called with the
    /// queue locked and `QUEUED` set (so no one else changes the state).
    fn hand_out(&self, queue: &mut WaitQueue<Request>, mut n: usize, wakeups: &mut Wakeups) {
        while let Some(front) = queue.front_mut() {
            let request = &mut front.data;
            let take = n.min(request.needed - request.granted);
            request.granted += take;
            n -= take;
            if request.granted < request.needed {
                return; // `n` is used up; the front keeps its partial grant
            }
            // The waker's token store (Release) carries this release's
            // happens-before edge to the woken acquirer.
            queue.wake_front(NOTIFIED, wakeups);
        }
        self.state.store(n << 1, Ordering::Release);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use core::time::Duration;

    #[test]
    fn zero_permits_are_granted_at_once_even_behind_waiters() {
        let sem = RawSemaphore::new(0, MAX_PERMITS);
        // Queue a request as a blocked `acquire(1)` would (no thread needed).
        let waiter = sem.queue.lock().push(Request {
            needed: 1,
            granted: 0,
        });
        sem.state.store(QUEUED, Ordering::Relaxed);
        assert!(sem.try_acquire(0));
        assert!(sem.acquire(0, facade::deadline_after(Duration::ZERO)));
        assert!(!sem.try_acquire(1), "a queued request is not barged past");
        // A release completes the queued request and clears `QUEUED`.
        assert!(sem.release(1, Excess::Refuse).is_ok());
        assert!(sem.queue.lock().is_empty());
        assert_eq!(sem.available(), 0);
        drop(waiter);
    }
}

// Semaphore, BoundedSemaphore and their permits inherit these. A panic never
// leaves the state half-updated: the internal lock is held only by threadkit
// code that does not panic, and nothing is poisoned.
impl core::panic::UnwindSafe for RawSemaphore {}
impl core::panic::RefUnwindSafe for RawSemaphore {}
