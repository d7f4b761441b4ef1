//! Criterion benchmarks of threadkit's `Lock`, `RLock` and `Condition` against
//! their closest peers in `std` and `parking_lot`.
//!
//! Every group puts threadkit next to its peers (functions `threadkit`, `std`,
//! `parking_lot`), so `target/criterion/report/index.html` and the command-line
//! output compare them side by side. Run with `cargo bench --bench lock`;
//! `docs/benchmarks.md` records the results and the targets.
//!
//! What one criterion iteration is, per group:
//!
//! - `lock/uncontended`: one lock + increment + unlock on one thread.
//! - `lock/contended-N`: one *round*: each of the N threads does one lock +
//!   increment + unlock (N critical sections; divide by N for the cost of one).
//!   The threads are pinned to CPUs round-robin (see "How the contended groups
//!   are measured" below).
//! - `rlock/uncontended`: one lock + read-modify-write of a `Cell` + unlock.
//! - `rlock/nested-2`: outer lock, inner (re-entrant) lock, update, both unlocks.
//! - `condition/ping-pong`: one round trip: this thread hands the turn to its
//!   partner (flip + notify), the partner hands it back, each side waiting on the
//!   condition variable for its turn.

mod common;

use std::cell::Cell;
use std::hint::black_box;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};

use common::run_parallel;

// ---------------------------------------------------------------------------
// Lock, uncontended
// ---------------------------------------------------------------------------

fn lock_uncontended(c: &mut Criterion) {
    let mut group = c.benchmark_group("lock/uncontended");
    group.throughput(Throughput::Elements(1));

    let lock = threadkit::Lock::new(0u64);
    group.bench_function("threadkit", |b| {
        b.iter(|| *black_box(&lock).lock() += 1);
    });

    let lock = std::sync::Mutex::new(0u64);
    group.bench_function("std", |b| {
        b.iter(|| *black_box(&lock).lock().unwrap() += 1);
    });

    let lock = parking_lot::Mutex::new(0u64);
    group.bench_function("parking_lot", |b| {
        b.iter(|| *black_box(&lock).lock() += 1);
    });

    group.finish();
}

// ---------------------------------------------------------------------------
// Lock, contended
// ---------------------------------------------------------------------------

// How the contended groups are measured (`common::run_parallel`):
//
// Threads are spawned once per criterion sample (one call of the `iter_custom`
// routine), not once per iteration, and the clock covers neither their spawn
// nor their exit: every worker and the measuring thread meet at a std
// `Barrier`, so all workers begin together once they exist, and they meet at a
// second one when done, so the clock stops when the last critical section has
// finished rather than when the threads have been joined. What remains in the
// measurement besides the critical sections is one barrier wake-up on each side
// (tens of microseconds), negligible against a sample that runs for many
// milliseconds (criterion sizes samples to fill `measurement_time`). A
// persistent thread pool would remove that too, but at the price of a hand-off
// protocol that would itself be a synchronisation primitive under test.
//
// Worker `k` is pinned to the `k`-th CPU the process may use (round-robin), so
// that every sample measures the same thing: contention between cores.
// Unpinned, the scheduler sometimes puts both workers on one core, where they
// take turns by time slice and hardly contend at all; the per-sample times then
// swing by 2x within a run, and the ratio threadkit / `parking_lot` of identical
// lock code (threadkit's `Lock` *is* `parking_lot`'s raw mutex) ranged from 0.83
// to 1.12 over three runs on an idle machine. Set `THREADKIT_BENCH_NO_PIN=1` to
// measure unpinned.

fn lock_contended_with(group: &mut BenchmarkGroup<'_, WallTime>, threads: usize) {
    group.throughput(Throughput::Elements(threads as u64));

    let lock = threadkit::Lock::new(0u64);
    group.bench_function("threadkit", |b| {
        b.iter_custom(|iters| run_parallel(&lock, threads, iters, |l, _| *l.lock() += 1));
    });

    let lock = std::sync::Mutex::new(0u64);
    group.bench_function("std", |b| {
        b.iter_custom(|iters| run_parallel(&lock, threads, iters, |l, _| *l.lock().unwrap() += 1));
    });

    let lock = parking_lot::Mutex::new(0u64);
    group.bench_function("parking_lot", |b| {
        b.iter_custom(|iters| run_parallel(&lock, threads, iters, |l, _| *l.lock() += 1));
    });
}

fn lock_contended(c: &mut Criterion) {
    for threads in [2, 4] {
        let mut group = c.benchmark_group(format!("lock/contended-{threads}"));
        group.measurement_time(Duration::from_secs(3));
        lock_contended_with(&mut group, threads);
        group.finish();
    }
}

