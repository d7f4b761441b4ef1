//! A guided tour of threadkit, retelling the scenes of the Python threading lessons
//! it was written from (the GIL lesson's counter race, a Flask + SQLAlchemy guide's
//! SafeCounter, bounded queue, deadlock, ResourcePool, WatchDog and thread with an
//! exception, a Flask lesson's producer-consumer task, an article on werkzeug's
//! `Local`/`LocalStack` and a Flask answer's per-request `g.conn`). Each step prints
//! the threadkit call it demonstrates, after a `→`.
//!
//! Run with `cargo run --release --example tour`. It takes well under a second: the
//! only sleeps are the producer-consumer's simulated database writes (0.5 ms each),
//! and threads are ordered with barriers, events, queues and joins, never with timing.
//! `examples/connection_pool.rs` builds the ResourcePool on a `BoundedQueue`, and
//! `examples/request_context.rs` tells step 11's story at length, and
//! `examples/watchdog.rs` step 9's.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::panic;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use threadkit::{
    Barrier, BarrierWaitError, BoundedQueue, BoundedSemaphore, Condition, Event, Local, LocalStack,
    Lock, ManualClock, RLock, Semaphore, Watchdog, lock_all,
};

fn main() {
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    println!("threadkit tour ({cores} CPUs)\n");
    counter_race();
    safe_counter();
    bounded_queue();
    producer_consumer();
    deadlock();
    resource_pool();
    watchdog();
    thread_with_exception();
    watchdog_monitor();
    phases();
    request_context();
    println!("Tour complete.");
}

/// Prints one step: the threadkit call, then what it did.
fn step(call: &str, what: impl std::fmt::Display) {
    println!("   → {call}: {what}");
}

/// 1. The GIL lesson: `counter += 1` is a load, an add and a store; threads that
///    interleave between them lose updates. Rust runs the threads truly in parallel.
fn counter_race() {
    const THREADS: usize = 4;
    const INCREMENTS: usize = 1_000_000;
    let expected = THREADS * INCREMENTS;
    println!("1. A shared counter, {THREADS} threads × {INCREMENTS} increments (the GIL lesson)");

    // A load and a store, each atomic, the pair not: Python's `counter += 1`. The
    // threads start together, so that they overlap.
    let racy = AtomicUsize::new(0);
    let start = Barrier::new(THREADS);
    thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                start.wait().expect("not broken");
                for _ in 0..INCREMENTS {
                    let seen = racy.load(Ordering::Relaxed);
                    racy.store(seen + 1, Ordering::Relaxed);
                }
            });
        }
    });
    let got = racy.into_inner();
    println!(
        "   without a lock (load, then store): {got} of {expected}, {} lost",
        expected - got
    );
    println!(
        "   (CPython's GIL makes this loss rarer, not impossible; here the threads run in parallel)"
    );

    let counter = Lock::new(0);
    thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for _ in 0..INCREMENTS {
                    *counter.lock() += 1;
                }
            });
        }
    });
    let total = counter.into_inner();
    assert_eq!(total, expected);
    step(
        "Lock::lock() guards the shared counter",
        format!("{total} of {expected}, none lost\n"),
    );
}

/// 2. The guide's SafeCounter: `increment` holds the lock and calls
///    `update_statistics`, which takes it again.
fn safe_counter() {
    println!("2. SafeCounter: a method holding the lock calls another that takes it again");
    struct SafeCounter {
        state: RLock<RefCell<(u64, Vec<usize>)>>, // (count, hold counts seen by the statistics)
    }
    impl SafeCounter {
        fn increment(&self) {
            let state = self.state.lock();
            state.borrow_mut().0 += 1;
            self.update_statistics(); // re-enters the lock on this thread
        }
        fn update_statistics(&self) {
            let state = self.state.lock();
            state.borrow_mut().1.push(self.state.hold_count());
        }
    }
    let counter = SafeCounter {
        state: RLock::new(RefCell::new((0, Vec::new()))),
    };
    thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| (0..3).for_each(|_| counter.increment()));
        }
    });
    let (count, holds) = counter.state.into_inner().into_inner();
    assert_eq!(count, 6);
    assert!(holds.iter().all(|&held| held == 2));
    step(
        "RLock::lock() re-entered by its owner",
        format!("6 increments, no deadlock; RLock::hold_count() inside was {holds:?}\n"),
    );
}

