//! `Watchdog`: stalls and recoveries (once each), heartbeats that unregister on
//! drop, status snapshots and check reports, monitored threads that panic,
//! callbacks that panic or call back into the watchdog, a prompt `stop`, and the
//! default reports to `log`.
//!
//! Most tests drive a [`Watchdog::builder`]`().manual()` watchdog (no monitor
//! thread) with a [`ManualClock`] and [`Watchdog::check_now`]: no sleeping, every
//! check where the test wants it. The tests of the monitor thread itself wait for
//! its reports through channels, with generous timeouts.

mod common;

use std::panic::resume_unwind;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Mutex, Once, OnceLock, Weak};
use std::thread;
use std::time::{Duration, Instant};

use common::{
    HANDSHAKE, LONG, assert_debug_shows, assert_prompt, assert_quiet, bounded, panic_of, recv,
    throw, timed, yield_a_while,
};
use threadkit::{
    CheckReport, Clock, Event, Heartbeat, ManualClock, PanicReport, ServiceStatus, Watchdog,
    WatchdogBuilder,
};

/// The timeout of most services here.
const TIMEOUT: Duration = Duration::from_secs(10);

/// A check interval short enough that a monitor thread checks all the time.
const BUSY: Duration = Duration::from_millis(1);

/// An interval no test waits out.
const HOUR: Duration = Duration::from_secs(3600);

/// The name `on_stall`'s panics are reported under.
const ON_STALL: &str = "watchdog on_stall callback";

/// What a callback reported.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Report {
    Stall(ServiceStatus),
    Recover(ServiceStatus),
    Panic(PanicReport),
}

impl Report {
    /// The service or thread it names.
    fn name(&self) -> &str {
        match self {
            Report::Stall(status) | Report::Recover(status) => &status.name,
            Report::Panic(report) => &report.name,
        }
    }
}

/// A stall report, as `on_stall` gets it.
fn stall(name: &str, since_secs: u64, timeout: Duration) -> Report {
    Report::Stall(status(name, secs(since_secs), timeout, true))
}

/// A recovery report, as `on_recover` gets it (a recovery is seen at the
/// check that takes the beat, so it is zero seconds old).
fn recover(name: &str, timeout: Duration) -> Report {
    Report::Recover(status(name, Duration::ZERO, timeout, false))
}

/// A panic report, as `on_panic` gets it.
fn panicked(name: &str, message: &str) -> Report {
    Report::Panic(PanicReport {
        name: name.to_owned(),
        message: message.to_owned(),
    })
}

fn status(
    name: &str,
    since_last_beat: Duration,
    timeout: Duration,
    stalled: bool,
) -> ServiceStatus {
    ServiceStatus {
        name: name.to_owned(),
        since_last_beat,
        timeout,
        stalled,
    }
}

fn secs(secs: u64) -> Duration {
    Duration::from_secs(secs)
}

/// `builder` with all three callbacks sending their reports down the returned channel.
fn reporting(builder: WatchdogBuilder) -> (WatchdogBuilder, Receiver<Report>) {
    let (tx, rx) = mpsc::channel();
    let (stalls, recoveries, panics) = (tx.clone(), tx.clone(), tx);
    let builder = builder
        .on_stall(move |status| {
            let _ = stalls.send(Report::Stall(status.clone()));
        })
        .on_recover(move |status| {
            let _ = recoveries.send(Report::Recover(status.clone()));
        })
        .on_panic(move |report| {
            let _ = panics.send(Report::Panic(report.clone()));
        });
    (builder, rx)
}

/// A manual watchdog on `clock` that reports down the returned channel.
fn manual(clock: &ManualClock) -> (Watchdog, Receiver<Report>) {
    let (builder, rx) = reporting(Watchdog::builder().clock(clock.clone()));
    (builder.manual(), rx)
}

/// A watchdog on `clock` whose monitor thread checks every millisecond and
/// reports down the returned channel.
fn busy_monitor(clock: &ManualClock) -> (Watchdog, Receiver<Report>) {
    let (builder, rx) = reporting(Watchdog::builder().clock(clock.clone()).interval(BUSY));
    (builder.spawn().expect("spawn the monitor"), rx)
}

/// Every report sent so far.
fn drain(rx: &Receiver<Report>) -> Vec<Report> {
    rx.try_iter().collect()
}

/// The names of `statuses`, in order.
fn names(statuses: &[ServiceStatus]) -> Vec<&str> {
    statuses.iter().map(|status| status.name.as_str()).collect()
}

/// Receives `n` reports from a monitor, sorted by name (one check reports its
/// services in order, but two beats may be seen by two checks).
fn recv_sorted(rx: &Receiver<Report>, n: usize) -> Vec<Report> {
    let mut reports: Vec<Report> = (0..n).map(|_| recv(rx)).collect();
    reports.sort_by(|a, b| a.name().cmp(b.name()));
    reports
}

/// Runs `f` on a thread of its own and fails the test if it has not returned
/// within half of [`LONG`] (the thread is left behind): for calls that must
/// not wait out a long interval, nor deadlock.
#[track_caller]
fn returns_promptly<R: Send + 'static>(what: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    let runner = thread::spawn(move || {
        let result = timed(f);
        let _ = tx.send(());
        result
    });
    match rx.recv_timeout(LONG / 2) {
        Ok(()) => {
            let (result, elapsed) = runner.join().expect("the call panicked");
            assert_prompt(elapsed, LONG);
            result
        }
        Err(RecvTimeoutError::Disconnected) => match runner.join() {
            Ok(_) => unreachable!("the call returned without saying so"),
            Err(payload) => resume_unwind(payload),
        },
        Err(RecvTimeoutError::Timeout) => panic!("{what} did not return within {:?}", LONG / 2),
    }
}

