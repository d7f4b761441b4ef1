//! A guided tour of threadkit: every primitive in a small real scenario.
//!
//! Run with `cargo run --release --example tour`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use threadkit::{Barrier, BoundedSemaphore, Condition, Event, Lock, RLock, Semaphore};

const THREADS: usize = 4;
const INCREMENTS: usize = 200_000;

fn main() {
    println!("threadkit tour: {THREADS} threads on {} cores\n", cores());
    counter_race();
    reentrant_ledger();
    producer_consumer();
    resource_pool();
    phases();
    println!("\nTour complete.");
}

fn cores() -> usize {
    thread::available_parallelism().map_or(1, |n| n.get())
}

/// Scene 1. Lock: the classic shared-counter race, then fixed.
fn counter_race() {
    println!("1. Lock: {THREADS} threads each add 1 to a shared counter {INCREMENTS} times");
    // Racy: load and store are separate steps, so increments interleave and get lost.
    let racy = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for _ in 0..INCREMENTS {
                    let seen = racy.load(Ordering::Relaxed);
                    racy.store(seen + 1, Ordering::Relaxed);
                }
            });
        }
    });
    let expected = THREADS * INCREMENTS;
    let got = racy.load(Ordering::Relaxed);
    println!(
        "   without a lock: {got} of {expected} ({} updates lost)",
        expected - got
    );

    let counter = Lock::new(0usize);
    let start = Instant::now();
    thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for _ in 0..INCREMENTS {
                    *counter.lock() += 1; // read-modify-write under the lock
                }
            });
        }
    });
    let total = counter.into_inner();
    assert_eq!(total, expected);
    println!(
        "   with Lock:      {total} of {expected} (none lost, {:.1} ms)\n",
        start.elapsed().as_secs_f64() * 1e3
    );
}

/// Scene 2. RLock: a method holding the lock calls another that takes it again.
fn reentrant_ledger() {
    use std::cell::RefCell;
    println!("2. RLock: a transfer holds the ledger while its helpers lock it again");
    let ledger = RLock::new(RefCell::new(Vec::new()));
    let record = |entry: &str| {
        let entries = ledger.lock(); // re-enters when called inside `transfer`
        entries.borrow_mut().push(entry.to_owned());
        ledger.hold_count()
    };
    let outer = ledger.lock();
    let depth_debit = record("debit alice 10");
    let depth_credit = record("credit bob 10");
    drop(outer);
    println!(
        "   holds while recording: {depth_debit} and {depth_credit}; after the transfer: {}",
        ledger.hold_count()
    );
    println!("   ledger: {:?}\n", ledger.lock().borrow());
}

/// Scene 3. Condition: a bounded buffer with `not_empty` and `not_full` on one Lock
/// (the design of Python's `queue.Queue`).
fn producer_consumer() {
    const CAPACITY: usize = 2;
    const ITEMS: usize = 6;
    println!("3. Condition: a producer and a consumer share a buffer of {CAPACITY}");
    let buffer = Lock::new(VecDeque::new());
    let (not_empty, not_full) = (Condition::new(), Condition::new());
    let waits = AtomicUsize::new(0);
    thread::scope(|s| {
        s.spawn(|| {
            for item in 1..=ITEMS {
                let mut queue = buffer.lock();
                if queue.len() == CAPACITY {
                    waits.fetch_add(1, Ordering::Relaxed);
                }
                not_full.wait_while(&mut queue, |q| q.len() == CAPACITY);
                queue.push_back(item);
                not_empty.notify_one();
            }
        });
        let mut received = Vec::new();
        while received.len() < ITEMS {
            let mut queue = buffer.lock();
            not_empty.wait_while(&mut queue, |q| q.is_empty());
            received.push(queue.pop_front().expect("not empty"));
            not_full.notify_one();
        }
        println!(
            "   consumer received {received:?} in order; the producer found the buffer full {} time(s)",
            waits.load(Ordering::Relaxed)
        );
    });
    let (lock, cond) = (Lock::new(()), Condition::new());
    let mut guard = lock.lock();
    let result = cond.wait_for(&mut guard, Duration::from_millis(20));
    println!(
        "   a wait nobody notifies, with a 20 ms timeout: timed_out() = {}\n",
        result.timed_out()
    );
}

/// Scene 4. Semaphore + Event: a pool of 2 database connections shared by 5 workers,
/// who all start on one signal.
fn resource_pool() {
    const WORKERS: usize = 5;
    const CONNECTIONS: usize = 2;
    println!("4. Semaphore + Event: {WORKERS} workers share a pool of {CONNECTIONS} connections");
    let pool = BoundedSemaphore::new(CONNECTIONS);
    let start = Event::new();
    let in_use = AtomicUsize::new(0);
    let peak = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..WORKERS {
            s.spawn(|| {
                start.wait();
                let _connection = pool.acquire();
                let now = in_use.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                thread::sleep(Duration::from_millis(5)); // the "query"
                in_use.fetch_sub(1, Ordering::SeqCst);
            });
        }
        println!("   workers waiting for the start signal; setting the Event");
        start.set();
    });
    println!(
        "   at most {} connection(s) were in use at once",
        peak.load(Ordering::SeqCst)
    );
    match pool.release(1) {
        Ok(()) => println!("   an extra release was accepted (unexpected)"),
        Err(error) => println!("   an extra release is refused: {error}"),
    }
    let batch = Semaphore::new(3);
    let one = batch.acquire();
    let waited = batch.acquire_many_for(3, Duration::from_millis(10));
    println!(
        "   acquire_many(3) while 1 of 3 permits is out gives up after 10 ms: {}; \
         the 2 it collected were passed back ({} free)\n",
        waited.is_none(),
        batch.available_permits()
    );
    drop(one);
}

/// Scene 5. Barrier: three simulation workers step in lockstep; the action runs once
/// per phase before anyone moves on.
fn phases() {
    const PARTIES: usize = 3;
    const PHASES: usize = 3;
    println!("5. Barrier: {PARTIES} workers run {PHASES} phases in lockstep");
    let completed = std::sync::Arc::new(AtomicUsize::new(0));
    let barrier = {
        let completed = std::sync::Arc::clone(&completed);
        Barrier::with_action(PARTIES, move || {
            let phase = completed.fetch_add(1, Ordering::SeqCst) + 1;
            println!("   action: phase {phase} complete, releasing everyone");
        })
    };
    let leaders = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..PARTIES {
            s.spawn(|| {
                for _ in 0..PHASES {
                    // ... compute this worker's share of the phase ...
                    let arrival = barrier.wait().expect("nobody breaks this barrier");
                    if arrival.is_leader() {
                        leaders.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    println!(
        "   {} phases, {} leader(s) in all (one per phase)",
        completed.load(Ordering::SeqCst),
        leaders.load(Ordering::Relaxed)
    );
    let lonely = Barrier::new(2);
    println!(
        "   a wait that nobody joins, with a 10 ms timeout: {:?}; broken now: {}",
        lonely.wait_for(Duration::from_millis(10)).unwrap_err(),
        lonely.is_broken()
    );
}
