//! Criterion benchmarks of `BoundedQueue` against `crossbeam_channel::bounded`,
//! `std::sync::mpsc::sync_channel` and a naive `Mutex<VecDeque>` + two
//! `Condvar`s queue written the way a std user would (`NaiveQueue`); the
//! workloads and peers are in `benches/common/queue.rs`.
//!
//! Run with `cargo bench --bench queue`, in the regime `THREADKIT_BENCH_REGIME`
//! names (`idle` by default; see `benches/common/mod.rs`). Every group is
//! threaded, so every group carries the regime in its name. One criterion
//! iteration is, per group:
//!
//! - `queue/spsc-N/<regime>` (N = 1, 16, 1024): one item from a producer thread
//!   to a consumer thread through a queue of capacity N.
//! - `queue/2p2c-64/<regime>`, `queue/4p4c-64/<regime>`: one item through a
//!   queue of capacity 64 shared by 2 (4) producers and 2 (4) consumers.
//!   std's receiver is single-consumer: its function there, `std-mutex-rx`, is
//!   the `Arc<Mutex<Receiver>>` of a std worker pool (the lock taken for each
//!   get).
//! - `queue/ping-pong/<regime>`: one round trip of an item between two threads
//!   over two queues of capacity 1.
//!
//! Each sample starts its threads once and releases them with a barrier (see
//! `common::run_threads`): spawning and joining are outside the clock. Each
//! sample uses fresh queues, created outside the clock too, and checks
//! afterwards that no item was lost or duplicated.

mod common;

use criterion::{Criterion, Throughput, criterion_group};

use common::queue::{BenchQueue, Crossbeam, NaiveQueue, StdSync, ping_pong, transfer};
use common::{load, regime_group};

type Threadkit = threadkit::BoundedQueue<u64>;

/// One group of `producers` x `consumers` threads on a queue of `capacity`,
/// one iteration per item.
fn transfer_group(c: &mut Criterion, name: &str, capacity: usize, threads: usize) {
    fn bench<Q: BenchQueue>(
        group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
        function: &str,
        capacity: usize,
        threads: usize,
    ) {
        group.bench_function(function, |b| {
            b.iter_custom(|iters| transfer::<Q>(capacity, threads, threads, iters))
        });
    }

    let _load = load();
    let mut group = regime_group(c, name);
    group.throughput(Throughput::Elements(1));
    bench::<Threadkit>(&mut group, "threadkit", capacity, threads);
    bench::<Crossbeam>(&mut group, "crossbeam", capacity, threads);
    let std_name = if threads == 1 { "std" } else { "std-mutex-rx" };
    bench::<StdSync>(&mut group, std_name, capacity, threads);
    bench::<NaiveQueue<u64>>(&mut group, "naive", capacity, threads);
    group.finish();
}

fn spsc(c: &mut Criterion) {
    for capacity in [1, 16, 1024] {
        transfer_group(c, &format!("queue/spsc-{capacity}"), capacity, 1);
    }
}

fn mpmc(c: &mut Criterion) {
    for threads in [2, 4] {
        transfer_group(c, &format!("queue/{threads}p{threads}c-64"), 64, threads);
    }
}

fn queue_ping_pong(c: &mut Criterion) {
    let _load = load();
    let mut group = regime_group(c, "queue/ping-pong");
    group.throughput(Throughput::Elements(1));
    group.bench_function("threadkit", |b| b.iter_custom(ping_pong::<Threadkit>));
    group.bench_function("crossbeam", |b| b.iter_custom(ping_pong::<Crossbeam>));
    group.bench_function("std", |b| b.iter_custom(ping_pong::<StdSync>));
    group.bench_function("naive", |b| b.iter_custom(ping_pong::<NaiveQueue<u64>>));
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = spsc, mpmc, queue_ping_pong
}

fn main() {
    common::main(benches);
}
