//! One registered service: the beat flag its [`Heartbeat`](crate::Heartbeat)
//! sets, and the state the checks keep.
//!
//! A beat is one relaxed store of `true`; a check takes the flag back with a
//! `swap(false)` and, if it was set, counts the beat as happening at the
//! check's time. So a beat never reads the clock, and time since the last beat
//! is measured at check granularity: a stall is seen at most one interval
//! after the timeout has passed.

use core::fmt;
use core::time::Duration;

use crate::Lock;
use crate::facade::{AtomicBool, CachePadded, Instant, Ordering};

/// A snapshot of one service, as a check or [`Watchdog::status`](crate::Watchdog::status) saw it.
///
/// ```
/// use std::time::Duration;
/// let watchdog = threadkit::Watchdog::builder().manual();
/// let _cache = watchdog.register("cache", Duration::from_secs(5));
/// let status = &watchdog.status()[0];
/// assert_eq!(status.name, "cache");
/// assert_eq!(status.timeout, Duration::from_secs(5));
/// assert!(!status.stalled);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceStatus {
    /// The name it was registered with.
    pub name: String,
    /// Time since its last beat (or its registration), as of this snapshot,
    /// measured at check granularity: a beat counts as made at the first check
    /// (or snapshot) that sees it, so this can read up to one interval short.
    pub since_last_beat: Duration,
    /// The timeout it was registered with.
    pub timeout: Duration,
    /// Whether `since_last_beat` exceeds `timeout`.
    pub stalled: bool,
}

/// What a check found changed for one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Transition {
    Stalled,
    Recovered,
}

/// A registered service.
pub(super) struct Service {
    name: String,
    timeout: Duration,
    // The only thing a beat touches: kept off the line of the state's lock.
    beaten: CachePadded<AtomicBool>,
    state: Lock<State>,
}

/// What the checks remember of a service (changed only under the watchdog's
/// check lock, so the lock here is never contended).
struct State {
    last_beat: Instant,
    stalled: bool,
    registered: bool,
}

impl Service {
    /// A service registered at `now` (registering counts as its first beat).
    pub(super) fn new(name: &str, timeout: Duration, now: Instant) -> Service {
        Service {
            name: name.to_owned(),
            timeout,
            beaten: CachePadded::new(AtomicBool::new(false)),
            state: Lock::new(State {
                last_beat: now,
                stalled: false,
                registered: true,
            }),
        }
    }

    pub(super) fn name(&self) -> &str {
        &self.name
    }

    pub(super) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// A beat: one relaxed store. The check's `swap` reads the latest value of
    /// the flag, so a beat stored after a check's swap is seen by the next one.
    #[inline]
    pub(super) fn beat(&self) {
        self.beaten.store(true, Ordering::Relaxed);
    }

    /// Marks the service gone: no check reports it after this returns (the
    /// caller holds the check lock, so no check is half-way through it).
    pub(super) fn unregister(&self) {
        self.state.lock().registered = false;
    }

    /// Looks at the service at `now`: takes a pending beat, and returns its
    /// status, or `None` once unregistered. With `record`, remembers whether it
    /// is stalled and returns the change since the last recorded look.
    pub(super) fn look(
        &self,
        now: Instant,
        record: bool,
    ) -> Option<(ServiceStatus, Option<Transition>)> {
        let mut state = self.state.lock();
        if !state.registered {
            return None;
        }
        if self.beaten.swap(false, Ordering::Relaxed) {
            // A beat since the last look: it happened by now.
            state.last_beat = state.last_beat.max(now);
        }
        let since_last_beat = now.saturating_duration_since(state.last_beat);
        let stalled = since_last_beat > self.timeout;
        let mut transition = None;
        if record && stalled != state.stalled {
            state.stalled = stalled;
            transition = Some(if stalled {
                Transition::Stalled
            } else {
                Transition::Recovered
            });
        }
        let status = ServiceStatus {
            name: self.name.clone(),
            since_last_beat,
            timeout: self.timeout,
            stalled,
        };
        Some((status, transition))
    }
}

impl fmt::Debug for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Service")
            .field("name", &self.name)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}
