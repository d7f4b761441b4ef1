//! `Watchdog`: a monitor thread that reports services which stop beating, and
//! threads which panic (the seeds' `WatchDog` and `ThreadWithExceptionHandling`).
//!
//! Design: each service owns a flag that [`Heartbeat::beat`] sets with one
//! relaxed store (no lock, no clock read, so it can sit in a hot loop); the
//! monitor wakes every interval, takes every flag back and compares the time
//! since each service's last seen beat with its timeout (`service.rs`). Checks
//! run one at a time under a reentrant check lock, which unregistering also
//! takes: once a `Heartbeat` is dropped no report names it, and a callback may
//! still call back into the watchdog.

mod clock;
mod service;

use core::fmt;
use core::time::Duration;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

pub use clock::{Clock, ManualClock, SystemClock};
pub use service::ServiceStatus;
use service::{Service, Transition};

use crate::facade::{JoinHandle, StdArc, ThreadBuilder, current_thread};
use crate::{Event, Lock, RLock};

/// The default check interval: one second.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);
/// The default name of the monitor thread.
const DEFAULT_THREAD_NAME: &str = "threadkit-watchdog";

type StatusCallback = Box<dyn Fn(&ServiceStatus) + Send + Sync>;
type PanicCallback = Box<dyn Fn(&PanicReport) + Send + Sync>;
#[cfg(all(feature = "deadlock-detection", not(loom)))]
type DeadlockCallback = Box<dyn Fn(&crate::DeadlockReport) + Send + Sync>;

/// A monitor of named services and threads: reports a service whose
/// [`Heartbeat`] has not beaten within its timeout (once per stall, and once
/// when it recovers), and a [monitored thread](Watchdog::spawn_monitored) that
/// panics.
///
/// A beat does not read the clock: it counts as happening at the first check
/// that sees it, so time since the last beat is measured at the granularity of
/// the check interval: a stall is reported more than `timeout` and less than
/// `timeout + 2 × interval` after the last beat (the beat counts up to one
/// interval late, and the stall is seen up to one interval late).
///
/// Build one with [`Watchdog::builder`]. Reports go to the callbacks set there,
/// or to the [`log`](https://docs.rs/log) crate (`warn` for a stall or a
/// panic, `info` for a recovery). Dropping the watchdog stops its monitor
/// thread ([`stop`](Watchdog::stop)).
///
/// Happens-before: registering a service happens-before every check that
/// starts after `register` returns, and dropping its [`Heartbeat`]
/// happens-before every check that starts after the drop. A
/// [`beat`](Heartbeat::beat) is a relaxed store that says only "alive": every
/// beat that returned before a check starts is seen by it, but the beat orders
/// none of the service's other memory with the check. Callbacks run on the
/// monitor thread (or the caller of [`check_now`](Watchdog::check_now)), one
/// check at a time.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
/// use threadkit::{ManualClock, Watchdog};
///
/// let clock = ManualClock::new();
/// let stalls = Arc::new(Mutex::new(Vec::new()));
/// let seen = Arc::clone(&stalls);
/// let watchdog = Watchdog::builder()
///     .clock(clock.clone())
///     .on_stall(move |status| seen.lock().unwrap().push(status.name.clone()))
///     .spawn()?;
///
/// let mailer = watchdog.register("mailer", Duration::from_secs(60));
/// clock.advance(Duration::from_secs(30));
/// mailer.beat(); // alive
/// watchdog.check_now(); // (the monitor checks every second; this test checks by hand)
/// clock.advance(Duration::from_secs(90)); // then silent for 90 s
/// watchdog.check_now();
/// assert_eq!(*stalls.lock().unwrap(), ["mailer"]);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Watchdog {
    shared: StdArc<Shared>,
    monitor: Lock<Option<JoinHandle<()>>>,
}

/// Configures and starts a [`Watchdog`] ([`Watchdog::builder`]).
///
/// ```
/// use std::time::Duration;
/// let watchdog = threadkit::Watchdog::builder()
///     .interval(Duration::from_millis(100))
///     .thread_name("health")
///     .on_stall(|status| eprintln!("{} is stuck", status.name))
///     .on_recover(|status| eprintln!("{} is back", status.name))
///     .on_panic(|report| eprintln!("{} panicked: {}", report.name, report.message))
///     .spawn()?;
/// watchdog.stop();
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "a builder does nothing until spawned"]
pub struct WatchdogBuilder {
    interval: Duration,
    thread_name: String,
    clock: Box<dyn Clock>,
    callbacks: Callbacks,
}