// ---------------------------------------------------------------------------
// RLock, uncontended (flat and nested)
// ---------------------------------------------------------------------------

fn bump(cell: &Cell<u64>) {
    cell.set(cell.get() + 1);
}

fn rlock_uncontended(c: &mut Criterion) {
    let mut group = c.benchmark_group("rlock/uncontended");
    group.throughput(Throughput::Elements(1));

    let lock = threadkit::RLock::new(Cell::new(0u64));
    group.bench_function("threadkit", |b| {
        b.iter(|| bump(&black_box(&lock).lock()));
    });

    let lock = parking_lot::ReentrantMutex::new(Cell::new(0u64));
    group.bench_function("parking_lot", |b| {
        b.iter(|| bump(&black_box(&lock).lock()));
    });

    group.finish();

    let mut group = c.benchmark_group("rlock/nested-2");
    group.throughput(Throughput::Elements(1));

    let lock = threadkit::RLock::new(Cell::new(0u64));
    group.bench_function("threadkit", |b| {
        b.iter(|| {
            let lock = black_box(&lock);
            let outer = lock.lock();
            let inner = lock.lock();
            bump(&inner);
            drop(inner);
            drop(outer);
        });
    });

    let lock = parking_lot::ReentrantMutex::new(Cell::new(0u64));
    group.bench_function("parking_lot", |b| {
        b.iter(|| {
            let lock = black_box(&lock);
            let outer = lock.lock();
            let inner = lock.lock();
            bump(&inner);
            drop(inner);
            drop(outer);
        });
    });

    group.finish();
}

// ---------------------------------------------------------------------------
// Condition ping-pong
// ---------------------------------------------------------------------------

/// Plays `iters` round trips of ping-pong between this thread (turn `false`)
/// and a partner thread (turn `true`) with `side`, and returns the time this
/// thread took. As in the contended groups, the partner is spawned once per
/// sample and both sides start together at a `Barrier`, so the spawn is not
/// measured. Neither thread is pinned: the scheduler places them as it would in
/// a program.
///
/// `side(me, iters)` must, `iters` times: wait (on the condition variable, with
/// the lock held) until the turn is `me`, hand the turn to the other side, and
/// notify. This thread's `iters`-th hand-off needs the partner's `iters - 1`
/// hand-offs before it, so the measured time covers `iters` round trips (less
/// half of one, which is noise), and the partner's last hand-off never blocks.
fn run_ping_pong(iters: u64, side: impl Fn(bool, u64) + Sync) -> Duration {
    let start = Barrier::new(2);
    thread::scope(|scope| {
        scope.spawn(|| {
            start.wait();
            side(true, iters);
        });
        start.wait();
        let began = Instant::now();
        side(false, iters);
        began.elapsed()
    })
}

fn condition_ping_pong(c: &mut Criterion) {
    let mut group = c.benchmark_group("condition/ping-pong");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(3));

    group.bench_function("threadkit", |b| {
        b.iter_custom(|iters| {
            let lock = threadkit::Lock::new(false);
            let cond = threadkit::Condition::new();
            run_ping_pong(iters, |me, iters| {
                let mut turn = lock.lock();
                for _ in 0..iters {
                    while *turn != me {
                        cond.wait(&mut turn);
                    }
                    *turn = !me;
                    cond.notify_one();
                }
            })
        });
    });

    group.bench_function("std", |b| {
        b.iter_custom(|iters| {
            let lock = std::sync::Mutex::new(false);
            let cond = std::sync::Condvar::new();
            run_ping_pong(iters, |me, iters| {
                let mut turn = lock.lock().unwrap();
                for _ in 0..iters {
                    while *turn != me {
                        turn = cond.wait(turn).unwrap();
                    }
                    *turn = !me;
                    cond.notify_one();
                }
            })
        });
    });

    group.bench_function("parking_lot", |b| {
        b.iter_custom(|iters| {
            let lock = parking_lot::Mutex::new(false);
            let cond = parking_lot::Condvar::new();
            run_ping_pong(iters, |me, iters| {
                let mut turn = lock.lock();
                for _ in 0..iters {
                    while *turn != me {
                        cond.wait(&mut turn);
                    }
                    *turn = !me;
                    cond.notify_one();
                }
            })
        });
    });

    group.finish();
}

criterion_group! {
    name = benches;
    // Modest settings so that the whole suite stays within a few minutes on a
    // small machine; the thread-heavy groups raise `measurement_time` themselves.
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .nresamples(10_000);
    targets = lock_uncontended, lock_contended, rlock_uncontended, condition_ping_pong
}
criterion_main!(benches);