/// Drops its value at the end of a passing test, and leaks it from a failing
/// one: dropping a `Heartbeat` or a `Watchdog` waits for a check in progress,
/// and in a failing test that check may be deadlocked (a hang, not a failure).
struct LeakOnPanic<T>(Option<T>);

impl<T> LeakOnPanic<T> {
    fn new(value: T) -> LeakOnPanic<T> {
        LeakOnPanic(Some(value))
    }
}

impl<T> std::ops::Deref for LeakOnPanic<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.0.as_ref().expect("present until dropped")
    }
}

impl<T> Drop for LeakOnPanic<T> {
    fn drop(&mut self) {
        if let Some(value) = self.0.take() {
            if thread::panicking() {
                std::mem::forget(value);
            }
        }
    }
}

// The public types are shareable as documented.
const _: () = {
    const fn send_sync_static<T: Send + Sync + 'static>() {}
    send_sync_static::<Heartbeat>();
    send_sync_static::<Watchdog>();
    send_sync_static::<WatchdogBuilder>();
    send_sync_static::<ManualClock>();
    send_sync_static::<CheckReport>();
    send_sync_static::<ServiceStatus>();
    send_sync_static::<PanicReport>();
};

// ---------------------------------------------------------------------------
// Stalls and recoveries, checked by hand

#[test]
fn stall_and_recovery_fire_once_each_over_several_cycles() {
    let clock = ManualClock::new();
    let (watchdog, rx) = manual(&clock);
    let heartbeat = watchdog.register("db", TIMEOUT);
    for cycle in 0..3 {
        clock.advance(secs(11));
        let report = watchdog.check_now();
        assert_eq!(
            report.stalled,
            [status("db", secs(11), TIMEOUT, true)],
            "cycle {cycle}"
        );
        assert_eq!(drain(&rx), [stall("db", 11, TIMEOUT)], "cycle {cycle}");

        // Still stalled: every check lists it, none reports it again.
        for more in 1..4 {
            clock.advance(secs(5));
            let report = watchdog.check_now();
            assert_eq!(
                report.stalled,
                [status("db", secs(11 + 5 * more), TIMEOUT, true)]
            );
            assert!(report.recovered.is_empty());
        }
        assert_eq!(drain(&rx), [], "cycle {cycle}: a stall reported twice");

        heartbeat.beat();
        heartbeat.beat();
        let report = watchdog.check_now();
        assert!(report.stalled.is_empty(), "cycle {cycle}");
        assert_eq!(
            report.recovered,
            [status("db", Duration::ZERO, TIMEOUT, false)]
        );
        assert_eq!(drain(&rx), [recover("db", TIMEOUT)], "cycle {cycle}");

        // Healthy: nothing more to report.
        heartbeat.beat();
        assert_eq!(watchdog.check_now(), CheckReport::default());
        assert_eq!(watchdog.check_now(), CheckReport::default());
        assert_eq!(drain(&rx), [], "cycle {cycle}: a recovery reported twice");
    }
}

#[test]
fn a_service_stalls_only_once_its_timeout_is_exceeded() {
    let clock = ManualClock::new();
    let (watchdog, rx) = manual(&clock);
    let _heartbeat = watchdog.register("edge", TIMEOUT);
    clock.advance(TIMEOUT);
    assert_eq!(watchdog.status(), [status("edge", TIMEOUT, TIMEOUT, false)]);
    assert!(
        watchdog.check_now().stalled.is_empty(),
        "stalled at exactly its timeout"
    );
    assert_eq!(drain(&rx), []);

    clock.advance(Duration::from_nanos(1));
    let late = TIMEOUT + Duration::from_nanos(1);
    assert_eq!(watchdog.status(), [status("edge", late, TIMEOUT, true)]);
    assert_eq!(
        watchdog.check_now().stalled,
        [status("edge", late, TIMEOUT, true)]
    );
    assert_eq!(
        drain(&rx),
        [Report::Stall(status("edge", late, TIMEOUT, true))]
    );
}

#[test]
fn registering_counts_as_the_first_beat() {
    let clock = ManualClock::new();
    let (watchdog, rx) = manual(&clock);
    let _early = watchdog.register("early", TIMEOUT);
    clock.advance(HOUR); // long before `late` exists
    let _late = watchdog.register("late", TIMEOUT);
    assert_eq!(
        watchdog.check_now().stalled,
        [status("early", HOUR, TIMEOUT, true)]
    );
    assert_eq!(
        watchdog.status()[1],
        status("late", Duration::ZERO, TIMEOUT, false)
    );

    clock.advance(TIMEOUT);
    assert_eq!(names(&watchdog.check_now().stalled), ["early"]);
    clock.advance(Duration::from_nanos(1));
    assert_eq!(names(&watchdog.check_now().stalled), ["early", "late"]);
    assert_eq!(
        drain(&rx),
        [
            stall("early", 3600, TIMEOUT),
            Report::Stall(status(
                "late",
                TIMEOUT + Duration::from_nanos(1),
                TIMEOUT,
                true
            )),
        ]
    );
}

#[test]
fn a_beat_counts_at_the_first_check_that_sees_it() {
    let clock = ManualClock::new();
    let (watchdog, rx) = manual(&clock);
    let heartbeat = watchdog.register("job", TIMEOUT);
    clock.advance(secs(8));
    heartbeat.beat();
    clock.advance(secs(8)); // 8 s after the beat, 16 s after registering
    assert_eq!(watchdog.check_now(), CheckReport::default());
    assert_eq!(
        watchdog.status(),
        [status("job", Duration::ZERO, TIMEOUT, false)]
    );

    clock.advance(TIMEOUT); // measured from that check, not from the beat
    assert!(watchdog.check_now().stalled.is_empty());
    clock.advance(Duration::from_nanos(1));
    assert_eq!(names(&watchdog.check_now().stalled), ["job"]);
    assert_eq!(drain(&rx).len(), 1);
}