/// The link of one registered service to its [`Watchdog`]: call
/// [`beat`](Heartbeat::beat) to say the service is alive; drop it to
/// unregister the service.
///
/// `Send + Sync + 'static`: move it into the service's thread, or share it.
///
/// ```
/// use std::time::Duration;
/// let watchdog = threadkit::Watchdog::builder().manual();
/// let heartbeat = watchdog.register("worker", Duration::from_secs(1));
/// std::thread::spawn(move || {
///     for _job in 0..3 {
///         heartbeat.beat();
///     }
/// })
/// .join()
/// .unwrap();
/// assert!(watchdog.status().is_empty()); // the heartbeat was dropped
/// ```
#[must_use = "dropping a Heartbeat unregisters its service"]
pub struct Heartbeat {
    service: StdArc<Service>,
    shared: StdArc<Shared>,
}

/// What one check found ([`Watchdog::check_now`]).
///
/// ```
/// use std::time::Duration;
/// use threadkit::{ManualClock, Watchdog};
/// let clock = ManualClock::new();
/// let watchdog = Watchdog::builder().clock(clock.clone()).manual();
/// let db = watchdog.register("db", Duration::from_secs(1));
/// clock.advance(Duration::from_secs(2));
/// assert_eq!(watchdog.check_now().stalled.len(), 1);
/// db.beat();
/// let report = watchdog.check_now();
/// assert!(report.stalled.is_empty());
/// assert_eq!(report.recovered[0].name, "db");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckReport {
    /// Every service this check found stalled (reported to `on_stall` only
    /// the first time in a stall).
    pub stalled: Vec<ServiceStatus>,
    /// The services this check found beating again after a stall.
    pub recovered: Vec<ServiceStatus>,
    /// The deadlocks this check found (feature `deadlock-detection`): each is
    /// found by one check only.
    #[cfg(all(feature = "deadlock-detection", not(loom)))]
    pub deadlocks: Vec<crate::DeadlockReport>,
}

/// A panic that the watchdog reports to `on_panic`: a
/// [monitored thread](Watchdog::spawn_monitored)'s, or a callback's.
///
/// ```
/// let report = threadkit::PanicReport {
///     name: "worker".to_owned(),
///     message: "index out of bounds".to_owned(),
/// };
/// assert_eq!(report.to_string(), "worker panicked: index out of bounds");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PanicReport {
    /// The thread's name, or which callback panicked (e.g. `on_stall callback`).
    pub name: String,
    /// The panic message (its payload if a string, else a placeholder).
    pub message: String,
}

impl fmt::Display for PanicReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} panicked: {}", self.name, self.message)
    }
}

/// The user's callbacks (`None`: report to `log`).
#[derive(Default)]
struct Callbacks {
    on_stall: Option<StatusCallback>,
    on_recover: Option<StatusCallback>,
    on_panic: Option<PanicCallback>,
    #[cfg(all(feature = "deadlock-detection", not(loom)))]
    on_deadlock: Option<DeadlockCallback>,
}

/// What the watchdog, its heartbeats and its monitored threads share.
struct Shared {
    clock: Box<dyn Clock>,
    callbacks: Callbacks,
    services: Lock<Vec<StdArc<Service>>>,
    // Held by a check while it looks and reports, and by unregistering;
    // reentrant, so a callback may call `status`, `check_now` or drop a heartbeat.
    checking: RLock<()>,
    stop: Event,
}

