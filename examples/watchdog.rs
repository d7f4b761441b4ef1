//! The Flask + SQLAlchemy guide's `WatchDog` and `ThreadWithExceptionHandling`, with
//! threadkit's `Watchdog`: services beat in their loops, the monitor reports the one
//! that stops responding (once) and its recovery (once), and a monitored thread's
//! panic is reported with its message while its `join()` still returns the panic.
//!
//! Run with `cargo run --release --example watchdog`. It takes a fraction of a second:
//! the monitor checks every 20 ms and the mailer's timeout is 100 ms. The story is
//! ordered by the watchdog's own callbacks, which the main thread waits for through a
//! channel, and by `Event`s; the services' 2 ms sleeps are simulated work, never
//! synchronisation. (`examples/deadlock.rs` tells the guide's deadlock.)

use std::panic;
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::Duration;

use threadkit::{Event, PanicReport, ServiceStatus, Watchdog};

/// How often the monitor checks.
const INTERVAL: Duration = Duration::from_millis(20);
/// The mailer is stalled after 100 ms without a beat.
const MAILER_TIMEOUT: Duration = Duration::from_millis(100);
/// The other services are not expected to stall: a generous timeout, so that a loaded
/// machine does not make them look stuck.
const TIMEOUT: Duration = Duration::from_millis(500);
/// How long the main thread waits for a report that must come (a few intervals do).
const DEADLINE: Duration = Duration::from_secs(10);

/// What a callback saw, sent to the main thread.
#[derive(Debug)]
enum Report {
    Stalled(ServiceStatus),
    Recovered(ServiceStatus),
    Panicked(PanicReport),
}