/// 3. The guide's BoundedQueue: a Condition for "not full", one for "not empty",
///    on one Lock (the design of Python's `queue.Queue`).
fn bounded_queue() {
    const CAPACITY: usize = 2;
    const ITEMS: u32 = 5;
    println!("3. A bounded queue of {CAPACITY}: a producer and a consumer");
    let queue = Lock::new(VecDeque::new());
    let (not_empty, not_full) = (Condition::new(), Condition::new());
    let received = thread::scope(|s| {
        s.spawn(|| {
            for item in 1..=ITEMS {
                let mut queue = queue.lock();
                not_full.wait_while(&mut queue, |q| q.len() == CAPACITY);
                queue.push_back(item);
                not_empty.notify_one();
            }
        });
        let mut received = Vec::new();
        while received.len() < ITEMS as usize {
            let mut queue = queue.lock();
            not_empty.wait_while(&mut queue, |q| q.is_empty());
            received.push(queue.pop_front().expect("not empty"));
            not_full.notify_one();
        }
        received
    });
    assert_eq!(received, [1, 2, 3, 4, 5]);
    step(
        "Condition::wait_while(&mut guard, full) / notify_one()",
        format!("consumer received {received:?}, in order"),
    );
    let (lock, nobody) = (Lock::new(()), Condition::new());
    let waited = nobody.wait_for(&mut lock.lock(), Duration::from_millis(10));
    assert!(waited.timed_out());
    step(
        "Condition::wait_for(10 ms) that nobody notifies",
        "timed_out() == true, the lock re-taken\n",
    );
}

/// 4. The lesson's producer-consumer task: requests arrive in bursts, and the
///    database that stores them is slower than a burst. A `BoundedQueue` between
///    them absorbs a burst and holds the producers back once it is full.
fn producer_consumer() {
    const CAPACITY: usize = 4;
    const PRODUCERS: u32 = 3;
    const BURST: u32 = 4;
    const TOTAL: usize = (PRODUCERS * BURST) as usize;
    println!(
        "4. Producer-consumer: {PRODUCERS} producers send bursts of {BURST} requests \
         through a BoundedQueue of {CAPACITY} to one slow database writer"
    );
    let queue = BoundedQueue::new(CAPACITY);
    let database = Lock::new(Vec::new());
    let (written_meanwhile, writes) = thread::scope(|s| {
        let writer = s.spawn(|| {
            let mut writes = 0;
            for request in &queue {
                // The slow write: simulated work, not synchronisation.
                thread::sleep(Duration::from_micros(500));
                database.lock().push(request);
                writes += 1;
                queue.task_done().expect("one task_done per request taken");
            }
            writes // the loop ends once the queue is closed and drained
        });
        // A producer handle each, taken before any producer starts: the last
        // one's drop closes the queue (also if a producer panics), and the
        // writer's loop ends once it has drained it.
        let handles: Vec<_> = (0..PRODUCERS).map(|_| queue.producer()).collect();
        let producers: Vec<_> = (0..PRODUCERS)
            .zip(handles)
            .map(|(producer, handle)| {
                s.spawn(move || {
                    for n in 1..=BURST {
                        handle
                            .put((producer, n))
                            .expect("open while a producer lives");
                    }
                })
            })
            .collect();
        for producer in producers {
            producer.join().unwrap();
        }
        let written_meanwhile = database.lock().len();
        queue.join(); // until every request put has been task_done
        assert_eq!(database.lock().len(), TOTAL);
        assert!(queue.is_closed(), "the last producer's handle closed it");
        (written_meanwhile, writer.join().unwrap())
    });
    // When the last put returned, at most CAPACITY requests were queued and one was
    // being written: the producers were held back, not the queue grown.
    assert!(written_meanwhile >= TOTAL - CAPACITY - 1);
    step(
        "Producer::put() from 3 threads, blocking while the queue is full",
        format!(
            "the producers were held back: their last put returned after \
             {written_meanwhile} of {TOTAL} writes"
        ),
    );
    let database = database.into_inner();
    for producer in 0..PRODUCERS {
        let sent: Vec<u32> = database
            .iter()
            .filter(|(from, _)| *from == producer)
            .map(|(_, n)| *n)
            .collect();
        assert_eq!(sent, (1..=BURST).collect::<Vec<_>>());
    }
    step(
        "BoundedQueue::join() once the producers were done",
        format!(
            "returned once the writer had called task_done() {TOTAL} times: \
             {TOTAL} rows, each producer's in order"
        ),
    );
    let late = queue.put((PRODUCERS, 1)).unwrap_err();
    assert_eq!(late.into_inner(), (PRODUCERS, 1));
    step(
        "The last Producer handle dropped: the queue closed",
        format!(
            "the writer's `for request in &queue` loop ended after {writes} writes; \
             a late put got Err(Closed(request)), its request handed back\n"
        ),
    );
}