#[test]
fn a_beat_from_another_thread_is_seen_by_the_next_check() {
    let clock = ManualClock::new();
    let (watchdog, rx) = manual(&clock);
    let heartbeat = Arc::new(watchdog.register("remote", TIMEOUT));
    clock.advance(secs(11));
    watchdog.check_now();
    let beating = Arc::clone(&heartbeat);
    thread::spawn(move || beating.beat()).join().unwrap();
    assert_eq!(
        watchdog.check_now().recovered,
        [status("remote", Duration::ZERO, TIMEOUT, false)]
    );
    assert_eq!(
        drain(&rx),
        [stall("remote", 11, TIMEOUT), recover("remote", TIMEOUT)]
    );
}

#[test]
fn a_check_report_lists_every_stalled_service_and_the_recovered_ones() {
    let clock = ManualClock::new();
    let (watchdog, rx) = manual(&clock);
    let a = watchdog.register("a", secs(10));
    let _b = watchdog.register("b", secs(20));
    let c = watchdog.register("c", secs(30));

    clock.advance(secs(15));
    let report = watchdog.check_now();
    assert_eq!(report.stalled, [status("a", secs(15), secs(10), true)]);
    assert_eq!(report.recovered, []);
    assert_eq!(drain(&rx), [stall("a", 15, secs(10))]);

    clock.advance(secs(10));
    let report = watchdog.check_now();
    assert_eq!(
        report.stalled,
        [
            status("a", secs(25), secs(10), true), // listed again, not reported again
            status("b", secs(25), secs(20), true),
        ]
    );
    assert_eq!(report.recovered, []);
    assert_eq!(drain(&rx), [stall("b", 25, secs(20))]);

    a.beat();
    c.beat(); // was never stalled: neither list names it
    let report = watchdog.check_now();
    assert_eq!(report.stalled, [status("b", secs(25), secs(20), true)]);
    assert_eq!(
        report.recovered,
        [status("a", Duration::ZERO, secs(10), false)]
    );
    assert_eq!(drain(&rx), [recover("a", secs(10))]);
    assert_eq!(watchdog.check_now().recovered, []);
}

#[test]
fn status_is_a_snapshot_in_registration_order_and_fires_nothing() {
    let clock = ManualClock::new();
    let (watchdog, rx) = manual(&clock);
    assert_eq!(watchdog.status(), []);
    let c = watchdog.register("c", secs(5));
    clock.advance(secs(5));
    let a = watchdog.register("a", secs(20));
    clock.advance(secs(5));
    let b = watchdog.register("b", secs(1));
    assert_eq!(
        watchdog.status(),
        [
            status("c", secs(10), secs(5), true),
            status("a", secs(5), secs(20), false),
            status("b", Duration::ZERO, secs(1), false),
        ]
    );
    assert_eq!(drain(&rx), [], "status() fired a callback");
    // The stall status() saw is still reported, once, by a check.
    assert_eq!(names(&watchdog.check_now().stalled), ["c"]);
    assert_eq!(drain(&rx), [stall("c", 10, secs(5))]);

    drop(a);
    let a = watchdog.register("a", secs(20)); // registered again: now last
    assert_eq!(names(&watchdog.status()), ["c", "b", "a"]);

    // A beat that status() takes still ends the stall at the next check.
    c.beat();
    assert_eq!(
        watchdog.status()[0],
        status("c", Duration::ZERO, secs(5), false)
    );
    assert_eq!(drain(&rx), []);
    assert_eq!(names(&watchdog.check_now().recovered), ["c"]);
    assert_eq!(drain(&rx), [recover("c", secs(5))]);
    drop((a, b));
}

#[test]
fn names_need_not_be_unique() {
    let clock = ManualClock::new();
    let (watchdog, rx) = manual(&clock);
    let first = watchdog.register("twin", TIMEOUT);
    clock.advance(secs(6));
    let second = watchdog.register("twin", TIMEOUT);
    clock.advance(secs(6));
    assert_eq!(names(&watchdog.check_now().stalled), ["twin"]);
    drop(first);
    assert_eq!(watchdog.status(), [status("twin", secs(6), TIMEOUT, false)]);
    drop(second);
    assert_eq!(watchdog.status(), []);
    assert_eq!(drain(&rx), [stall("twin", 12, TIMEOUT)]);
}

// ---------------------------------------------------------------------------
// Unregistering

#[test]
fn a_dropped_heartbeat_is_never_reported_again() {
    let clock = ManualClock::new();
    let (watchdog, rx) = manual(&clock);
    let gone = watchdog.register("gone", TIMEOUT);
    let _kept = watchdog.register("kept", TIMEOUT);
    clock.advance(secs(11));
    watchdog.check_now();
    assert_eq!(
        drain(&rx),
        [stall("gone", 11, TIMEOUT), stall("kept", 11, TIMEOUT)]
    );

    gone.beat(); // a beat that no check took
    drop(gone);
    assert_eq!(names(&watchdog.status()), ["kept"]);
    assert_eq!(names(&watchdog.check_now().stalled), ["kept"]);
    assert_eq!(drain(&rx), [], "a dropped service recovered");
    clock.advance(HOUR);
    assert_eq!(names(&watchdog.check_now().stalled), ["kept"]);

    // Dropped while healthy, it never stalls either.
    let quiet = watchdog.register("quiet", TIMEOUT);
    drop(quiet);
    clock.advance(HOUR);
    assert_eq!(names(&watchdog.check_now().stalled), ["kept"]);
    assert_eq!(drain(&rx), []);
}

#[test]
fn a_heartbeat_dropped_on_another_thread_unregisters() {
    let clock = ManualClock::new();
    let (watchdog, rx) = manual(&clock);
    let remote = watchdog.register("remote", TIMEOUT);
    let _local = watchdog.register("local", TIMEOUT);
    thread::spawn(move || {
        remote.beat();
        drop(remote);
    })
    .join()
    .unwrap();
    assert_eq!(names(&watchdog.status()), ["local"]);
    clock.advance(HOUR);
    assert_eq!(names(&watchdog.check_now().stalled), ["local"]);
    assert_eq!(drain(&rx), [stall("local", 3600, TIMEOUT)]);
}

