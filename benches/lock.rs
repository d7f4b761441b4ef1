//! Criterion benchmarks of threadkit's `Lock`, `RLock` and `Condition` against
//! their closest peers in `std` and `parking_lot`.
//!
//! Every group puts threadkit next to its peers (functions `threadkit`, `std`,
//! `parking_lot`), so `target/criterion/report/index.html` and the command-line
//! output compare them side by side. Run with `cargo bench --bench lock`, in
//! the regime `THREADKIT_BENCH_REGIME` names (`idle` by default; see
//! `benches/common/mod.rs`); `docs/benchmarks.md` records the results and the
//! targets, `docs/benchmarks/run.py` runs every regime.
//!
//! What one criterion iteration is, per group:
//!
//! - `lock/uncontended` (idle regime only): one lock + increment + unlock on
//!   one thread.
//! - `lock/try_lock_for-zero` (idle regime only): on a lock this thread holds,
//!   one `try_lock_for(Duration::ZERO)` that fails (`threadkit`), against one
//!   `try_lock()` that fails (`try_lock`, the yardstick), one
//!   `try_lock_until(now)` (`threadkit-until-now`, with the `Instant` taken
//!   outside the loop, so already past) and parking_lot's
//!   `try_lock_for(ZERO)` (`parking_lot`).
//! - `lock/contended-N/<regime>`: one *round*: each of the N threads does one
//!   lock + increment + unlock (N critical sections; divide by N for the cost
//!   of one).
//! - `rlock/uncontended` (idle regime only): one lock + read-modify-write of a
//!   `Cell` + unlock.
//! - `rlock/nested-2` (idle regime only): outer lock, inner (re-entrant) lock,
//!   update, both unlocks.
//! - `condition/ping-pong/<regime>`: one round trip: one thread hands the turn
//!   to its partner (flip + notify), the partner hands it back, each side
//!   waiting on the condition variable for its turn.

mod common;

use std::cell::Cell;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group};

use common::handoff::{parking_lot_condition_side, std_condition_side, threadkit_condition_side};
use common::{load, ping_pong, regime_group, run_parallel, single_thread_groups};

// ---------------------------------------------------------------------------
// Lock, uncontended
// ---------------------------------------------------------------------------

fn lock_uncontended(c: &mut Criterion) {
    if !single_thread_groups() {
        return;
    }
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
// Lock, a zero timeout on a held lock
// ---------------------------------------------------------------------------

/// A zero timeout means "try once, do not block": on a held lock,
/// `try_lock_for(Duration::ZERO)` should cost about what `try_lock()` does.
/// The lock is held by this thread (a `Lock` is not re-entrant, so its own
/// `try_lock` fails as it would against another owner).
fn lock_try_lock_for_zero(c: &mut Criterion) {
    if !single_thread_groups() {
        return;
    }
    let mut group = c.benchmark_group("lock/try_lock_for-zero");
    group.throughput(Throughput::Elements(1));

    let lock = threadkit::Lock::new(0u64);
    let held = lock.lock();
    group.bench_function("threadkit", |b| {
        b.iter(|| black_box(&lock).try_lock_for(Duration::ZERO).is_none());
    });
    let now = Instant::now();
    group.bench_function("threadkit-until-now", |b| {
        b.iter(|| black_box(&lock).try_lock_until(black_box(now)).is_none());
    });
    group.bench_function("try_lock", |b| {
        b.iter(|| black_box(&lock).try_lock().is_none());
    });
    drop(held);

    let lock = parking_lot::Mutex::new(0u64);
    let held = lock.lock();
    group.bench_function("parking_lot", |b| {
        b.iter(|| black_box(&lock).try_lock_for(Duration::ZERO).is_none());
    });
    drop(held);

    group.finish();
}

// ---------------------------------------------------------------------------
// Lock, contended
// ---------------------------------------------------------------------------

// How the contended groups are measured (`common::run_parallel`):
//
// Threads are spawned once per criterion sample (one call of the `iter_custom`
// routine), not once per iteration, and the clock covers neither their spawn
// nor their exit: the workers and the measuring thread meet at a std `Barrier`
// to start and at a second one when done. A persistent thread pool would also
// remove the two barrier wake-ups (tens of microseconds per sample of many
// milliseconds), but at the price of a hand-off protocol that would itself be
// a synchronisation primitive under test.
//
// The threads are not pinned (the way users run them) except in the `pinned`
// regime, where worker `k` is pinned to the `k`-th CPU. Unpinned on an idle
// machine, the scheduler sometimes puts both workers on one core, where they
// take turns by time slice and hardly contend at all; per-sample times then
// swing by 2x within a run, so compare ratios over several runs.

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
        let _load = load();
        let mut group = regime_group(c, &format!("lock/contended-{threads}"));
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
    if !single_thread_groups() {
        return;
    }
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

fn condition_ping_pong(c: &mut Criterion) {
    let _load = load();
    let mut group = regime_group(c, "condition/ping-pong");
    group.throughput(Throughput::Elements(1));

    group.bench_function("threadkit", |b| {
        b.iter_custom(|iters| {
            let lock = threadkit::Lock::new(false);
            let cond = threadkit::Condition::new();
            ping_pong(iters, |me, iters| {
                threadkit_condition_side(&lock, &cond, me, iters)
            })
        });
    });

    group.bench_function("std", |b| {
        b.iter_custom(|iters| {
            let lock = std::sync::Mutex::new(false);
            let cond = std::sync::Condvar::new();
            ping_pong(iters, |me, iters| {
                std_condition_side(&lock, &cond, me, iters)
            })
        });
    });

    group.bench_function("parking_lot", |b| {
        b.iter_custom(|iters| {
            let lock = parking_lot::Mutex::new(false);
            let cond = parking_lot::Condvar::new();
            ping_pong(iters, |me, iters| {
                parking_lot_condition_side(&lock, &cond, me, iters)
            })
        });
    });

    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = lock_uncontended, lock_try_lock_for_zero, lock_contended, rlock_uncontended,
        condition_ping_pong
}

fn main() {
    common::main(benches);
}