/// 5. The deadlock story: thread 1 takes lock1 then lock2, thread 2 takes lock2 then
///    lock1. Here each gives up after a timeout instead of waiting for ever.
fn deadlock() {
    println!("5. Deadlock: two threads take two locks in opposite orders");
    let (lock1, lock2) = (Lock::new("accounts"), Lock::new("ledger"));
    // Both hold their first lock while both try the other's, then both let go.
    let (holding, tried) = (Barrier::new(2), Barrier::new(2));
    let attempt = |first: &Lock<&str>, second: &Lock<&str>| {
        let _first = first.lock();
        holding.wait().expect("not broken");
        let got = second.try_lock_for(Duration::from_millis(20)).is_some();
        tried.wait().expect("not broken");
        got
    };
    if cfg!(feature = "lock-order") {
        // The checker would panic at the inverted `try_lock_for`: its point.
        step(
            "Lock::try_lock_for(20 ms) on the second lock",
            "skipped: with the lock-order feature the inversion panics before it can deadlock",
        );
    } else {
        let (one, two) = thread::scope(|s| {
            let one = s.spawn(|| attempt(&lock1, &lock2));
            let two = s.spawn(|| attempt(&lock2, &lock1));
            (one.join().unwrap(), two.join().unwrap())
        });
        assert!(!one && !two);
        step(
            "Lock::try_lock_for(20 ms) on the second lock",
            "both time out: with lock() both would wait for ever",
        );
    }
    // The fix from the lesson: one global order.
    let transfers = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                for _ in 0..1000 {
                    let (_accounts, _ledger) = (lock1.lock(), lock2.lock());
                    transfers.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    assert_eq!(transfers.into_inner(), 2000);
    step(
        "Lock::lock() in one order everywhere (lock1, then lock2)",
        "2000 transfers, no deadlock",
    );
    // Or name both locks at once, in any order: it never deadlocks.
    let transfers = AtomicUsize::new(0);
    thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..1000 {
                let (_accounts, _ledger) = lock_all((&lock1, &lock2));
                transfers.fetch_add(1, Ordering::Relaxed);
            }
        });
        s.spawn(|| {
            for _ in 0..1000 {
                let (_ledger, _accounts) = lock_all((&lock2, &lock1));
                transfers.fetch_add(1, Ordering::Relaxed);
            }
        });
    });
    assert_eq!(transfers.into_inner(), 2000);
    step(
        "lock_all((&lock1, &lock2)) against lock_all((&lock2, &lock1))",
        "2000 transfers in opposite orders, no deadlock\n     (examples/deadlock.rs also shows detection and the lock-order checker)\n",
    );
}