#[test]
fn a_heartbeat_outlives_its_watchdog() {
    let clock = ManualClock::new();
    let (watchdog, rx) = manual(&clock);
    let heartbeat = watchdog.register("orphan", TIMEOUT);
    drop(watchdog);
    heartbeat.beat();
    assert_eq!(heartbeat.name(), "orphan");
    assert_eq!(heartbeat.timeout(), TIMEOUT);
    assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)));
    drop(heartbeat); // the last link: the callbacks go with it
    assert!(matches!(rx.try_recv(), Err(TryRecvError::Disconnected)));
}

/// Dropping a `Heartbeat` waits for a check in progress: the check reports the
/// service (it was registered when the check started) before the drop returns,
/// and nothing names it after.
#[test]
fn dropping_a_heartbeat_waits_for_a_check_in_progress() {
    bounded(|| {
        #[derive(Debug, PartialEq, Eq)]
        enum Step {
            Stalled(String),
            Dropped,
        }
        let clock = ManualClock::new();
        let (tx, rx) = mpsc::channel();
        let release = Arc::new(Event::new());
        let watchdog = {
            let (tx, release) = (tx.clone(), Arc::clone(&release));
            Arc::new(
                Watchdog::builder()
                    .clock(clock.clone())
                    .on_stall(move |status| {
                        tx.send(Step::Stalled(status.name.clone())).unwrap();
                        if status.name == "first" {
                            assert!(release.wait_for(HANDSHAKE), "never released");
                        }
                    })
                    .manual(),
            )
        };
        let _first = watchdog.register("first", TIMEOUT);
        let second = watchdog.register("second", TIMEOUT);
        clock.advance(secs(11));
        let checker = {
            let watchdog = Arc::clone(&watchdog);
            thread::spawn(move || watchdog.check_now())
        };
        assert_eq!(recv(&rx), Step::Stalled("first".to_owned()));
        let dropper = thread::spawn(move || {
            drop(second);
            tx.send(Step::Dropped).unwrap();
        });
        assert_quiet(&rx, "the drop returned during a check");
        release.set();
        assert_eq!(recv(&rx), Step::Stalled("second".to_owned()));
        assert_eq!(recv(&rx), Step::Dropped);
        assert_eq!(names(&checker.join().unwrap().stalled), ["first", "second"]);
        dropper.join().unwrap();
        assert_eq!(names(&watchdog.status()), ["first"]);
        assert_eq!(names(&watchdog.check_now().stalled), ["first"]);
    });
}

// ---------------------------------------------------------------------------
// Callbacks that call back into the watchdog

/// A slot a callback finds its own watchdog in (weak: the watchdog owns the callback).
type Slot = Arc<OnceLock<Weak<Watchdog>>>;

fn watchdog_in(slot: &Slot) -> Arc<Watchdog> {
    slot.get()
        .and_then(Weak::upgrade)
        .expect("the watchdog is in its slot")
}

#[test]
fn a_callback_may_call_status_check_now_and_register() {
    bounded(|| {
        let clock = ManualClock::new();
        let slot = Slot::default();
        let (tx, rx) = mpsc::channel();
        let watchdog = {
            let slot = Arc::clone(&slot);
            Arc::new(
                Watchdog::builder()
                    .clock(clock.clone())
                    .on_stall(move |stalled| {
                        let watchdog = watchdog_in(&slot);
                        if stalled.name != "outer" {
                            tx.send(format!("stall {}", stalled.name)).unwrap();
                            return;
                        }
                        tx.send(format!("status {:?}", names(&watchdog.status())))
                            .unwrap();
                        let nested = watchdog.check_now();
                        tx.send(format!("nested {:?}", names(&nested.stalled)))
                            .unwrap();
                        let late = watchdog.register("late", TIMEOUT);
                        tx.send(format!("status {:?}", names(&watchdog.status())))
                            .unwrap();
                        drop(late);
                    })
                    .manual(),
            )
        };
        slot.set(Arc::downgrade(&watchdog)).unwrap();
        let _outer = watchdog.register("outer", TIMEOUT);
        let _inner = watchdog.register("inner", TIMEOUT);
        clock.advance(secs(11));
        let report = watchdog.check_now();
        assert_eq!(names(&report.stalled), ["outer", "inner"]);
        let steps: Vec<String> = rx.try_iter().collect();
        assert_eq!(
            steps,
            [
                r#"status ["outer", "inner"]"#,
                // The nested check reports `inner`, so the outer one does not again.
                "stall inner",
                r#"nested ["outer", "inner"]"#,
                r#"status ["outer", "inner", "late"]"#,
            ]
        );
        assert_eq!(names(&watchdog.status()), ["outer", "inner"]);
    });
}

#[test]
fn a_callback_that_drops_a_later_heartbeat_keeps_it_out_of_the_check() {
    bounded(|| {
        let clock = ManualClock::new();
        let doomed: Arc<Mutex<Option<Heartbeat>>> = Arc::default();
        let (tx, rx) = mpsc::channel();
        let watchdog = {
            let doomed = Arc::clone(&doomed);
            Watchdog::builder()
                .clock(clock.clone())
                .on_stall(move |status| {
                    tx.send(status.name.clone()).unwrap();
                    drop(doomed.lock().unwrap().take());
                })
                .manual()
        };
        let _first = watchdog.register("first", TIMEOUT);
        *doomed.lock().unwrap() = Some(watchdog.register("doomed", TIMEOUT));
        clock.advance(secs(11));
        assert_eq!(names(&watchdog.check_now().stalled), ["first"]);
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), ["first"]);
        assert_eq!(names(&watchdog.status()), ["first"]);
    });
}

