//! Criterion benchmarks of `Semaphore`, `Event` and `Barrier` against a naive
//! `Mutex` + `Condvar` version written the way a std user would
//! (`benches/common/handoff.rs`), and against `std::sync::Barrier`.
//!
//! Run with `cargo bench --bench primitives`, in the regime
//! `THREADKIT_BENCH_REGIME` names (`idle` by default; see
//! `benches/common/mod.rs`); `docs/benchmarks.md` records the results and the
//! targets. What one criterion iteration is, per group:
//!
//! - `semaphore/uncontended` (idle regime only): acquire one permit and
//!   release it, on one thread (with threadkit's `Lock` lock + unlock as the
//!   yardstick).
//! - `semaphore/hand-off/<regime>`: one round trip of a single permit between
//!   two threads: each waits on its own semaphore (both start empty) and
//!   releases the permit to the other's.
//! - `event/is_set` (idle regime only): one `is_set()` on a set event.
//! - `event/ping-pong/<regime>`: one round trip between two threads, each
//!   waiting for its own event, clearing it, and setting the other's.
//! - `barrier/round-N/<regime>`: one round of N threads meeting at the barrier.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group};

use common::handoff::{
    NaiveEvent, NaiveSemaphore, PingPongEvent, event_side, naive_semaphore_side,
    threadkit_semaphore_side,
};
use common::{load, ping_pong, regime_group, run_parallel, single_thread_groups};

// ---------------------------------------------------------------------------
// Semaphore
// ---------------------------------------------------------------------------

fn semaphore_uncontended(c: &mut Criterion) {
    if !single_thread_groups() {
        return;
    }
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

fn semaphore_hand_off(c: &mut Criterion) {
    let _load = load();
    let mut group = regime_group(c, "semaphore/hand-off");
    group.throughput(Throughput::Elements(1));

    group.bench_function("threadkit", |b| {
        b.iter_custom(|iters| {
            let (a, b) = (threadkit::Semaphore::new(0), threadkit::Semaphore::new(0));
            ping_pong(iters, |me, iters| {
                threadkit_semaphore_side(&a, &b, me, iters)
            })
        })
    });

    group.bench_function("naive", |b| {
        b.iter_custom(|iters| {
            let (a, b) = (NaiveSemaphore::new(0), NaiveSemaphore::new(0));
            ping_pong(iters, |me, iters| naive_semaphore_side(&a, &b, me, iters))
        })
    });

    group.finish();
}

// ---------------------------------------------------------------------------
// Event
// ---------------------------------------------------------------------------

fn event_is_set(c: &mut Criterion) {
    if !single_thread_groups() {
        return;
    }
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

/// `iters` round trips of an event ping-pong between two spawned threads.
fn event_ping_pong_run<E: PingPongEvent>(iters: u64) -> Duration {
    let (ping, pong) = (E::default(), E::default());
    ping_pong(iters, |me, iters| event_side(&ping, &pong, me, iters))
}

fn event_ping_pong(c: &mut Criterion) {
    let _load = load();
    let mut group = regime_group(c, "event/ping-pong");
    group.throughput(Throughput::Elements(1));
    group.bench_function("threadkit", |b| {
        b.iter_custom(event_ping_pong_run::<threadkit::Event>)
    });
    group.bench_function("naive", |b| {
        b.iter_custom(event_ping_pong_run::<NaiveEvent>)
    });
    group.finish();
}

// ---------------------------------------------------------------------------
// Barrier
// ---------------------------------------------------------------------------

fn barrier_round(c: &mut Criterion) {
    for parties in [2, 4] {
        let _load = load();
        let mut group = regime_group(c, &format!("barrier/round-{parties}"));
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

criterion_group! {
    name = benches;
    config = common::config();
    targets = semaphore_uncontended, semaphore_hand_off, event_is_set, event_ping_pong,
        barrier_round
}

fn main() {
    common::main(benches);
}