impl Watchdog {
    /// A builder with the defaults: a check every second, the system clock,
    /// reports to `log`, a monitor thread named `threadkit-watchdog`.
    ///
    /// ```
    /// let watchdog = threadkit::Watchdog::builder().spawn()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn builder() -> WatchdogBuilder {
        WatchdogBuilder {
            interval: DEFAULT_INTERVAL,
            thread_name: DEFAULT_THREAD_NAME.to_owned(),
            clock: Box::new(SystemClock),
            callbacks: Callbacks::default(),
        }
    }

    /// Registers a service that must [`beat`](Heartbeat::beat) at least once
    /// every `timeout`; registering counts as its first beat. Names need not be
    /// unique (each registration is its own service).
    ///
    /// The registration happens-before every check that starts after this returns.
    ///
    /// ```
    /// use std::time::Duration;
    /// let watchdog = threadkit::Watchdog::builder().manual();
    /// let heartbeat = watchdog.register("poller", Duration::from_secs(10));
    /// assert_eq!(heartbeat.name(), "poller");
    /// assert_eq!(watchdog.status().len(), 1);
    /// ```
    pub fn register(&self, name: &str, timeout: Duration) -> Heartbeat {
        self.shared.register(name, timeout)
    }

    /// Runs a thread named `name` with its own heartbeat (registered with
    /// `timeout`, passed to `f`, unregistered when `f` ends). If `f` panics, the
    /// panic is reported to `on_panic` (a [`PanicReport`] with the message) and
    /// the `JoinHandle`'s `join` still returns it.
    ///
    /// Errors if the OS cannot start a thread (as `std::thread::Builder::spawn`).
    /// Everything `f` did happens-before `join` returns.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use std::time::Duration;
    ///
    /// let panics = Arc::new(Mutex::new(Vec::new()));
    /// let seen = Arc::clone(&panics);
    /// let watchdog = threadkit::Watchdog::builder()
    ///     .on_panic(move |report| seen.lock().unwrap().push(report.message.clone()))
    ///     .manual();
    ///
    /// let worker = watchdog.spawn_monitored("importer", Duration::from_secs(5), |heartbeat| {
    ///     heartbeat.beat();
    ///     panic!("bad row 17");
    /// })?;
    /// assert!(worker.join().is_err()); // the panic still reaches join
    /// assert_eq!(*panics.lock().unwrap(), ["bad row 17"]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn_monitored<F, R>(
        &self,
        name: &str,
        timeout: Duration,
        f: F,
    ) -> io::Result<JoinHandle<R>>
    where
        F: FnOnce(&Heartbeat) -> R + Send + 'static,
        R: Send + 'static,
    {
        let heartbeat = self.register(name, timeout);
        let thread_name = name.to_owned();
        ThreadBuilder::new().name(name.to_owned()).spawn(move || {
            match catch_unwind(AssertUnwindSafe(|| f(&heartbeat))) {
                Ok(result) => result,
                Err(payload) => {
                    let shared = StdArc::clone(&heartbeat.shared);
                    // Unregister first: a dead thread is reported as a panic, not a stall.
                    drop(heartbeat);
                    shared.report_panic(&PanicReport {
                        name: thread_name,
                        message: panic_message(&*payload),
                    });
                    resume_unwind(payload)
                }
            }
        })
    }

    /// A snapshot of every registered service, in registration order. Fires no
    /// callback.
    ///
    /// ```
    /// use std::time::Duration;
    /// use threadkit::{ManualClock, Watchdog};
    /// let clock = ManualClock::new();
    /// let watchdog = Watchdog::builder().clock(clock.clone()).manual();
    /// let _a = watchdog.register("a", Duration::from_secs(1));
    /// clock.advance(Duration::from_secs(3));
    /// let status = watchdog.status();
    /// assert_eq!(status[0].since_last_beat, Duration::from_secs(3));
    /// assert!(status[0].stalled);
    /// ```
    pub fn status(&self) -> Vec<ServiceStatus> {
        self.shared.status()
    }

    /// Runs one check now, on this thread, firing the callbacks as the
    /// monitor would; the monitor's own checks go on as before. Lets tests
    /// (with a [`ManualClock`]) avoid sleeping.
    ///
    /// Every [`beat`](Heartbeat::beat) that returned before this was called is
    /// seen by this check.
    ///
    /// ```
    /// use std::time::Duration;
    /// use threadkit::{ManualClock, Watchdog};
    /// let clock = ManualClock::new();
    /// let watchdog = Watchdog::builder().clock(clock.clone()).manual();
    /// let heartbeat = watchdog.register("job", Duration::from_secs(10));
    /// clock.advance(Duration::from_secs(11));
    /// heartbeat.beat(); // just in time
    /// assert!(watchdog.check_now().stalled.is_empty());
    /// ```
    pub fn check_now(&self) -> CheckReport {
        self.shared.check()
    }

    /// Stops the monitor thread and waits for it to exit; returns promptly (it
    /// does not wait for the interval to end, only for a check in progress).
    /// Idempotent. Heartbeats stay valid, and [`check_now`](Watchdog::check_now)
    /// still works. Called from a callback (of the monitor's check or of a
    /// `check_now`), it stops the monitor after its current check without
    /// waiting for it to exit.
    ///
    /// ```
    /// let watchdog = threadkit::Watchdog::builder().spawn()?;
    /// watchdog.stop();
    /// watchdog.stop(); // no-op
    /// assert!(!watchdog.is_running());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stop(&self) {
        self.shared.stop.set();
        let monitor = self.monitor.lock().take();
        if let Some(monitor) = monitor {
            // A callback cannot wait for the monitor: the monitor itself cannot
            // join itself, and a `check_now` callback holds the check lock the
            // monitor may be waiting for. It exits after its check regardless.
            let in_callback = self.shared.checking.is_owned_by_current_thread();
            if !in_callback && monitor.thread().id() != current_thread().id() {
                // It catches every panic of a check, so it never returns one.
                let _ = monitor.join();
            }
        }
    }

    /// Whether the monitor thread runs (false after [`stop`](Watchdog::stop), and
    /// for a [`manual`](WatchdogBuilder::manual) watchdog).
    ///
    /// ```
    /// let watchdog = threadkit::Watchdog::builder().manual();
    /// assert!(!watchdog.is_running());
    /// ```
    pub fn is_running(&self) -> bool {
        self.monitor.lock().is_some()
    }
}