#[test]
fn a_callback_on_the_monitor_thread_may_call_back_into_the_watchdog() {
    let clock = ManualClock::new();
    let slot = Slot::default();
    let (tx, rx) = mpsc::channel();
    let watchdog = {
        let slot = Arc::clone(&slot);
        Arc::new(
            Watchdog::builder()
                .clock(clock.clone())
                .interval(BUSY)
                .on_stall(move |_| {
                    let watchdog = watchdog_in(&slot);
                    let status = watchdog.status();
                    let nested = watchdog.check_now();
                    drop(watchdog.register("late", TIMEOUT));
                    tx.send((names(&status).join(","), nested)).unwrap();
                })
                .spawn()
                .unwrap(),
        )
    };
    slot.set(Arc::downgrade(&watchdog)).unwrap();
    let watchdog = LeakOnPanic::new(watchdog);
    let _heartbeat = LeakOnPanic::new(watchdog.register("svc", TIMEOUT));
    clock.advance(secs(11));
    let (status, nested) = recv(&rx);
    assert_eq!(status, "svc");
    assert_eq!(nested.stalled, [status_of("svc", secs(11))]);
    let stopping = Arc::clone(&watchdog);
    returns_promptly("stop", move || stopping.stop());
}

fn status_of(name: &str, since: Duration) -> ServiceStatus {
    status(name, since, TIMEOUT, true)
}

// ---------------------------------------------------------------------------
// Panics: callbacks and monitored threads

#[test]
fn a_panicking_on_stall_is_reported_and_the_monitor_goes_on() {
    let clock = ManualClock::new();
    let (tx, rx) = mpsc::channel();
    let (stalls, recoveries) = (tx.clone(), tx.clone());
    let watchdog = Watchdog::builder()
        .clock(clock.clone())
        .interval(BUSY)
        .on_stall(move |status| {
            stalls.send(Report::Stall(status.clone())).unwrap();
            throw("on_stall gave up");
        })
        .on_recover(move |status| recoveries.send(Report::Recover(status.clone())).unwrap())
        .on_panic(move |report| tx.send(Report::Panic(report.clone())).unwrap())
        .spawn()
        .unwrap();
    let a = watchdog.register("a", TIMEOUT);
    let b = watchdog.register("b", TIMEOUT);
    for cycle in 0..3 {
        clock.advance(secs(11));
        // One check finds both: a panic for `a` does not skip `b`.
        let reports: Vec<Report> = (0..4).map(|_| recv(&rx)).collect();
        assert_eq!(
            reports,
            [
                stall("a", 11, TIMEOUT),
                panicked(ON_STALL, "on_stall gave up"),
                stall("b", 11, TIMEOUT),
                panicked(ON_STALL, "on_stall gave up"),
            ],
            "cycle {cycle}"
        );
        a.beat();
        b.beat();
        assert_eq!(
            recv_sorted(&rx, 2),
            [recover("a", TIMEOUT), recover("b", TIMEOUT)],
            "cycle {cycle}: the monitor stopped after a callback panicked"
        );
    }
    assert!(watchdog.is_running());
    returns_promptly("stop", move || watchdog.stop());
}

#[test]
fn a_panicking_on_panic_does_not_stop_the_monitor() {
    let clock = ManualClock::new();
    let (tx, rx) = mpsc::channel();
    let (stalls, recoveries) = (tx.clone(), tx.clone());
    let watchdog = Watchdog::builder()
        .clock(clock.clone())
        .interval(BUSY)
        .on_stall(move |status| {
            stalls.send(Report::Stall(status.clone())).unwrap();
            throw("on_stall gave up");
        })
        .on_recover(move |status| {
            recoveries.send(Report::Recover(status.clone())).unwrap();
            throw("on_recover gave up");
        })
        .on_panic(move |report| {
            tx.send(Report::Panic(report.clone())).unwrap();
            throw("on_panic gave up too");
        })
        .spawn()
        .unwrap();
    let heartbeat = watchdog.register("svc", TIMEOUT);
    for cycle in 0..2 {
        clock.advance(secs(11));
        assert_eq!(recv(&rx), stall("svc", 11, TIMEOUT), "cycle {cycle}");
        assert_eq!(recv(&rx), panicked(ON_STALL, "on_stall gave up"));
        heartbeat.beat();
        assert_eq!(recv(&rx), recover("svc", TIMEOUT), "cycle {cycle}");
        assert_eq!(
            recv(&rx),
            panicked("watchdog on_recover callback", "on_recover gave up")
        );
    }
    assert!(watchdog.is_running());

    // A monitored thread's panic still reaches its join, whatever on_panic does.
    let worker = watchdog
        .spawn_monitored("worker", TIMEOUT, |_| -> u32 { throw("worker failed") })
        .unwrap();
    let payload = worker.join().unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"worker failed"));
    assert_eq!(recv(&rx), panicked("worker", "worker failed"));
    returns_promptly("stop", move || watchdog.stop());
}

#[test]
fn a_monitored_thread_has_its_name_and_heartbeat_and_returns_its_value() {
    let clock = ManualClock::new();
    let (watchdog, rx) = manual(&clock);
    let (tx, started) = mpsc::channel();
    let finish = Arc::new(Event::new());
    let worker = {
        let finish = Arc::clone(&finish);
        watchdog
            .spawn_monitored("worker-7", secs(5), move |heartbeat| {
                heartbeat.beat();
                let me = thread::current().name().map(str::to_owned);
                tx.send((me, heartbeat.name().to_owned(), heartbeat.timeout()))
                    .unwrap();
                assert!(finish.wait_for(HANDSHAKE), "never told to finish");
                heartbeat.beat();
                42
            })
            .unwrap()
    };
    assert_eq!(worker.thread().name(), Some("worker-7"));
    let (name, heartbeat_name, timeout) = recv(&started);
    assert_eq!(name.as_deref(), Some("worker-7"));
    assert_eq!((heartbeat_name.as_str(), timeout), ("worker-7", secs(5)));
    assert_eq!(
        watchdog.status(),
        [status("worker-7", Duration::ZERO, secs(5), false)]
    );
    finish.set();
    assert_eq!(worker.join().unwrap(), 42);
    assert_eq!(watchdog.status(), [], "the heartbeat outlived its thread");
    clock.advance(HOUR);
    assert_eq!(watchdog.check_now(), CheckReport::default());
    assert_eq!(drain(&rx), []);
}