/// 6. The guide's ResourcePool: an Event says the pool is ready, a Semaphore counts
///    free connections, a Lock guards the list of them.
fn resource_pool() {
    const WORKERS: usize = 5;
    println!("6. ResourcePool: {WORKERS} workers share 2 connections");
    let connections = Lock::new(Vec::new());
    let free = BoundedSemaphore::new(2);
    let ready = Event::new();
    let (in_use, peak) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let served = thread::scope(|s| {
        let workers: Vec<_> = (0..WORKERS)
            .map(|_| {
                s.spawn(|| {
                    ready.wait(); // until the pool is initialised
                    let _permit = free.acquire(); // one of the 2 connections is ours
                    let connection: &str = connections
                        .lock()
                        .pop()
                        .expect("a permit means one is free");
                    let now = in_use.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    in_use.fetch_sub(1, Ordering::SeqCst);
                    connections.lock().push(connection); // back before the permit is dropped
                })
            })
            .collect();
        *connections.lock() = vec!["db-1", "db-2"];
        ready.set(); // the workers may start
        workers
            .into_iter()
            .map(|w| w.join())
            .filter(Result::is_ok)
            .count()
    });
    assert_eq!(served, WORKERS);
    assert!(peak.load(Ordering::SeqCst) <= 2);
    step(
        "Event::wait() until Event::set(); BoundedSemaphore::acquire() per worker",
        format!(
            "{served} workers served, at most {} connection(s) in use at once",
            peak.load(Ordering::SeqCst)
        ),
    );
    let refused = free.release(1).unwrap_err();
    step(
        "BoundedSemaphore::release(1) with nothing taken",
        format!("Err: {refused}"),
    );

    // Acquire in one thread, release in another: an owned permit moves with the work.
    let pool = Arc::new(Semaphore::new(2));
    let permit = pool.acquire_arc();
    let worker = thread::spawn(move || drop(permit));
    worker.join().unwrap();
    assert_eq!(pool.available_permits(), 2);
    step(
        "Semaphore::acquire_arc() taken here, dropped by the worker",
        "both permits back",
    );
    let one = pool.acquire();
    let all = pool.acquire_many_for(2, Duration::from_millis(10));
    assert!(all.is_none());
    assert_eq!(pool.available_permits(), 1);
    drop(one);
    step(
        "Semaphore::acquire_many_for(2, 10 ms) while 1 of 2 is out",
        "gives up holding nothing\n",
    );
}

/// 7. The guide's WatchDog: services beat, a monitor reports those silent for more
///    than a minute, and stops at once when told to.
fn watchdog() {
    println!("7. WatchDog: heartbeats, a stall, and a monitor that stops at once");
    const TIMEOUT: Duration = Duration::from_secs(60);
    let start = Instant::now();
    let beats = Lock::new(HashMap::from([("cache", start), ("database", start)]));
    let stalled = |now: Instant| -> Vec<&str> {
        let beats = beats.lock();
        let mut silent: Vec<&str> = beats
            .iter()
            .filter(|(_, last)| now.duration_since(**last) > TIMEOUT)
            .map(|(name, _)| *name)
            .collect();
        silent.sort();
        silent
    };
    // A clock passed in, as a test would: the cache beats 50 s in; we check at 61 s.
    beats
        .lock()
        .insert("cache", start + Duration::from_secs(50));
    let silent = stalled(start + Duration::from_secs(61));
    assert_eq!(silent, ["database"]);
    step(
        "Lock::lock() guards the heartbeat table",
        format!("at 61 s, stalled: {silent:?}"),
    );

    let stop = Event::new();
    let checks = thread::scope(|s| {
        let monitor = s.spawn(|| {
            let mut checks = 0;
            while !stop.wait_for(TIMEOUT / 12) {
                // time.sleep(5) in the guide: here the sleep is the Event's timed wait.
                checks += 1;
                let _ = stalled(Instant::now());
            }
            checks
        });
        stop.set();
        monitor.join().unwrap()
    });
    step(
        "Event::wait_for(5 s) as the monitor's sleep, ended by Event::set()",
        format!("stopped after {checks} check(s), without sitting out the 5 s\n"),
    );
}

