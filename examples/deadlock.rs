//! The seeds' deadlock, and threadkit's three answers to it.
//!
//! The Flask + SQLAlchemy guide's example: thread 1 takes `lock1` then `lock2`,
//! thread 2 takes `lock2` then `lock1`; if each gets its first lock before the
//! other's second, both wait for ever. Python offers nothing to find or prevent
//! it. This example shows, side by side:
//!
//! 1. **Detection** (cargo feature `deadlock-detection`): the threads really
//!    deadlock, and a `Watchdog` reports which threads wait for which locks.
//! 2. **Lock-order checking** (cargo feature `lock-order`): the two orders
//!    are tried one after the other, so nothing deadlocks, and still the
//!    second order panics before it blocks, naming both call sites.
//! 3. **`lock_all`**: take both locks at once, in whatever order; it never
//!    deadlocks, whatever order the other thread uses.
//! 4. **The guide's fix**: one global lock order, everywhere.
//!
//! Run with
//! `cargo run --release --features deadlock-detection --example deadlock`
//! and `cargo run --release --features lock-order --example deadlock`
//! (each part needing a feature says how to enable it when it is off). With
//! both features on, part 1 is skipped: the checker stops the inversion
//! before a deadlock can form.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use threadkit::{Lock, lock_all};

fn main() {
    let lock1 = Arc::new(Lock::new("accounts"));
    let lock2 = Arc::new(Lock::new("ledger"));
    detection(&lock1, &lock2);
    lock_order();
    all_at_once();
    consistent_order();
}

/// 1. The deadlock happens; the watchdog finds it within a few intervals.
#[cfg(all(feature = "deadlock-detection", not(feature = "lock-order")))]
fn detection(lock1: &Arc<Lock<&'static str>>, lock2: &Arc<Lock<&'static str>>) {
    use std::sync::mpsc;
    use std::time::Duration;
    use threadkit::{Barrier, Watchdog};

    println!("1. Detection: two threads take two locks in opposite orders");
    let (found, reports) = mpsc::channel();
    let _watchdog = Watchdog::builder()
        .interval(Duration::from_millis(50))
        .on_deadlock(move |report| {
            let _ = found.send(report.clone());
        })
        .spawn()
        .expect("start the watchdog");

    let name_of = |addr: usize| {
        if addr == std::ptr::from_ref(&**lock1).addr() {
            "lock1"
        } else if addr == std::ptr::from_ref(&**lock2).addr() {
            "lock2"
        } else {
            "another lock"
        }
    };
    // Both threads hold their first lock before either asks for its second
    // (the guide uses `time.sleep(0.5)`; a barrier makes it certain).
    let both_hold_one = Arc::new(Barrier::new(2));
    for (name, first, second) in [
        ("thread-1", Arc::clone(lock1), Arc::clone(lock2)),
        ("thread-2", Arc::clone(lock2), Arc::clone(lock1)),
    ] {
        let both_hold_one = Arc::clone(&both_hold_one);
        thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let _first = first.lock();
                println!("   {name}: got {}", *_first);
                both_hold_one.wait().expect("not broken");
                println!("   {name}: waiting for the other lock...");
                let _second = second.lock(); // never returns
            })
            .expect("spawn");
    }

    let report = reports
        .recv_timeout(Duration::from_secs(30))
        .expect("the watchdog reports the deadlock");
    println!("   → Watchdog (feature deadlock-detection) reports:");
    for thread in &report.threads {
        let name = thread.name.as_deref().unwrap_or("<unnamed>");
        let waits = thread.waiting_for.map_or("?", name_of);
        let holds: Vec<_> = thread.holding.iter().map(|&a| name_of(a)).collect();
        println!("     {name} waits for {waits} while holding {holds:?}");
    }
    println!(
        "     (the report also carries each thread's backtrace: {} lines for {})",
        report.threads[0].backtrace.lines().count(),
        report.threads[0].name.as_deref().unwrap_or("<unnamed>")
    );
    println!(
        "   The two threads stay blocked for good: detection finds a deadlock, it cannot undo it.\n"
    );
}