impl WatchdogBuilder {
    /// How often the monitor checks (default: one second). A stall is reported
    /// more than `timeout` and less than `timeout + 2 × interval` after the
    /// last beat (a beat counts at the first check that sees it).
    ///
    /// # Panics
    /// If `interval` is zero (the monitor would spin).
    ///
    /// ```
    /// let builder = threadkit::Watchdog::builder().interval(std::time::Duration::from_millis(50));
    /// ```
    pub fn interval(mut self, interval: Duration) -> WatchdogBuilder {
        assert!(
            !interval.is_zero(),
            "Watchdog interval must be non-zero (the monitor would never sleep)"
        );
        self.interval = interval;
        self
    }

    /// The monitor thread's name (default `threadkit-watchdog`).
    ///
    /// ```
    /// let watchdog = threadkit::Watchdog::builder().thread_name("health").spawn()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn thread_name(mut self, name: &str) -> WatchdogBuilder {
        self.thread_name = name.to_owned();
        self
    }

    /// Called once when a service stalls (no beat within its timeout), with its
    /// status. Runs on the monitor thread; a panic in it is reported to
    /// `on_panic` and the monitor goes on. Default: `log::warn!`.
    ///
    /// Keep callbacks short. A callback runs under the check lock, which
    /// dropping a [`Heartbeat`] waits for (so that no report names a service
    /// after its drop returned): a callback must not wait for a thread that is
    /// dropping a heartbeat. To restart a stalled service, send it (or a
    /// supervisor) a message from the callback, and join the old thread there.
    ///
    /// ```
    /// let builder = threadkit::Watchdog::builder()
    ///     .on_stall(|status| eprintln!("{} silent for {:?}", status.name, status.since_last_beat));
    /// ```
    pub fn on_stall(
        mut self,
        f: impl Fn(&ServiceStatus) + Send + Sync + 'static,
    ) -> WatchdogBuilder {
        self.callbacks.on_stall = Some(Box::new(f));
        self
    }

    /// Called once when a stalled service beats again. Default: `log::info!`.
    ///
    /// ```
    /// let builder = threadkit::Watchdog::builder().on_recover(|status| eprintln!("{} is back", status.name));
    /// ```
    pub fn on_recover(
        mut self,
        f: impl Fn(&ServiceStatus) + Send + Sync + 'static,
    ) -> WatchdogBuilder {
        self.callbacks.on_recover = Some(Box::new(f));
        self
    }

    /// Called when a [monitored thread](Watchdog::spawn_monitored) or another
    /// callback panics. Default: `log::warn!`. If it panics itself, that is
    /// logged with `log::error!`.
    ///
    /// ```
    /// let builder = threadkit::Watchdog::builder().on_panic(|report| eprintln!("{report}"));
    /// ```
    pub fn on_panic(mut self, f: impl Fn(&PanicReport) + Send + Sync + 'static) -> WatchdogBuilder {
        self.callbacks.on_panic = Some(Box::new(f));
        self
    }

    /// Called when a check finds threads deadlocked on threadkit locks (cargo
    /// feature `deadlock-detection`), once per deadlock. Default: `log::error!`
    /// with the report (threads, locks, backtraces).
    ///
    /// ```
    /// let builder = threadkit::Watchdog::builder().on_deadlock(|deadlock| eprintln!("{deadlock}"));
    /// ```
    #[cfg(all(feature = "deadlock-detection", not(loom)))]
    pub fn on_deadlock(
        mut self,
        f: impl Fn(&crate::DeadlockReport) + Send + Sync + 'static,
    ) -> WatchdogBuilder {
        self.callbacks.on_deadlock = Some(Box::new(f));
        self
    }

    /// The clock stalls are measured with (default [`SystemClock`]); a
    /// [`ManualClock`] makes tests deterministic.
    ///
    /// ```
    /// let builder = threadkit::Watchdog::builder().clock(threadkit::ManualClock::new());
    /// ```
    pub fn clock(mut self, clock: impl Clock) -> WatchdogBuilder {
        self.clock = Box::new(clock);
        self
    }

    /// Starts the watchdog and its monitor thread. Errors if the OS cannot
    /// start a thread.
    ///
    /// ```
    /// let watchdog = threadkit::Watchdog::builder().spawn()?;
    /// assert!(watchdog.is_running());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn(self) -> io::Result<Watchdog> {
        let interval = self.interval;
        let thread_name = self.thread_name.clone();
        let watchdog = self.manual();
        let shared = StdArc::clone(&watchdog.shared);
        let monitor = ThreadBuilder::new()
            .name(thread_name)
            .spawn(move || shared.monitor(interval))?;
        *watchdog.monitor.lock() = Some(monitor);
        Ok(watchdog)
    }

    /// A watchdog without a monitor thread: nothing is checked until
    /// [`check_now`](Watchdog::check_now) is called. For deterministic tests
    /// and loom models, or an application that checks from its own loop.
    ///
    /// ```
    /// let watchdog = threadkit::Watchdog::builder().manual();
    /// assert!(watchdog.check_now().stalled.is_empty());
    /// ```
    pub fn manual(self) -> Watchdog {
        Watchdog {
            shared: StdArc::new(Shared {
                clock: self.clock,
                callbacks: self.callbacks,
                services: Lock::new(Vec::new()),
                checking: RLock::new(()),
                stop: Event::new(),
            }),
            monitor: Lock::new(None),
        }
    }
}

