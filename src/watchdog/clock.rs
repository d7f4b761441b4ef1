//! The time a [`Watchdog`](crate::Watchdog) measures stalls with: the system's
//! monotonic clock, or a [`ManualClock`] that a test moves by hand.

use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;

use crate::facade::{Instant, StdArc};

/// A source of the current time for a [`Watchdog`](crate::Watchdog).
///
/// The monitor reads it once per check (never on [`Heartbeat::beat`](crate::Heartbeat::beat)).
/// Implement it to drive a watchdog from your own time source; tests use
/// [`ManualClock`].
///
/// ```
/// use std::time::Instant;
/// use threadkit::Clock;
///
/// /// The system clock, one hour ahead.
/// struct Ahead;
/// impl Clock for Ahead {
///     fn now(&self) -> Instant {
///         Instant::now() + std::time::Duration::from_secs(3600)
///     }
/// }
/// let watchdog = threadkit::Watchdog::builder().clock(Ahead).manual();
/// assert!(watchdog.status().is_empty());
/// ```
pub trait Clock: Send + Sync + 'static {
    /// The current time. Must never go backwards.
    fn now(&self) -> Instant;
}

/// The system's monotonic clock (`Instant::now`), the default.
///
/// ```
/// use threadkit::{Clock, SystemClock};
/// assert!(SystemClock.now() <= std::time::Instant::now());
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[inline]
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that stands still until [`advance`](ManualClock::advance)d: makes a
/// [`Watchdog`](crate::Watchdog) test deterministic, with no sleeping.
///
/// Clones share one time, so a test keeps a clone and moves the watchdog's clock.
///
/// ```
/// use std::time::Duration;
/// use threadkit::{ManualClock, Watchdog};
///
/// let clock = ManualClock::new();
/// let watchdog = Watchdog::builder().clock(clock.clone()).manual();
/// let _db = watchdog.register("db", Duration::from_secs(60));
/// clock.advance(Duration::from_secs(61)); // a minute passes without a beat
/// assert_eq!(watchdog.check_now().stalled[0].name, "db");
/// ```
#[derive(Clone)]
pub struct ManualClock {
    start: Instant,
    // Nanoseconds since `start`; a std atomic in both worlds (it orders nothing).
    elapsed_nanos: StdArc<AtomicU64>,
}

impl ManualClock {
    /// A clock standing at the current system time.
    #[must_use]
    pub fn new() -> ManualClock {
        ManualClock {
            start: Instant::now(),
            elapsed_nanos: StdArc::new(AtomicU64::new(0)),
        }
    }

    /// Moves the clock (and all its clones) forward by `by`.
    ///
    /// The monitor sees the new time at its next check, or a
    /// [`check_now`](crate::Watchdog::check_now) called after this returns.
    ///
    /// # Panics
    /// If the total elapsed time overflows 584 years of nanoseconds.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).expect("ManualClock::advance: duration too large");
        self.elapsed_nanos
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_add(by))
            .expect("ManualClock::advance: the clock overflowed (over 584 years)");
    }

    /// How far the clock has been advanced since it was created.
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.elapsed_nanos.load(Ordering::Relaxed))
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.start + self.elapsed()
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("elapsed", &self.elapsed())
            .finish()
    }
}
