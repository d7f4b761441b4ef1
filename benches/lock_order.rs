//! What the `lock-order` and `deadlock-detection` features cost a `Lock`,
//! against the `tracing-mutex` crate (the anchor: a std `Mutex` whose every
//! acquisition takes a global dependency-graph lock), `parking_lot::Mutex`,
//! and std's `Mutex`.
//!
//! Build it three ways and compare threadkit's row with the peers' rows of the
//! same run (the peers do not change with threadkit's features):
//!
//! ```text
//! cargo bench --bench lock_order
//! cargo bench --bench lock_order --features lock-order
//! cargo bench --bench lock_order --features deadlock-detection
//! ```
//!
//! What one criterion iteration is, per group:
//!
//! - `lock-order/alone`: one `lock()` and the guard's drop, with no other lock
//!   held (the lock lives on the stack, reached through `black_box`).
//! - `lock-order/nested-known`: the same, while this thread holds another
//!   lock of the same kind (taken once, outside the timed loop): with the
//!   checker on, the "held → acquired" edge is already recorded after the first
//!   iteration, so this is the fast path of every nested acquisition.
//! - `lock-order/nested-known-4-threads`: four threads (unpinned, on a 2-CPU
//!   machine), each with its own pair of locks, each doing the nested
//!   acquisition of `nested-known`; one iteration is one acquisition per
//!   thread, timed from a common start to the last thread's end. With no
//!   global lock on the path this is about `2 ×` the one-thread figure on two
//!   CPUs (four threads share two CPUs); a global lock makes it worse.

mod common;

#[cfg(not(loom))]
mod bench {
    use std::hint::black_box;
    use std::sync::{Arc, Barrier};
    use std::thread;
    use std::time::{Duration, Instant};

    use criterion::{Criterion, Throughput, criterion_group};

    use super::common::{self, single_thread_groups};

    /// The four kinds of lock measured, behind one interface.
    trait Kind: Send + Sync + 'static {
        const NAME: &'static str;
        fn new() -> Self;
        /// Locks and unlocks once.
        fn cycle(&self);
        /// Runs `f` while holding the lock.
        fn holding(&self, f: impl FnOnce());
    }

    impl Kind for threadkit::Lock<u64> {
        const NAME: &'static str = "threadkit";
        fn new() -> Self {
            threadkit::Lock::new(0)
        }
        #[inline(always)]
        fn cycle(&self) {
            *self.lock() += 1;
        }
        fn holding(&self, f: impl FnOnce()) {
            let _held = self.lock();
            f();
        }
    }

    impl Kind for tracing_mutex::stdsync::tracing::Mutex<u64> {
        const NAME: &'static str = "tracing-mutex";
        fn new() -> Self {
            tracing_mutex::stdsync::tracing::Mutex::new(0)
        }
        #[inline(always)]
        fn cycle(&self) {
            *self.lock().unwrap() += 1;
        }
        fn holding(&self, f: impl FnOnce()) {
            let _held = self.lock().unwrap();
            f();
        }
    }

    impl Kind for parking_lot::Mutex<u64> {
        const NAME: &'static str = "parking_lot";
        fn new() -> Self {
            parking_lot::Mutex::new(0)
        }
        #[inline(always)]
        fn cycle(&self) {
            *self.lock() += 1;
        }
        fn holding(&self, f: impl FnOnce()) {
            let _held = self.lock();
            f();
        }
    }

    impl Kind for std::sync::Mutex<u64> {
        const NAME: &'static str = "std";
        fn new() -> Self {
            std::sync::Mutex::new(0)
        }
        #[inline(always)]
        fn cycle(&self) {
            *self.lock().unwrap() += 1;
        }
        fn holding(&self, f: impl FnOnce()) {
            let _held = self.lock().unwrap();
            f();
        }
    }

    fn alone_one<K: Kind>(
        group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    ) {
        let lock = K::new();
        group.bench_function(K::NAME, |b| b.iter(|| black_box(&lock).cycle()));
    }

    fn alone(c: &mut Criterion) {
        if !single_thread_groups() {
            return;
        }
        let mut group = c.benchmark_group("lock-order/alone");
        group.throughput(Throughput::Elements(1));
        alone_one::<threadkit::Lock<u64>>(&mut group);
        alone_one::<tracing_mutex::stdsync::tracing::Mutex<u64>>(&mut group);
        alone_one::<parking_lot::Mutex<u64>>(&mut group);
        alone_one::<std::sync::Mutex<u64>>(&mut group);
        group.finish();
    }

    fn nested_one<K: Kind>(
        group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    ) {
        let (outer, inner) = (K::new(), K::new());
        outer.holding(|| {
            inner.cycle(); // records the edge once
            group.bench_function(K::NAME, |b| b.iter(|| black_box(&inner).cycle()));
        });
    }

    fn nested_known(c: &mut Criterion) {
        if !single_thread_groups() {
            return;
        }
        let mut group = c.benchmark_group("lock-order/nested-known");
        group.throughput(Throughput::Elements(1));
        nested_one::<threadkit::Lock<u64>>(&mut group);
        nested_one::<tracing_mutex::stdsync::tracing::Mutex<u64>>(&mut group);
        nested_one::<parking_lot::Mutex<u64>>(&mut group);
        nested_one::<std::sync::Mutex<u64>>(&mut group);
        group.finish();
    }

    const THREADS: usize = 4;

    /// `iters` nested acquisitions on each of four threads, each with its own
    /// pair of locks: the wall time from a common start to the last end.
    fn four_threads<K: Kind>(iters: u64) -> Duration {
        let start = Arc::new(Barrier::new(THREADS + 1));
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                let start = Arc::clone(&start);
                thread::spawn(move || {
                    let (outer, inner) = (K::new(), K::new());
                    outer.holding(|| {
                        inner.cycle();
                        start.wait();
                        for _ in 0..iters {
                            black_box(&inner).cycle();
                        }
                    });
                    Instant::now()
                })
            })
            .collect();
        start.wait();
        let began = Instant::now();
        let ended = workers
            .into_iter()
            .map(|w| w.join().unwrap())
            .max()
            .unwrap();
        ended.duration_since(began)
    }

    fn nested_known_threads(c: &mut Criterion) {
        if !single_thread_groups() {
            return;
        }
        let mut group = c.benchmark_group("lock-order/nested-known-4-threads");
        group.throughput(Throughput::Elements(THREADS as u64));
        group.bench_function("threadkit", |b| {
            b.iter_custom(four_threads::<threadkit::Lock<u64>>);
        });
        group.bench_function("tracing-mutex", |b| {
            b.iter_custom(four_threads::<tracing_mutex::stdsync::tracing::Mutex<u64>>);
        });
        group.bench_function("parking_lot", |b| {
            b.iter_custom(four_threads::<parking_lot::Mutex<u64>>);
        });
        group.finish();
    }

    criterion_group! {
        name = benches;
        config = common::config();
        targets = alone, nested_known, nested_known_threads
    }

    pub fn main() {
        common::main(benches);
    }
}

fn main() {
    #[cfg(not(loom))]
    bench::main();
}