impl Heartbeat {
    /// Says the service is alive. One relaxed atomic store: no lock, no clock
    /// read, cheap enough for every iteration of a hot loop.
    ///
    /// Every beat that returns before a check starts is seen by that check; a
    /// beat orders nothing else (it is not a synchronisation point).
    ///
    /// ```
    /// let watchdog = threadkit::Watchdog::builder().manual();
    /// let heartbeat = watchdog.register("loop", std::time::Duration::from_secs(1));
    /// for _ in 0..1000 {
    ///     heartbeat.beat();
    /// }
    /// ```
    #[inline]
    pub fn beat(&self) {
        self.service.beat();
    }

    /// The service's name.
    ///
    /// ```
    /// let watchdog = threadkit::Watchdog::builder().manual();
    /// assert_eq!(watchdog.register("db", std::time::Duration::from_secs(1)).name(), "db");
    /// ```
    pub fn name(&self) -> &str {
        self.service.name()
    }

    /// The service's timeout.
    ///
    /// ```
    /// use std::time::Duration;
    /// let watchdog = threadkit::Watchdog::builder().manual();
    /// assert_eq!(watchdog.register("db", Duration::from_secs(1)).timeout(), Duration::from_secs(1));
    /// ```
    pub fn timeout(&self) -> Duration {
        self.service.timeout()
    }
}