#[test]
fn a_monitored_thread_that_stops_beating_stalls() {
    let clock = ManualClock::new();
    let (watchdog, rx) = manual(&clock);
    let finish = Arc::new(Event::new());
    let worker = {
        let finish = Arc::clone(&finish);
        watchdog
            .spawn_monitored("stuck", TIMEOUT, move |_| finish.wait_for(HANDSHAKE))
            .unwrap()
    };
    clock.advance(secs(11));
    assert_eq!(names(&watchdog.check_now().stalled), ["stuck"]);
    assert_eq!(drain(&rx), [stall("stuck", 11, TIMEOUT)]);
    finish.set();
    assert!(worker.join().unwrap());
    assert_eq!(watchdog.status(), []);
}

#[test]
fn a_monitored_thread_panicking_with_a_str_is_reported_and_joined() {
    let clock = ManualClock::new();
    let (watchdog, rx) = manual(&clock);
    let worker = watchdog
        .spawn_monitored("importer", TIMEOUT, |heartbeat| -> u32 {
            heartbeat.beat();
            throw("bad row 17")
        })
        .unwrap();
    let payload = worker.join().unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"bad row 17"));
    // Reported before join returned; a dead thread is a panic, not a stall.
    assert_eq!(drain(&rx), [panicked("importer", "bad row 17")]);
    assert_eq!(watchdog.status(), []);
    clock.advance(HOUR);
    assert_eq!(watchdog.check_now(), CheckReport::default());
    assert_eq!(drain(&rx), []);
}

#[test]
fn a_monitored_thread_panicking_with_a_string_is_reported_and_joined() {
    let clock = ManualClock::new();
    let (watchdog, rx) = manual(&clock);
    let row = 17;
    let worker = watchdog
        .spawn_monitored("importer", TIMEOUT, move |_| -> u32 {
            resume_unwind(Box::new(format!("bad row {row}")))
        })
        .unwrap();
    let payload = worker.join().unwrap_err();
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some("bad row 17")
    );
    assert_eq!(drain(&rx), [panicked("importer", "bad row 17")]);
}

#[test]
fn a_monitored_thread_panicking_with_panic_macro_is_reported() {
    let (builder, rx) = reporting(Watchdog::builder());
    let watchdog = builder.manual();
    let worker = watchdog
        .spawn_monitored("loud", TIMEOUT, |_| -> u32 {
            let row = std::hint::black_box(17);
            panic!("expected test panic: row {row} went wrong")
        })
        .unwrap();
    let payload = worker.join().unwrap_err();
    let message = "expected test panic: row 17 went wrong";
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some(message)
    );
    assert_eq!(drain(&rx), [panicked("loud", message)]);
}