#[cfg(not(all(feature = "deadlock-detection", not(feature = "lock-order"))))]
fn detection(_: &Arc<Lock<&'static str>>, _: &Arc<Lock<&'static str>>) {
    if cfg!(feature = "lock-order") {
        println!("1. Detection: skipped; with `lock-order` on, the inversion panics (part 2)");
        println!("   before the threads can deadlock.\n");
    } else {
        println!("1. Detection: skipped; run with `--features deadlock-detection` to watch the");
        println!("   deadlock happen and the Watchdog report it.\n");
    }
}

/// 2. Both orders, one after the other: no deadlock in this run, yet the
///    second order is reported the first time it is tried.
#[cfg(feature = "lock-order")]
fn lock_order() {
    println!("2. Lock-order checking: the two orders, tried one after the other");
    let (lock1, lock2) = (Arc::new(Lock::new(0)), Arc::new(Lock::new(0)));
    let (a1, a2) = (Arc::clone(&lock1), Arc::clone(&lock2));
    thread::spawn(move || {
        let _first = a1.lock();
        let _second = a2.lock(); // records lock1 -> lock2
    })
    .join()
    .expect("the first order is fine");
    println!("   thread-1 took lock1 then lock2, and finished");
    let (b1, b2) = (Arc::clone(&lock1), Arc::clone(&lock2));
    // The panic is the point here: keep the default hook from printing it too.
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let inverted = thread::spawn(move || {
        let _second = b2.lock();
        let _first = b1.lock(); // lock2 -> lock1: panics before blocking
    })
    .join();
    std::panic::set_hook(quiet);
    let payload = inverted.expect_err("the inversion is caught");
    let message = payload
        .downcast_ref::<String>()
        .map_or("<no message>", String::as_str);
    println!("   thread-2 took lock2, then asked for lock1 → panicked:");
    println!("     {message}");
    println!("   Nothing deadlocked in this run; a test suite run with the feature catches it.\n");
}

#[cfg(not(feature = "lock-order"))]
fn lock_order() {
    println!("2. Lock-order checking: skipped; run with `--features lock-order` to see the");
    println!("   inverted order reported in a run that does not deadlock.\n");
}

/// 3. `lock_all`: each thread names both locks, in its own order.
fn all_at_once() {
    println!("3. lock_all: both locks at once, in opposite orders on two threads");
    let (lock1, lock2) = (Lock::new(0u64), Lock::new(0u64));
    thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..10_000 {
                let (mut from, mut to) = lock_all((&lock1, &lock2));
                *from += 1;
                *to += 1;
            }
        });
        s.spawn(|| {
            for _ in 0..10_000 {
                // The opposite order, and plain locks: still no deadlock.
                let mut to = lock2.lock();
                if let Some(mut from) = lock1.try_lock() {
                    *from += 1;
                    *to += 1;
                    continue;
                }
                drop(to);
                let (mut to, mut from) = lock_all((&lock2, &lock1));
                *from += 1;
                *to += 1;
            }
        });
    });
    println!(
        "   → lock_all((&lock1, &lock2)) against lock_all((&lock2, &lock1)): balances {} and {}, no deadlock\n",
        lock1.into_inner(),
        lock2.into_inner()
    );
}

/// 4. The guide's fix: every thread takes `lock1` before `lock2`.
fn consistent_order() {
    println!("4. The guide's fix: one lock order everywhere (lock1, then lock2)");
    let (lock1, lock2) = (Lock::new(0u64), Lock::new(0u64));
    let transfers = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                for _ in 0..10_000 {
                    let mut from = lock1.lock();
                    let mut to = lock2.lock();
                    *from += 1;
                    *to += 1;
                    transfers.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    println!(
        "   → 2 threads × 10000 transfers: {} done, balances {} and {}, no deadlock",
        transfers.into_inner(),
        lock1.into_inner(),
        lock2.into_inner()
    );
}