/// 8. The guide's ThreadWithExceptionHandling: a failure in a thread reaches `join`.
fn thread_with_exception() {
    println!("8. A thread that fails, and one that panics holding a lock");
    let failed = thread::spawn(|| -> Result<u32, String> { Err("service unreachable".into()) });
    let error = failed
        .join()
        .expect("it returned, it did not panic")
        .unwrap_err();
    step(
        "JoinHandle::join() of a thread returning Err",
        format!("Ok(Err({error:?}))"),
    );

    let balance = Arc::new(Lock::new(100));
    let quiet = panic::take_hook();
    panic::set_hook(Box::new(|_| {})); // keep the tour's output clean
    let panicked = {
        let balance = Arc::clone(&balance);
        thread::spawn(move || {
            let mut balance = balance.lock();
            *balance -= 30;
            panic!("crashed halfway through a transfer");
        })
        .join()
    };
    panic::set_hook(quiet);
    assert!(panicked.is_err());
    let guard = balance.lock();
    assert_eq!(*guard, 70);
    step(
        "Lock::lock() after a holder panicked",
        format!(
            "join() gave Err(panic); the lock is free, not poisoned, and shows the \
             half-done transfer: {}",
            *guard
        ),
    );
    println!();
}

/// 9. Steps 7 and 8 in one: threadkit's `Watchdog` reports a service silent past its
///    timeout (once), its recovery (once), and a monitored thread's panic. A
///    `ManualClock` stands in for the minute, and `check_now()` for the monitor thread.
fn watchdog_monitor() {
    println!("9. Watchdog: the guide's WatchDog and ThreadWithExceptionHandling together");
    const TIMEOUT: Duration = Duration::from_secs(60);
    let clock = ManualClock::new();
    let reports = Arc::new(Lock::new(Vec::new()));
    let (stalls, recoveries, panics) = (
        Arc::clone(&reports),
        Arc::clone(&reports),
        Arc::clone(&reports),
    );
    let watchdog = Watchdog::builder()
        .clock(clock.clone())
        .on_stall(move |status| stalls.lock().push(format!("on_stall({})", status.name)))
        .on_recover(move |status| {
            recoveries
                .lock()
                .push(format!("on_recover({})", status.name))
        })
        .on_panic(move |report| panics.lock().push(format!("on_panic({report})")))
        .manual();
    let taken = || std::mem::take(&mut *reports.lock());

    let (cache, database) = (
        watchdog.register("cache", TIMEOUT),
        watchdog.register("database", TIMEOUT),
    );
    clock.advance(Duration::from_secs(50));
    cache.beat();
    watchdog.check_now();
    clock.advance(Duration::from_secs(11)); // 61 s: the database has been silent too long
    let stalled: Vec<String> = (0..2)
        .map(|_| watchdog.check_now())
        .flat_map(|r| r.stalled)
        .map(|s| s.name)
        .collect();
    assert_eq!(stalled, ["database", "database"]);
    assert_eq!(taken(), ["on_stall(database)"]);
    step(
        "Watchdog::register(name, 60 s), Heartbeat::beat(), two check_now() at 61 s",
        "the database is stalled at both checks, on_stall fired once",
    );
    database.beat();
    assert!(watchdog.check_now().stalled.is_empty());
    assert_eq!(taken(), ["on_recover(database)"]);
    step(
        "Heartbeat::beat() from the database, then check_now()",
        "on_recover fired once",
    );
    drop((cache, database));

    let quiet = panic::take_hook();
    panic::set_hook(Box::new(|_| {})); // on_panic reports it
    let joined = watchdog
        .spawn_monitored("importer", TIMEOUT, |heartbeat| {
            heartbeat.beat();
            panic!("bad row 17");
        })
        .expect("spawn a thread")
        .join();
    panic::set_hook(quiet);
    assert!(joined.is_err());
    assert_eq!(taken(), ["on_panic(importer panicked: bad row 17)"]);
    step(
        "Watchdog::spawn_monitored(\"importer\", ..) whose closure panics",
        "on_panic got \"importer panicked: bad row 17\", and join() still gave Err(panic)\n",
    );
}

