//! Deadlock detection (cargo feature `deadlock-detection`): the seeds'
//! deadlock, two threads taking two `Lock`s in opposite orders, is reported by
//! the `Watchdog` within a few intervals, naming both threads and both locks.
//!
//! Run with `cargo test --features deadlock-detection --test deadlock_detection`.
// With `lock-order` on too, the checker panics before the deadlock can happen.
#![cfg(all(feature = "deadlock-detection", not(feature = "lock-order"), not(loom)))]

mod common;

use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use common::scaled;
use threadkit::{Barrier, DeadlockReport, Lock, RLock, Watchdog};

/// Generous: the monitor checks every 20 ms; a loaded machine may be slow.
const REPORT_WITHIN: Duration = Duration::from_secs(20);

/// Every deadlock report so far, with a condvar to wait for more.
type Reports = (Mutex<Vec<DeadlockReport>>, Condvar);

/// The one watchdog of this test binary. The detector reports each deadlock
/// once, to whichever check finds it first, so tests running in parallel
/// share one monitor (as an application has one) and pick their reports by
/// thread name.
fn reports() -> &'static Reports {
    static REPORTS: OnceLock<(Watchdog, &'static Reports)> = OnceLock::new();
    REPORTS
        .get_or_init(|| {
            let reports: &'static Reports = Box::leak(Box::default());
            let watchdog = Watchdog::builder()
                .interval(Duration::from_millis(20))
                .on_deadlock(move |report| {
                    reports
                        .0
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(report.clone());
                    reports.1.notify_all();
                })
                .spawn()
                .expect("spawn the watchdog");
            (watchdog, reports)
        })
        .1
}

/// Whether `report` names a thread called `name`.
fn names(report: &DeadlockReport, name: &str) -> bool {
    report
        .threads
        .iter()
        .any(|t| t.name.as_deref() == Some(name))
}

/// Waits for the report of a deadlock that involves the thread `name`.
fn report_naming(name: &str) -> DeadlockReport {
    let (reports, more) = reports();
    let deadline = Instant::now() + REPORT_WITHIN;
    let mut reports = reports.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        if let Some(report) = reports.iter().find(|r| names(r, name)) {
            return report.clone();
        }
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no deadlock reported naming `{name}`");
        reports = more
            .wait_timeout(reports, left)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
}

fn addr<T>(lock: &T) -> usize {
    std::ptr::from_ref(lock).addr()
}

/// Runs `first` (which takes a lock and keeps it) then `second` (which takes
/// another) on a named thread, with a barrier between that both threads pass
/// holding their first lock: a certain deadlock. The threads stay blocked for
/// the life of the test process.
fn take_in_order<A, B>(name: &str, barrier: Arc<Barrier>, first: A, second: B)
where
    A: FnOnce() + Send + 'static,
    B: FnOnce() + Send + 'static,
{
    thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            first();
            barrier.wait().expect("the barrier is never broken");
            second(); // blocks forever
            unreachable!("a deadlocked thread was woken");
        })
        .expect("spawn");
}

#[test]
fn the_seeds_two_lock_deadlock_is_reported_naming_both_threads_and_locks() {
    static ACCOUNTS: Lock<u32> = Lock::new(0);
    static LEDGER: Lock<u32> = Lock::new(0);
    reports();
    let barrier = Arc::new(Barrier::new(2));
    take_in_order(
        "transfer-a-to-b",
        Arc::clone(&barrier),
        || {
            std::mem::forget(ACCOUNTS.lock()); // held for good
        },
        || drop(LEDGER.lock()),
    );
    take_in_order(
        "transfer-b-to-a",
        barrier,
        || {
            std::mem::forget(LEDGER.lock());
        },
        || drop(ACCOUNTS.lock()),
    );
    let report = report_naming("transfer-a-to-b");
    let mut names: Vec<_> = report
        .threads
        .iter()
        .map(|t| t.name.clone().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["transfer-a-to-b", "transfer-b-to-a"], "{report}");
    let (accounts, ledger) = (addr(&ACCOUNTS), addr(&LEDGER));
    for thread in &report.threads {
        let (holds, wants) = if thread.name.as_deref() == Some("transfer-a-to-b") {
            (accounts, ledger)
        } else {
            (ledger, accounts)
        };
        assert_eq!(thread.holding, [holds], "{report}");
        assert_eq!(thread.waiting_for, Some(wants), "{report}");
        assert!(!thread.backtrace.is_empty());
    }
    let text = report.to_string();
    assert!(text.contains("deadlock among 2 threads"), "{text}");
    assert!(text.contains("`transfer-a-to-b`"), "{text}");
    assert!(text.contains("held by"), "{text}");
}

#[test]
fn an_rlock_deadlock_is_reported_too() {
    static FIRST: RLock<()> = RLock::new(());
    static SECOND: RLock<()> = RLock::new(());
    reports();
    let barrier = Arc::new(Barrier::new(2));
    take_in_order(
        "rlock-one",
        Arc::clone(&barrier),
        || {
            // Two holds: re-entry is not a second resource.
            std::mem::forget(FIRST.lock());
            std::mem::forget(FIRST.lock());
        },
        || drop(SECOND.lock()),
    );
    take_in_order(
        "rlock-two",
        barrier,
        || {
            std::mem::forget(SECOND.lock());
        },
        || drop(FIRST.lock()),
    );
    let report = report_naming("rlock-one");
    assert!(names(&report, "rlock-two"), "{report}");
    assert_eq!(report.threads.len(), 2, "{report}");
    for thread in &report.threads {
        assert_eq!(thread.holding.len(), 1, "one resource per RLock: {report}");
    }
}

#[test]
fn threads_that_only_wait_in_turn_are_not_reported() {
    const ROUNDS: u64 = scaled(20_000) as u64;
    let (reports, _) = reports();
    let a = Arc::new(Lock::new(0u64));
    let b = Arc::new(Lock::new(0u64));
    // Contended, but always nested a -> b: no cycle, however long they wait.
    let workers: Vec<_> = (0..2)
        .map(|i| {
            let (a, b) = (Arc::clone(&a), Arc::clone(&b));
            thread::Builder::new()
                .name(format!("consistent-{i}"))
                .spawn(move || {
                    for _ in 0..ROUNDS {
                        let mut ga = a.lock();
                        let mut gb = b.lock();
                        *ga += 1;
                        *gb += 1;
                    }
                })
                .unwrap()
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    assert_eq!(*a.lock(), 2 * ROUNDS);
    let reports = reports.lock().unwrap_or_else(PoisonError::into_inner);
    assert!(
        !reports
            .iter()
            .any(|r| names(r, "consistent-0") || names(r, "consistent-1")),
        "a false deadlock report"
    );
}