#[test]
fn a_monitored_thread_panicking_with_another_payload_is_reported_and_joined() {
    let clock = ManualClock::new();
    let (watchdog, rx) = manual(&clock);
    let worker = watchdog
        .spawn_monitored("odd", TIMEOUT, |_| -> u32 { resume_unwind(Box::new(7_u8)) })
        .unwrap();
    let payload = worker.join().unwrap_err();
    assert_eq!(payload.downcast_ref::<u8>(), Some(&7));
    match drain(&rx).as_slice() {
        [Report::Panic(report)] => {
            assert_eq!(report.name, "odd");
            assert!(!report.message.is_empty());
        }
        other => panic!("expected one panic report, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// The monitor thread

#[test]
fn the_monitor_reports_a_stall_and_a_recovery_in_real_time() {
    let (builder, rx) = reporting(Watchdog::builder().interval(Duration::from_millis(20)));
    let watchdog = builder.spawn().unwrap();
    assert!(watchdog.is_running());
    let timeout = Duration::from_millis(50);
    let heartbeat = watchdog.register("sleepy", timeout);
    let registered = Instant::now();
    match recv(&rx) {
        Report::Stall(status) => {
            assert_eq!(status.name, "sleepy");
            assert!(status.stalled);
            assert!(status.since_last_beat > timeout, "{status:?}");
            assert!(
                registered.elapsed() > timeout,
                "reported before its timeout"
            );
        }
        other => panic!("expected a stall, got {other:?}"),
    }
    heartbeat.beat();
    match recv(&rx) {
        Report::Recover(status) => {
            assert_eq!(status.name, "sleepy");
            assert!(!status.stalled);
        }
        other => panic!("expected a recovery, got {other:?}"),
    }
    returns_promptly("stop", move || watchdog.stop());
}

#[test]
fn a_stall_is_reported_once_by_the_monitor_and_check_now_together() {
    let clock = ManualClock::new();
    let (watchdog, rx) = busy_monitor(&clock);
    let heartbeat = watchdog.register("shared", TIMEOUT);
    clock.advance(secs(11));
    for _ in 0..20 {
        assert_eq!(names(&watchdog.check_now().stalled), ["shared"]);
    }
    assert_eq!(recv(&rx), stall("shared", 11, TIMEOUT));
    yield_a_while(|| assert_eq!(watchdog.check_now().stalled.len(), 1));
    assert_quiet(&rx, "a second stall report");
    heartbeat.beat();
    for _ in 0..20 {
        assert_eq!(watchdog.check_now().stalled, []);
    }
    assert_eq!(recv(&rx), recover("shared", TIMEOUT));
    yield_a_while(|| assert_eq!(watchdog.check_now().stalled.len(), 0));
    assert_quiet(&rx, "a second recovery report");
}

#[test]
fn stop_is_prompt_and_idempotent() {
    let clock = ManualClock::new();
    let watchdog = Arc::new(
        Watchdog::builder()
            .clock(clock.clone())
            .interval(HOUR)
            .spawn()
            .unwrap(),
    );
    assert!(watchdog.is_running());
    let heartbeat = watchdog.register("svc", TIMEOUT);
    for _ in 0..2 {
        let stopping = Arc::clone(&watchdog);
        returns_promptly("stop", move || stopping.stop());
        assert!(!watchdog.is_running());
    }
    // Heartbeats and check_now go on without the monitor.
    clock.advance(secs(11));
    assert_eq!(names(&watchdog.check_now().stalled), ["svc"]);
    heartbeat.beat();
    assert_eq!(names(&watchdog.check_now().recovered), ["svc"]);
    returns_promptly("drop", move || drop(watchdog));
}

#[test]
fn the_monitor_thread_has_the_name_it_was_given() {
    for (name, expected) in [(None, "threadkit-watchdog"), (Some("health"), "health")] {
        let clock = ManualClock::new();
        let (tx, rx) = mpsc::channel();
        let mut builder = Watchdog::builder()
            .clock(clock.clone())
            .interval(BUSY)
            .on_stall(move |_| {
                tx.send(thread::current().name().map(str::to_owned))
                    .unwrap();
            });
        if let Some(name) = name {
            builder = builder.thread_name(name);
        }
        let watchdog = builder.spawn().unwrap();
        let _heartbeat = watchdog.register("svc", TIMEOUT);
        clock.advance(secs(11));
        assert_eq!(recv(&rx).as_deref(), Some(expected));
    }
}

#[test]
fn dropping_the_watchdog_stops_its_monitor_promptly() {
    let (tx, rx) = mpsc::channel::<()>();
    let watchdog = Watchdog::builder()
        .interval(HOUR)
        .on_stall(move |_| {
            let _ = tx.send(());
        })
        .spawn()
        .unwrap();
    returns_promptly("drop", move || drop(watchdog));
    // The monitor thread held the callbacks too: they are gone, so it exited.
    assert!(matches!(rx.try_recv(), Err(TryRecvError::Disconnected)));
}

#[test]
fn a_dropped_watchdog_checks_no_more_while_heartbeats_live() {
    let clock = ManualClock::new();
    let (watchdog, rx) = busy_monitor(&clock);
    let heartbeat = watchdog.register("svc", TIMEOUT);
    returns_promptly("drop", move || drop(watchdog));
    clock.advance(HOUR);
    assert_quiet(&rx, "a check after the watchdog was dropped");
    drop(heartbeat);
    assert!(matches!(rx.try_recv(), Err(TryRecvError::Disconnected)));
}

#[test]
fn stop_from_a_callback_on_the_monitor_thread() {
    let clock = ManualClock::new();
    let slot = Slot::default();
    let (tx, rx) = mpsc::channel();
    let recoveries = tx.clone();
    let watchdog = {
        let slot = Arc::clone(&slot);
        Arc::new(
            Watchdog::builder()
                .clock(clock.clone())
                .interval(BUSY)
                .on_stall(move |_| {
                    let watchdog = watchdog_in(&slot);
                    watchdog.stop();
                    tx.send(format!("stopped, running: {}", watchdog.is_running()))
                        .unwrap();
                })
                .on_recover(move |_| recoveries.send("recovered".to_owned()).unwrap())
                .spawn()
                .unwrap(),
        )
    };
    slot.set(Arc::downgrade(&watchdog)).unwrap();
    let watchdog = LeakOnPanic::new(watchdog);
    let heartbeat = LeakOnPanic::new(watchdog.register("svc", TIMEOUT));
    clock.advance(secs(11));
    assert_eq!(recv(&rx), "stopped, running: false");
    heartbeat.beat();
    assert_quiet(&rx, "the monitor checked after stopping");
    let stopping = Arc::clone(&watchdog);
    returns_promptly("stop", move || stopping.stop());
    assert!(!watchdog.is_running());
}

/// `stop()` from a callback of a `check_now` on another thread, while the
/// monitor waits for the check lock that check holds, returns: were it to
/// join the monitor, the monitor would wait for the check, which would wait
/// for `stop`.
#[test]
fn stop_from_a_check_now_callback_while_the_monitor_waits_to_check() {
    let clock = ManualClock::new();
    let slot = Slot::default();
    let (tx, rx) = mpsc::channel();
    let interval = Duration::from_millis(100);
    let watchdog = {
        let slot = Arc::clone(&slot);
        Arc::new(
            Watchdog::builder()
                .clock(clock.clone())
                .interval(interval)
                .thread_name("monitor")
                .on_stall(move |_| {
                    if thread::current().name() == Some("monitor") {
                        return; // this round's stall went to the monitor (see below)
                    }
                    // Hold the check lock past the monitor's next check: it
                    // blocks on the lock (likely; the bug needs it).
                    let start = Instant::now();
                    while start.elapsed() < 4 * interval {
                        thread::yield_now();
                    }
                    watchdog_in(&slot).stop();
                    tx.send(()).unwrap();
                })
                .spawn()
                .unwrap(),
        )
    };
    slot.set(Arc::downgrade(&watchdog)).unwrap();
    let heartbeat = watchdog.register("svc", TIMEOUT);
    let watchdog = LeakOnPanic::new(watchdog);
    let heartbeat = LeakOnPanic::new(heartbeat);
    for _round in 0..10 {
        clock.advance(secs(11));
        let checking = Arc::clone(&watchdog);
        let stalled = returns_promptly("check_now calling stop", move || {
            checking.check_now().stalled.len()
        });
        assert_eq!(stalled, 1);
        if rx.try_recv().is_ok() {
            assert!(!watchdog.is_running());
            return;
        }
        // The monitor saw the stall first; end it and try again.
        heartbeat.beat();
        watchdog.check_now();
    }
    panic!("the monitor saw every stall first");
}

#[test]
fn a_panicking_clock_does_not_stop_the_monitor() {
    /// A manual clock that panics once when armed.
    struct Flaky {
        clock: ManualClock,
        armed: AtomicBool,
    }
    impl Clock for Flaky {
        fn now(&self) -> Instant {
            if self.armed.swap(false, Ordering::Relaxed) {
                throw("the clock broke");
            }
            self.clock.now()
        }
    }
    let clock = ManualClock::new();
    let flaky = Arc::new(Flaky {
        clock: clock.clone(),
        armed: AtomicBool::new(false),
    });
    /// Shares the flaky clock with the test.
    struct Shared(Arc<Flaky>);
    impl Clock for Shared {
        fn now(&self) -> Instant {
            self.0.now()
        }
    }
    let (builder, rx) = reporting(
        Watchdog::builder()
            .clock(Shared(Arc::clone(&flaky)))
            .interval(BUSY),
    );
    let watchdog = builder.spawn().unwrap();
    let _heartbeat = watchdog.register("svc", TIMEOUT);
    flaky.armed.store(true, Ordering::Relaxed);
    common::spin_until("the monitor to read the broken clock", || {
        !flaky.armed.load(Ordering::Relaxed)
    });
    clock.advance(secs(11));
    assert_eq!(recv(&rx), stall("svc", 11, TIMEOUT));
    assert!(watchdog.is_running());
}

// ---------------------------------------------------------------------------
// Reports to `log` without callbacks

/// Records every log record (the test binary's logger).
struct Capture(Mutex<Vec<(log::Level, String)>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        let line = record.args().to_string();
        self.0.lock().unwrap().push((record.level(), line));
    }
    fn flush(&self) {}
}

static CAPTURE: Capture = Capture(Mutex::new(Vec::new()));

/// The records logged so far that contain `needle` (installs the logger).
fn logged(needle: &str) -> Vec<(log::Level, String)> {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        log::set_logger(&CAPTURE).expect("no other logger in this binary");
        log::set_max_level(log::LevelFilter::Trace);
    });
    let records = CAPTURE.0.lock().unwrap();
    records
        .iter()
        .filter(|(_, line)| line.contains(needle))
        .cloned()
        .collect()
}