/// 10. The guide's synchronised workers: phases in lockstep, an action per phase.
fn phases() {
    const PARTIES: usize = 3;
    const PHASES: usize = 3;
    println!("10. Barrier: {PARTIES} workers run {PHASES} phases in lockstep");
    let completed = Arc::new(AtomicUsize::new(0));
    let barrier = {
        let completed = Arc::clone(&completed);
        Barrier::with_action(PARTIES, move || {
            completed.fetch_add(1, Ordering::SeqCst);
        })
    };
    let leaders = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..PARTIES {
            s.spawn(|| {
                for _ in 0..PHASES {
                    // ... this worker's share of the phase ...
                    if barrier.wait().expect("nobody breaks it").is_leader() {
                        leaders.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    assert_eq!(completed.load(Ordering::SeqCst), PHASES);
    assert_eq!(leaders.into_inner(), PHASES);
    step(
        "Barrier::with_action(3, action) and Barrier::wait()",
        format!("{PHASES} phases, the action ran once per phase, one leader each"),
    );
    let lonely = Barrier::new(2);
    let result = lonely.wait_for(Duration::from_millis(10));
    assert_eq!(result, Err(BarrierWaitError::Timeout));
    assert!(lonely.is_broken());
    step(
        "Barrier::wait_for(10 ms) that nobody joins",
        "Err(Timeout), and the barrier is broken for everyone, as in Python\n",
    );
}

/// 11. werkzeug's `Local` and `LocalStack`, behind Flask's request context, and the
///     answer's `g.conn`: each request thread pushes its context and opens a
///     connection on first use; the connection is closed when the thread exits.
fn request_context() {
    println!("11. Flask's request context and g.conn, one thread per request");
    static OPENED: AtomicUsize = AtomicUsize::new(0);
    static CLOSED: AtomicUsize = AtomicUsize::new(0);
    struct Connection;
    impl Drop for Connection {
        fn drop(&mut self) {
            CLOSED.fetch_add(1, Ordering::SeqCst); // conn.close()
        }
    }
    // A server makes these `static`s; locals keep the tour building under loom,
    // where constructors are not `const`.
    let request = LocalStack::new(); // werkzeug's _request_ctx_stack
    let conn = Local::new(); // g.conn
    // Deep in the view: Flask's `request`, and `get_conn()` from the answer.
    let query = || {
        conn.get_or(|| {
            OPENED.fetch_add(1, Ordering::SeqCst);
            Connection
        });
        request.top().expect("inside a request")
    };

    let paths = ["/orders", "/profile"];
    let seen: Vec<&str> = thread::scope(|s| {
        let threads: Vec<_> = paths
            .into_iter()
            .map(|path| {
                let (request, query) = (&request, &query);
                s.spawn(move || {
                    let _context = request.push_scoped(path); // popped at the end of the request
                    let (first, second) = (query(), query());
                    assert_eq!(first, second);
                    first
                })
            })
            .collect();
        // Explicit joins: each returns once its thread's values have been dropped
        // (the implicit join at the end of the scope may return before).
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    assert_eq!(seen, paths);
    assert_eq!(request.top(), None);
    step(
        "LocalStack::push_scoped(path) per request thread, top() deep in the view",
        format!(
            "each request saw its own, {seen:?}; the main thread sees {:?}",
            request.top()
        ),
    );
    let (opened, closed) = (OPENED.load(Ordering::SeqCst), CLOSED.load(Ordering::SeqCst));
    assert_eq!((opened, closed), (2, 2));
    step(
        "Local::get_or(open) at each of a request's 2 queries",
        format!("{opened} connections opened, one per request thread"),
    );
    step(
        "JoinHandle::join() of each request thread",
        format!("{closed} of {opened} connections closed at thread exit, none left open\n"),
    );
}
