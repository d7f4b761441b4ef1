//! Criterion benchmarks of the `Watchdog`: what a service pays per
//! `Heartbeat::beat()` (the target: one relaxed atomic store, ≤ 5 ns), alone
//! and while checks take its flag back, and what one check of 1000 services
//! costs the monitor.
//!
//! Run with `cargo bench --bench watchdog`, in the regime
//! `THREADKIT_BENCH_REGIME` names (`idle` by default; see
//! `benches/common/mod.rs`). What one criterion iteration is, per group:
//!
//! - `watchdog/beat` (idle regime only): one `beat()` on a registered
//!   heartbeat of a watchdog without a monitor thread (`threadkit`), against
//!   what other designs of a beat would cost: a bare
//!   `AtomicBool::store(true, Relaxed)` (`atomic-bool-store`, the yardstick:
//!   what a beat should be), an `AtomicU64::fetch_add(1, Relaxed)`
//!   (`atomic-u64-fetch_add`, a counting beat) and an `Instant::now()`
//!   (`instant-now`, a timestamping beat, before even storing the time).
//! - `watchdog/beat-while-checking/<regime>`: one `beat()` on a thread of its
//!   own (`common::run_threads`), while something takes the flag back:
//!   nothing (`threadkit-alone`, the group's yardstick, with the same harness),
//!   a running monitor with a 1 ms interval (`threadkit-monitor-1ms`, one
//!   `swap` of the flag per millisecond), a second thread calling `check_now()`
//!   in a loop (`threadkit-check_now-loop`, a swap every check, a few hundred
//!   nanoseconds apart: far more often than any real monitor), and a bare
//!   `AtomicBool` stored by one thread while another `swap`s it in a tight
//!   loop (`atomic-bool-vs-swap-loop`, the worst a flag's cache line can
//!   bounce). The checker stops once the beats are done (within one check).
//! - `watchdog/check-1000` (idle regime only): one `check_now()` of a watchdog
//!   without a monitor thread, with 1000 services registered (1-hour
//!   timeouts; throughput in services, so criterion also shows the cost per
//!   service): none has beaten since the last check (`quiet`); every one has
//!   (`all-beat`: the 1000 beats are made before each check, outside the
//!   clock, each check timed alone); every one is stalled (`all-stalled`: a
//!   `ManualClock` two hours on, `on_stall` fired once before the measurement,
//!   each check lists all 1000 in its report).

mod common;

// A `Watchdog` under `--cfg loom` runs on loom's types, which only work inside
// a loom model: this file builds empty there.
#[cfg(not(loom))]
mod bench {
    use std::hint::black_box;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::time::{Duration, Instant};

    use criterion::{BatchSize, Criterion, Throughput, criterion_group};
    use threadkit::{Heartbeat, ManualClock, Watchdog};

    use super::common::{self, load, regime_group, run_threads, single_thread_groups};

    /// A timeout no benchmark comes near: no service stalls unless a group
    /// moves a `ManualClock` past it.
    const NEVER: Duration = Duration::from_secs(3600);

    // ---------------------------------------------------------------------------
    // One beat, and what other beats would cost
    // ---------------------------------------------------------------------------

    fn beat(c: &mut Criterion) {
        if !single_thread_groups() {
            return;
        }
        let mut group = c.benchmark_group("watchdog/beat");
        group.throughput(Throughput::Elements(1));

        let watchdog = Watchdog::builder().manual();
        let heartbeat = watchdog.register("service", NEVER);
        group.bench_function("threadkit", |b| b.iter(|| black_box(&heartbeat).beat()));

        let flag = AtomicBool::new(false);
        group.bench_function("atomic-bool-store", |b| {
            b.iter(|| black_box(&flag).store(true, Ordering::Relaxed))
        });

        let count = AtomicU64::new(0);
        group.bench_function("atomic-u64-fetch_add", |b| {
            b.iter(|| black_box(&count).fetch_add(1, Ordering::Relaxed))
        });

        group.bench_function("instant-now", |b| b.iter(Instant::now));

        group.finish();
        // The beats were all seen, and did not stall the service.
        assert!(watchdog.check_now().stalled.is_empty());
    }

    // ---------------------------------------------------------------------------
    // Beats while checks take the flag back
    // ---------------------------------------------------------------------------

