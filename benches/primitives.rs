//! Criterion benchmarks of `Semaphore`, `Event` and `Barrier` against a naive
//! `Mutex` + `Condvar` version written the way a std user would, and against
//! `std::sync::Barrier`.
//!
//! Run with `cargo bench --bench primitives`; `docs/benchmarks.md` records the
//! results and the targets. What one criterion iteration is, per group:
//!
//! - `semaphore/uncontended`: acquire one permit and release it, on one thread
//!   (with threadkit's `Lock` lock + unlock as the yardstick).
//! - `event/is_set`: one `is_set()` on a set event.
//! - `event/ping-pong`: one round trip between two threads, each waiting for
//!   its own event, clearing it, and setting the other's.
//! - `barrier/round-N`: one round of N threads meeting at the barrier.

mod common;

use std::hint::black_box;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use common::{pin_to_cpu, run_parallel};

// ---------------------------------------------------------------------------
// The naive versions: what a std user writes in ten lines
// ---------------------------------------------------------------------------

/// A counting semaphore on `Mutex<usize>` + `Condvar`.
struct NaiveSemaphore {
    permits: Mutex<usize>,
    released: Condvar,
}

impl NaiveSemaphore {
    fn new(permits: usize) -> Self {
        NaiveSemaphore {
            permits: Mutex::new(permits),
            released: Condvar::new(),
        }
    }

    fn acquire(&self) {
        let mut permits = self.permits.lock().unwrap();
        while *permits == 0 {
            permits = self.released.wait(permits).unwrap();
        }
        *permits -= 1;
    }

    fn release(&self) {
        *self.permits.lock().unwrap() += 1;
        self.released.notify_one();
    }
}

/// Python's `Event` on `Mutex<bool>` + `Condvar` (as CPython writes it).
struct NaiveEvent {
    flag: Mutex<bool>,
    changed: Condvar,
}

impl NaiveEvent {
    fn new() -> Self {
        NaiveEvent {
            flag: Mutex::new(false),
            changed: Condvar::new(),
        }
    }

    fn is_set(&self) -> bool {
        *self.flag.lock().unwrap()
    }

    fn set(&self) {
        *self.flag.lock().unwrap() = true;
        self.changed.notify_all();
    }

    fn clear(&self) {
        *self.flag.lock().unwrap() = false;
    }

    fn wait(&self) {
        let mut flag = self.flag.lock().unwrap();
        while !*flag {
            flag = self.changed.wait(flag).unwrap();
        }
    }
}

// ---------------------------------------------------------------------------
// Semaphore
// ---------------------------------------------------------------------------

fn semaphore_uncontended(c: &mut Criterion) {
    let mut group = c.benchmark_group("semaphore/uncontended");
    group.throughput(Throughput::Elements(1));

    let sem = threadkit::Semaphore::new(1);
    group.bench_function("threadkit", |b| b.iter(|| drop(black_box(&sem).acquire())));

    let sem = NaiveSemaphore::new(1);
    group.bench_function("naive", |b| {
        b.iter(|| {
            let sem = black_box(&sem);
            sem.acquire();
            sem.release();
        })
    });

    let lock = threadkit::Lock::new(());
    group.bench_function("threadkit-lock", |b| {
        b.iter(|| drop(black_box(&lock).lock()))
    });

    group.finish();
}

// ---------------------------------------------------------------------------
// Event
// ---------------------------------------------------------------------------

fn event_is_set(c: &mut Criterion) {
    let mut group = c.benchmark_group("event/is_set");
    group.throughput(Throughput::Elements(1));

    let event = threadkit::Event::new();
    event.set();
    group.bench_function("threadkit", |b| b.iter(|| black_box(&event).is_set()));

    let event = NaiveEvent::new();
    event.set();
    group.bench_function("naive", |b| b.iter(|| black_box(&event).is_set()));

    group.finish();
}

/// The event operations the ping-pong needs, for both implementations.
trait PingPongEvent: Send + Sync + 'static {
    fn make() -> Self;
    fn set(&self);
    fn clear(&self);
    fn wait(&self);
}

impl PingPongEvent for threadkit::Event {
    fn make() -> Self {
        threadkit::Event::new()
    }
    fn set(&self) {
        threadkit::Event::set(self)
    }
    fn clear(&self) {
        threadkit::Event::clear(self)
    }
    fn wait(&self) {
        threadkit::Event::wait(self)
    }
}

impl PingPongEvent for NaiveEvent {
    fn make() -> Self {
        NaiveEvent::new()
    }
    fn set(&self) {
        NaiveEvent::set(self)
    }
    fn clear(&self) {
        NaiveEvent::clear(self)
    }
    fn wait(&self) {
        NaiveEvent::wait(self)
    }
}

/// `iters` round trips between two threads pinned to different CPUs (both
/// spawned, so criterion's own thread stays unpinned for later groups): one sets
/// `ping` and waits for `pong`, the other answers each ping. Returns the time of
/// the pinger's loop; spawning is outside the clock.
fn ping_pong<E: PingPongEvent>(iters: u64) -> Duration {
    let events = Arc::new((E::make(), E::make(), E::make())); // ping, pong, ready
    let partner = {
        let events = Arc::clone(&events);
        thread::spawn(move || {
            pin_to_cpu(1);
            let (ping, pong, ready) = &*events;
            ready.set();
            for _ in 0..iters {
                ping.wait();
                ping.clear();
                pong.set();
            }
        })
    };
    let pinger = thread::spawn(move || {
        pin_to_cpu(0);
        let (ping, pong, ready) = &*events;
        ready.wait();
        let start = std::time::Instant::now();
        for _ in 0..iters {
            ping.set();
            pong.wait();
            pong.clear();
        }
        start.elapsed()
    });
    let elapsed = pinger.join().unwrap();
    partner.join().unwrap();
    elapsed
}

fn event_ping_pong(c: &mut Criterion) {
    let mut group = c.benchmark_group("event/ping-pong");
    group.throughput(Throughput::Elements(1));
    group.bench_function("threadkit", |b| {
        b.iter_custom(ping_pong::<threadkit::Event>)
    });
    group.bench_function("naive", |b| b.iter_custom(ping_pong::<NaiveEvent>));
    group.finish();
}

// ---------------------------------------------------------------------------
// Barrier
// ---------------------------------------------------------------------------

fn barrier_round(c: &mut Criterion) {
    for parties in [2, 4] {
        let mut group = c.benchmark_group(format!("barrier/round-{parties}"));
        group.throughput(Throughput::Elements(1));

        let barrier = threadkit::Barrier::new(parties);
        group.bench_function("threadkit", |b| {
            b.iter_custom(|iters| {
                run_parallel(&barrier, parties, iters, |barrier, _| {
                    black_box(barrier.wait().unwrap());
                })
            })
        });

        let barrier = std::sync::Barrier::new(parties);
        group.bench_function("std", |b| {
            b.iter_custom(|iters| {
                run_parallel(&barrier, parties, iters, |barrier, _| {
                    black_box(barrier.wait());
                })
            })
        });

        group.finish();
    }
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = semaphore_uncontended, event_is_set, event_ping_pong, barrier_round
}
criterion_main!(benches);