#[test]
fn without_callbacks_reports_go_to_log() {
    logged(""); // install the logger first
    let clock = ManualClock::new();
    let watchdog = Watchdog::builder().clock(clock.clone()).manual();
    let heartbeat = watchdog.register("log-test-service", TIMEOUT);
    clock.advance(secs(11));
    assert_eq!(watchdog.check_now().stalled.len(), 1);
    watchdog.check_now();
    let records = logged("log-test-service");
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].0, log::Level::Warn);
    assert!(records[0].1.contains("stalled"), "{records:?}");

    heartbeat.beat();
    watchdog.check_now();
    let records = logged("log-test-service");
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[1].0, log::Level::Info);
    assert!(records[1].1.contains("recovered"), "{records:?}");

    let worker = watchdog
        .spawn_monitored("log-test-thread", TIMEOUT, |_| -> u32 {
            throw("log-test-thread's failure")
        })
        .unwrap();
    assert!(worker.join().is_err());
    let records = logged("log-test-thread's failure");
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].0, log::Level::Warn);
    assert!(records[0].1.contains("log-test-thread"), "{records:?}");
}

#[test]
fn a_panicking_callback_without_on_panic_is_logged() {
    logged("");
    let clock = ManualClock::new();
    let watchdog = Watchdog::builder()
        .clock(clock.clone())
        .on_stall(|_| throw("log-test on_stall failure"))
        .manual();
    let _heartbeat = watchdog.register("svc", TIMEOUT);
    clock.advance(secs(11));
    assert_eq!(watchdog.check_now().stalled.len(), 1);
    let records = logged("log-test on_stall failure");
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].0, log::Level::Warn);
    assert!(records[0].1.contains("on_stall"), "{records:?}");
}

#[test]
fn a_panicking_on_panic_is_logged_with_the_report() {
    logged("");
    let clock = ManualClock::new();
    let watchdog = Watchdog::builder()
        .clock(clock.clone())
        .on_stall(|_| throw("log-test first failure"))
        .on_panic(|_| throw("log-test second failure"))
        .manual();
    let _heartbeat = watchdog.register("svc", TIMEOUT);
    clock.advance(secs(11));
    assert_eq!(watchdog.check_now().stalled.len(), 1);
    let records = logged("log-test second failure");
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].0, log::Level::Error);
    assert!(
        records[0].1.contains("log-test first failure"),
        "{records:?}"
    );
}

// ---------------------------------------------------------------------------
// Odds and ends

#[test]
fn a_zero_interval_panics_naming_the_rule() {
    let message = panic_of("interval(0)", || {
        Watchdog::builder().interval(Duration::ZERO)
    });
    assert!(message.contains("interval must be non-zero"), "{message}");
}

#[test]
fn debug_shows_the_services_and_the_report_displays() {
    let clock = ManualClock::new();
    let watchdog = Watchdog::builder().clock(clock.clone()).manual();
    let heartbeat = watchdog.register("debugged", TIMEOUT);
    assert_debug_shows(&watchdog, &["Watchdog", "debugged", "running: false"]);
    assert_debug_shows(&heartbeat, &["Heartbeat", "debugged", "10s"]);
    assert_debug_shows(&Watchdog::builder().thread_name("named"), &["named"]);
    clock.advance(secs(3));
    assert_debug_shows(&clock, &["3s"]);
    let report = PanicReport {
        name: "worker".to_owned(),
        message: "oops".to_owned(),
    };
    assert_eq!(report.to_string(), "worker panicked: oops");
}