    /// Thread 0 beats `iters` times, then says so; thread 1 (if `checker` is
    /// given) calls it until then. Returns the wall time of the two, which is
    /// the beats' plus at most one `checker` call.
    fn beat_against(
        iters: u64,
        beat: impl Fn() + Sync,
        checker: Option<&(dyn Fn() + Sync)>,
    ) -> Duration {
        let done = AtomicBool::new(false);
        let threads = if checker.is_some() { 2 } else { 1 };
        run_threads(threads, |k| {
            if k == 0 {
                for _ in 0..iters {
                    beat();
                }
                done.store(true, Ordering::Relaxed);
            } else if let Some(checker) = checker {
                while !done.load(Ordering::Relaxed) {
                    checker();
                }
            }
        })
        .0
    }

    fn beat_while_checking(c: &mut Criterion) {
        let _load = load();
        let mut group = regime_group(c, "watchdog/beat-while-checking");
        group.throughput(Throughput::Elements(1));

        let watchdog = Watchdog::builder().manual();
        let heartbeat = watchdog.register("service", NEVER);
        let beat = || black_box(&heartbeat).beat();
        group.bench_function("threadkit-alone", |b| {
            b.iter_custom(|iters| beat_against(iters, beat, None))
        });

        group.bench_function("threadkit-check_now-loop", |b| {
            b.iter_custom(|iters| {
                beat_against(
                    iters,
                    beat,
                    Some(&|| {
                        black_box(watchdog.check_now());
                    }),
                )
            })
        });
        assert!(watchdog.check_now().stalled.is_empty());
        drop(heartbeat);

        let monitored = Watchdog::builder()
            .interval(Duration::from_millis(1))
            .thread_name("bench-watchdog")
            .spawn()
            .expect("spawn the monitor");
        let heartbeat = monitored.register("service", NEVER);
        group.bench_function("threadkit-monitor-1ms", |b| {
            b.iter_custom(|iters| beat_against(iters, || black_box(&heartbeat).beat(), None))
        });
        assert!(monitored.is_running());
        monitored.stop();

        let flag = AtomicBool::new(false);
        group.bench_function("atomic-bool-vs-swap-loop", |b| {
            b.iter_custom(|iters| {
                beat_against(
                    iters,
                    || black_box(&flag).store(true, Ordering::Relaxed),
                    Some(&|| {
                        black_box(flag.swap(false, Ordering::Relaxed));
                    }),
                )
            })
        });

        group.finish();
    }

    // ---------------------------------------------------------------------------
    // One check of 1000 services
    // ---------------------------------------------------------------------------

    const SERVICES: usize = 1000;

    /// `SERVICES` heartbeats of `watchdog`, named `service-0`, ...
    fn register_all(watchdog: &Watchdog) -> Vec<Heartbeat> {
        (0..SERVICES)
            .map(|k| watchdog.register(&format!("service-{k}"), NEVER))
            .collect()
    }

    fn check_1000(c: &mut Criterion) {
        if !single_thread_groups() {
            return;
        }
        let mut group = c.benchmark_group("watchdog/check-1000");
        group.throughput(Throughput::Elements(SERVICES as u64));

        let watchdog = Watchdog::builder().manual();
        let heartbeats = register_all(&watchdog);
        group.bench_function("quiet", |b| b.iter(|| watchdog.check_now()));

        group.bench_function("all-beat", |b| {
            b.iter_batched(
                || heartbeats.iter().for_each(Heartbeat::beat),
                |()| watchdog.check_now(),
                BatchSize::PerIteration,
            )
        });
        assert!(watchdog.check_now().stalled.is_empty());
        drop(heartbeats);

        let clock = ManualClock::new();
        let watchdog = Watchdog::builder()
            .clock(clock.clone())
            .on_stall(|status| {
                black_box(status);
            })
            .manual();
        let _heartbeats = register_all(&watchdog);
        clock.advance(2 * NEVER);
        assert_eq!(watchdog.check_now().stalled.len(), SERVICES);
        group.bench_function("all-stalled", |b| b.iter(|| watchdog.check_now()));

        group.finish();
    }

    criterion_group! {
        name = benches;
        config = common::config();
        targets = beat, beat_while_checking, check_1000
    }

    pub fn main() {
        common::main(benches);
    }
}

fn main() {
    #[cfg(not(loom))]
    bench::main();
}