impl Drop for Heartbeat {
    /// Unregisters the service: no report names it after this returns (it
    /// waits for a check in progress, unless called from that check's callback).
    fn drop(&mut self) {
        let _checking = self.shared.checking.lock();
        self.service.unregister();
        self.shared
            .services
            .lock()
            .retain(|service| !StdArc::ptr_eq(service, &self.service));
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Shared {
    fn register(self: &StdArc<Self>, name: &str, timeout: Duration) -> Heartbeat {
        let service = StdArc::new(Service::new(name, timeout, self.clock.now()));
        self.services.lock().push(StdArc::clone(&service));
        Heartbeat {
            service,
            shared: StdArc::clone(self),
        }
    }

    /// The registered services, cloned out so no callback runs under the registry lock.
    fn services(&self) -> Vec<StdArc<Service>> {
        self.services.lock().clone()
    }

    fn status(&self) -> Vec<ServiceStatus> {
        let _checking = self.checking.lock();
        let now = self.clock.now();
        let services = self.services();
        services
            .iter()
            .filter_map(|service| Some(service.look(now, false)?.0))
            .collect()
    }

    fn check(&self) -> CheckReport {
        let _checking = self.checking.lock();
        let now = self.clock.now();
        let mut report = CheckReport::default();
        for service in self.services() {
            // Looked at and reported one by one: a callback that unregisters
            // a later service keeps it out of this check.
            let Some((status, transition)) = service.look(now, true) else {
                continue;
            };
            match transition {
                Some(Transition::Stalled) => self.report_status(&status, true),
                Some(Transition::Recovered) => self.report_status(&status, false),
                None => {}
            }
            if status.stalled {
                report.stalled.push(status);
            } else if transition == Some(Transition::Recovered) {
                report.recovered.push(status);
            }
        }
        #[cfg(all(feature = "deadlock-detection", not(loom)))]
        for deadlock in crate::facade::detect_deadlocks() {
            match &self.callbacks.on_deadlock {
                Some(callback) => self.guarded("on_deadlock callback", || callback(&deadlock)),
                None => log::error!("{deadlock}"),
            }
            report.deadlocks.push(deadlock);
        }
        report
    }

    /// Reports a stall (or a recovery) to its callback, or to `log`.
    fn report_status(&self, status: &ServiceStatus, stalled: bool) {
        let (callback, which) = if stalled {
            (&self.callbacks.on_stall, "on_stall callback")
        } else {
            (&self.callbacks.on_recover, "on_recover callback")
        };
        match callback {
            Some(callback) => self.guarded(which, || callback(status)),
            None if stalled => log::warn!(
                "service `{}` stalled: no heartbeat for {:?} (timeout {:?})",
                status.name,
                status.since_last_beat,
                status.timeout
            ),
            None => log::info!("service `{}` recovered: heartbeats resumed", status.name),
        }
    }

    /// Reports a panic to `on_panic`, or to `log`.
    fn report_panic(&self, report: &PanicReport) {
        match &self.callbacks.on_panic {
            Some(on_panic) => {
                if let Err(payload) = catch_unwind(AssertUnwindSafe(|| on_panic(report))) {
                    log::error!(
                        "watchdog on_panic callback panicked ({}) while reporting: {report}",
                        panic_message(&*payload)
                    );
                }
            }
            None => log::warn!("{report}"),
        }
    }

    /// Runs a callback; a panic in it is reported, not propagated.
    fn guarded(&self, which: &str, callback: impl FnOnce()) {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(callback)) {
            self.report_panic(&PanicReport {
                name: format!("watchdog {which}"),
                message: panic_message(&*payload),
            });
        }
    }

    /// The monitor thread: a check every `interval` until stopped.
    fn monitor(&self, interval: Duration) {
        while !self.stop.wait_for(interval) {
            // Callbacks are guarded one by one; this catches a panicking clock.
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| self.check())) {
                log::error!("watchdog check panicked: {}", panic_message(&*payload));
            }
        }
    }
}

/// A panic payload as text.
fn panic_message(payload: &(dyn core::any::Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "<a panic payload that is not a string>".to_owned()
    }
}

impl fmt::Debug for Watchdog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watchdog")
            .field("services", &self.status())
            .field("running", &self.is_running())
            .finish()
    }
}

impl fmt::Debug for WatchdogBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchdogBuilder")
            .field("interval", &self.interval)
            .field("thread_name", &self.thread_name)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Heartbeat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Heartbeat")
            .field("name", &self.name())
            .field("timeout", &self.timeout())
            .finish()
    }
}