fn main() -> std::io::Result<()> {
    println!("A watchdog that checks every {INTERVAL:?}\n");
    // Each callback prints what it saw, then tells the main thread, which waits for
    // the report it expects next.
    let (reports, received) = mpsc::channel();
    let (on_stall, on_recover, on_panic) = (reports.clone(), reports.clone(), reports);
    let watchdog = Watchdog::builder()
        .interval(INTERVAL)
        .thread_name("watchdog")
        .on_stall(move |status| {
            println!(
                "   [watchdog] on_stall: `{}` silent for more than its {} ms timeout",
                status.name,
                status.timeout.as_millis()
            );
            let _ = on_stall.send(Report::Stalled(status.clone()));
        })
        .on_recover(move |status| {
            println!("   [watchdog] on_recover: `{}` beats again", status.name);
            let _ = on_recover.send(Report::Recovered(status.clone()));
        })
        .on_panic(move |report| {
            println!("   [watchdog] on_panic: {report}");
            let _ = on_panic.send(Report::Panicked(report.clone()));
        })
        .spawn()?;

    // 1. Three services, each a thread that beats once per round of its loop. The
    //    mailer's SMTP server stops answering when `smtp_hangs` is set, until
    //    `smtp_answers` is.
    println!("1. Three services start, each beating in its loop");
    let quit = Event::new();
    let (smtp_hangs, smtp_answers, mailer_hung) = (Event::new(), Event::new(), Event::new());
    let services = [
        ("http", TIMEOUT),
        ("db", TIMEOUT),
        ("mailer", MAILER_TIMEOUT),
    ];
    thread::scope(|s| {
        for (name, timeout) in services {
            let heartbeat = watchdog.register(name, timeout);
            let (quit, smtp_hangs, smtp_answers, mailer_hung) =
                (&quit, &smtp_hangs, &smtp_answers, &mailer_hung);
            thread::Builder::new()
                .name(name.to_owned())
                .spawn_scoped(s, move || {
                    // One round of the service's work: 2 ms, or until told to quit.
                    while !quit.wait_for(Duration::from_millis(2)) {
                        heartbeat.beat();
                        if name == "mailer" && smtp_hangs.is_set() && !smtp_answers.is_set() {
                            mailer_hung.set();
                            smtp_answers.wait(); // stuck: no beat meanwhile
                        }
                    }
                    // Dropping the heartbeat unregisters the service.
                })
                .expect("spawn a service");
        }
        let names: Vec<String> = watchdog.status().into_iter().map(|s| s.name).collect();
        println!("   → Watchdog::register(name, timeout) per service: {names:?}\n");

        // 2. The mailer hangs; the monitor reports it once, and its recovery once.
        println!("2. The mailer's SMTP server stops answering");
        smtp_hangs.set();
        mailer_hung.wait();
        let stalled = expect(
            &received,
            "the mailer's stall",
            |report| matches!(report, Report::Stalled(status) if status.name == "mailer"),
        );
        assert!(matches!(stalled, Report::Stalled(ref s) if s.since_last_beat > MAILER_TIMEOUT));
        let snapshot: Vec<String> = watchdog
            .status()
            .into_iter()
            .map(|s| format!("{} {}", s.name, if s.stalled { "STALLED" } else { "ok" }))
            .collect();
        println!("   → Watchdog::status() meanwhile: {}", snapshot.join(", "));
        // Checks by hand, as the monitor's own: still stalled, not reported again.
        for _ in 0..2 {
            let report = watchdog.check_now();
            let names: Vec<&str> = report.stalled.iter().map(|s| s.name.as_str()).collect();
            assert_eq!(names, ["mailer"]);
        }
        assert!(received.try_recv().is_err(), "on_stall fired again");
        println!(
            "   → Watchdog::check_now() twice more: CheckReport::stalled is [\"mailer\"] \
             each time, and on_stall did not fire again"
        );
        smtp_answers.set();
        expect(
            &received,
            "the mailer's recovery",
            |report| matches!(report, Report::Recovered(status) if status.name == "mailer"),
        );
        println!("   → the SMTP server answers, the mailer beats again: on_recover fired once\n");

        // 3. The guide's ThreadWithExceptionHandling: a monitored thread panics.
        println!("3. A monitored import thread panics on a bad row");
        let quiet = panic::take_hook();
        panic::set_hook(Box::new(|_| {})); // the watchdog reports it; keep the output clean
        let importer = watchdog
            .spawn_monitored("importer", TIMEOUT, |heartbeat| {
                for row in 1.. {
                    heartbeat.beat();
                    if row == 17 {
                        panic!("bad row {row} in orders.csv");
                    }
                }
            })
            .expect("spawn the importer");
        // on_panic runs on the importer's thread before its panic resumes: reported
        // by the time join() returns.
        let joined = importer.join();
        panic::set_hook(quiet);
        let reported = expect(
            &received,
            "the importer's panic",
            |report| matches!(report, Report::Panicked(panic) if panic.name == "importer"),
        );
        let Report::Panicked(reported) = reported else {
            unreachable!()
        };
        let payload = joined.expect_err("the importer panicked");
        let message = payload
            .downcast_ref::<String>()
            .expect("a formatted panic message");
        assert_eq!(*message, reported.message);
        println!("   → JoinHandle::join() still returns the panic: Err({message:?})\n");

        // 4. Shutdown: the services quit, their heartbeats drop, the monitor stops.
        println!("4. Shutdown");
        quit.set();
    });
    let left = watchdog.status();
    assert!(left.is_empty());
    println!("   → the services exited, their Heartbeats dropped: status() is {left:?}");
    watchdog.stop();
    assert!(!watchdog.is_running());
    println!("   → Watchdog::stop(): the monitor thread stopped and was joined");

    // Nothing else was reported: no other service stalled.
    let unexpected: Vec<Report> = received.try_iter().collect();
    assert!(unexpected.is_empty(), "unexpected reports: {unexpected:?}");
    Ok(())
}

/// Waits for the report that `wanted` picks; any other report fails the example.
fn expect(received: &Receiver<Report>, what: &str, wanted: impl Fn(&Report) -> bool) -> Report {
    let report = received
        .recv_timeout(DEADLINE)
        .unwrap_or_else(|_| panic!("no report of {what} within {DEADLINE:?}"));
    assert!(wanted(&report), "expected {what}, got {report:?}");
    report
}
