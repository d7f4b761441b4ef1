//! CPU time per hand-off, beside wall time: what a waiter that polls before it
//! parks costs the machine, which criterion's wall-time figures do not show.
//!
//! Not a criterion suite (`harness = false`, its own `main`): criterion
//! measures wall time only. Each measurement runs `pairs` independent pairs of
//! threads, each pair playing a ping-pong (`benches/common/handoff.rs`), and
//! reads
//!
//! - the wall time from the common start until the last thread is done,
//! - the CPU time (user + system) of each worker thread over its own loop,
//!   `getrusage(RUSAGE_THREAD)` at its start and end, summed over the workers
//!   ("workers": it leaves out the harness and the `busy` regime's load), and
//! - the CPU time of the whole process over the same run,
//!   `getrusage(RUSAGE_SELF)` ("process": includes thread spawn and exit; not
//!   shown in the `busy` regime, where it includes the load).
//!
//! A hand-off is one pass of the turn from one thread to its partner, so a
//! round trip is two; `CPU / hand-off` divides the CPU time by every hand-off
//! of every pair, `wall / hand-off` the wall time by the hand-offs of one pair
//! (the pairs run at the same time). Cases are interleaved (round 1 of every
//! case, then round 2, ...) and the tables show medians over the rounds.
//!
//! Run with `cargo bench --bench cpu`, in the regime `THREADKIT_BENCH_REGIME`
//! names (`benches/common/mod.rs`). Knobs:
//!
//! - a positional argument filters cases by substring (`condition/4-pairs`),
//! - `--measurement-time S`: seconds per case over all rounds (default 2),
//! - `THREADKIT_CPU_ROUNDS` (default 5), `THREADKIT_CPU_PAIRS` (default `1,4`),
//! - `THREADKIT_CPU_JSON=path` also writes every round's figures as JSON (for
//!   `docs/benchmarks/run.py`).
//!
//! Without `--bench` (as `cargo test --benches` runs it) every case runs once
//! with a few iterations, as criterion's test mode does.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use common::handoff::{
    NaiveEvent, NaiveSemaphore, PingPongEvent, event_side, naive_semaphore_side,
    parking_lot_condition_side, std_condition_side, threadkit_condition_side,
    threadkit_semaphore_side,
};
use common::{Regime, run_threads};

/// What one run of a case measured.
#[derive(Clone, Copy)]
struct Sample {
    wall: Duration,
    workers_cpu: Duration,
    process_cpu: Duration,
}

/// Runs `pairs` pairs, thread `2p + s` playing side `s == 1` of pair `p` with
/// `side(p, s == 1, iters)`.
#[cfg(target_os = "linux")]
fn measure(pairs: usize, iters: u64, side: impl Fn(usize, bool, u64) + Sync) -> Sample {
    use common::{process_cpu_time, thread_cpu_time};
    let process_before = process_cpu_time();
    let (wall, cpu) = run_threads(2 * pairs, |k| {
        let before = thread_cpu_time();
        side(k / 2, k % 2 == 1, iters);
        thread_cpu_time() - before
    });
    let process_cpu = process_cpu_time() - process_before;
    Sample {
        wall,
        workers_cpu: cpu.into_iter().sum(),
        process_cpu,
    }
}

#[cfg(not(target_os = "linux"))]
fn measure(_: usize, _: u64, _: impl Fn(usize, bool, u64) + Sync) -> Sample {
    unreachable!("main returns early")
}

fn condition_threadkit(pairs: usize, iters: u64) -> Sample {
    let state: Vec<_> = (0..pairs)
        .map(|_| (threadkit::Lock::new(false), threadkit::Condition::new()))
        .collect();
    measure(pairs, iters, |p, me, iters| {
        threadkit_condition_side(&state[p].0, &state[p].1, me, iters)
    })
}

fn condition_parking_lot(pairs: usize, iters: u64) -> Sample {
    let state: Vec<_> = (0..pairs)
        .map(|_| (parking_lot::Mutex::new(false), parking_lot::Condvar::new()))
        .collect();
    measure(pairs, iters, |p, me, iters| {
        parking_lot_condition_side(&state[p].0, &state[p].1, me, iters)
    })
}

fn condition_std(pairs: usize, iters: u64) -> Sample {
    let state: Vec<_> = (0..pairs)
        .map(|_| (std::sync::Mutex::new(false), std::sync::Condvar::new()))
        .collect();
    measure(pairs, iters, |p, me, iters| {
        std_condition_side(&state[p].0, &state[p].1, me, iters)
    })
}

fn event<E: PingPongEvent>(pairs: usize, iters: u64) -> Sample {
    let state: Vec<(E, E)> = (0..pairs).map(|_| Default::default()).collect();
    measure(pairs, iters, |p, me, iters| {
        event_side(&state[p].0, &state[p].1, me, iters)
    })
}

fn semaphore_threadkit(pairs: usize, iters: u64) -> Sample {
    let state: Vec<_> = (0..pairs)
        .map(|_| (threadkit::Semaphore::new(0), threadkit::Semaphore::new(0)))
        .collect();
    measure(pairs, iters, |p, me, iters| {
        threadkit_semaphore_side(&state[p].0, &state[p].1, me, iters)
    })
}

fn semaphore_naive(pairs: usize, iters: u64) -> Sample {
    let state: Vec<_> = (0..pairs)
        .map(|_| (NaiveSemaphore::new(0), NaiveSemaphore::new(0)))
        .collect();
    measure(pairs, iters, |p, me, iters| {
        naive_semaphore_side(&state[p].0, &state[p].1, me, iters)
    })
}

/// (figure, implementation, run): the first implementation of a figure is
/// threadkit, the rest are its peers.
type Case = (&'static str, &'static str, fn(usize, u64) -> Sample);

const CASES: [Case; 7] = [
    ("condition", "threadkit", condition_threadkit),
    ("condition", "parking_lot", condition_parking_lot),
    ("condition", "std", condition_std),
    ("event", "threadkit", event::<threadkit::Event>),
    ("event", "naive", event::<NaiveEvent>),
    ("semaphore", "threadkit", semaphore_threadkit),
    ("semaphore", "naive", semaphore_naive),
];

/// The command line, criterion's way: `--bench` means measure (otherwise a
/// quick test run), positional arguments filter, criterion's other options
/// are accepted and ignored except `--measurement-time`.
struct Args {
    bench: bool,
    filters: Vec<String>,
    measurement_time: Duration,
}

fn parse_args() -> Args {
    const WITH_VALUE: [&str; 16] = [
        "--warm-up-time",
        "--sample-size",
        "--save-baseline",
        "-s",
        "--baseline",
        "-b",
        "--baseline-lenient",
        "--load-baseline",
        "--profile-time",
        "--nresamples",
        "--noise-threshold",
        "--confidence-level",
        "--significance-level",
        "--plotting-backend",
        "--output-format",
        "--color",
    ];
    let mut args = Args {
        bench: false,
        filters: Vec::new(),
        measurement_time: Duration::from_secs(2),
    };
    let mut argv = std::env::args().skip(1);
    while let Some(arg) = argv.next() {
        if arg == "--bench" {
            args.bench = true;
        } else if arg == "--measurement-time" {
            let secs: f64 = argv
                .next()
                .and_then(|v| v.parse().ok())
                .expect("--measurement-time takes a number of seconds");
            args.measurement_time = Duration::from_secs_f64(secs);
        } else if WITH_VALUE.contains(&arg.as_str()) {
            argv.next();
        } else if !arg.starts_with('-') {
            args.filters.push(arg);
        }
    }
    args
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not valid")),
        Err(_) => default,
    }
}

/// Iterations for one round of about `target` wall time.
fn calibrate(run: fn(usize, u64) -> Sample, pairs: usize, target: Duration) -> u64 {
    let mut iters = 100u64;
    loop {
        let wall = run(pairs, iters).wall;
        if wall >= Duration::from_millis(20) || iters >= 10_000_000 {
            let per_iter = wall.as_secs_f64() / iters as f64;
            return ((target.as_secs_f64() / per_iter) as u64).clamp(100, 50_000_000);
        }
        iters *= 10;
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn ns(value: f64) -> String {
    if value >= 1000.0 {
        format!("{:.2} µs", value / 1000.0)
    } else {
        format!("{value:.0} ns")
    }
}

/// Per-hand-off figures of one round, in ns.
#[derive(Clone, Copy)]
struct PerHandOff {
    wall: f64,
    workers_cpu: f64,
    process_cpu: f64,
}

fn main() {
    let regime = common::init();
    if !cfg!(target_os = "linux") {
        eprintln!("benches/cpu.rs needs Linux (getrusage(RUSAGE_THREAD)); skipped");
        return;
    }
    let args = parse_args();
    let rounds: usize = if args.bench {
        env_or("THREADKIT_CPU_ROUNDS", 5)
    } else {
        1
    };
    let pair_counts: Vec<usize> = env_or("THREADKIT_CPU_PAIRS", "1,4".to_string())
        .split(',')
        .map(|n| {
            n.trim()
                .parse()
                .expect("THREADKIT_CPU_PAIRS: a list like 1,4")
        })
        .collect();
    let _load = common::load();

    // (pairs, figure, implementation) -> per-hand-off figures of each round.
    let mut results: BTreeMap<(usize, &str, &str), Vec<PerHandOff>> = BTreeMap::new();
    for &pairs in &pair_counts {
        let cases: Vec<&Case> = CASES
            .iter()
            .filter(|(figure, imp, _)| {
                let name = format!("{figure}/{pairs}-pairs/{imp}");
                args.filters.is_empty() || args.filters.iter().any(|f| name.contains(f.as_str()))
            })
            .collect();
        let iters: Vec<u64> = cases
            .iter()
            .map(|(_, _, run)| {
                if args.bench {
                    calibrate(*run, pairs, args.measurement_time / rounds as u32)
                } else {
                    20
                }
            })
            .collect();
        for _ in 0..rounds {
            for (&&(figure, imp, run), &iters) in cases.iter().zip(&iters) {
                let sample = run(pairs, iters);
                let hand_offs = 2.0 * iters as f64;
                results
                    .entry((pairs, figure, imp))
                    .or_default()
                    .push(PerHandOff {
                        wall: sample.wall.as_nanos() as f64 / hand_offs,
                        workers_cpu: sample.workers_cpu.as_nanos() as f64
                            / (hand_offs * pairs as f64),
                        process_cpu: sample.process_cpu.as_nanos() as f64
                            / (hand_offs * pairs as f64),
                    });
            }
        }
    }

    let busy = regime == Regime::Busy;
    let medians = |rounds: &[PerHandOff], field: fn(&PerHandOff) -> f64| {
        median(rounds.iter().map(field).collect())
    };
    println!(
        "\nCPU time per hand-off, regime {} (medians of {rounds} round(s))\n",
        regime.name()
    );
    println!(
        "| threads | figure / implementation | wall / hand-off | CPU / hand-off (workers) | CPU / hand-off (process) | CPUs busy |"
    );
    println!("|---|---|---:|---:|---:|---:|");
    for (&(pairs, figure, imp), rounds) in &results {
        let wall = medians(rounds, |r| r.wall);
        let cpu = medians(rounds, |r| r.workers_cpu);
        let process = if busy {
            "-".to_string()
        } else {
            ns(medians(rounds, |r| r.process_cpu))
        };
        // CPU seconds per wall second: how many CPUs the pairs kept busy.
        let busy_cpus = cpu * pairs as f64 / wall;
        println!(
            "| {} ({pairs} pair{}) | {figure} / {imp} | {} | {} | {process} | {busy_cpus:.2} |",
            2 * pairs,
            if pairs == 1 { "" } else { "s" },
            ns(wall),
            ns(cpu)
        );
    }
    println!("\n| ratio (threadkit / peer) | wall | CPU (workers) |");
    println!("|---|---:|---:|");
    for (&(pairs, figure, imp), rounds) in &results {
        let Some(ours) = results.get(&(pairs, figure, "threadkit")) else {
            continue;
        };
        if imp == "threadkit" {
            continue;
        }
        println!(
            "| {figure}, {} threads / {imp} | {:.3} | {:.3} |",
            2 * pairs,
            medians(ours, |r| r.wall) / medians(rounds, |r| r.wall),
            medians(ours, |r| r.workers_cpu) / medians(rounds, |r| r.workers_cpu),
        );
    }

    if let Ok(path) = std::env::var("THREADKIT_CPU_JSON") {
        let mut json = format!(
            "{{\n \"regime\": \"{}\",\n \"rounds\": {rounds},\n \"cases\": {{",
            regime.name()
        );
        let list = |rounds: &[PerHandOff], field: fn(&PerHandOff) -> f64| {
            let values: Vec<String> = rounds.iter().map(|r| format!("{:.3}", field(r))).collect();
            format!("[{}]", values.join(", "))
        };
        for (i, (&(pairs, figure, imp), rounds)) in results.iter().enumerate() {
            let _ = write!(
                json,
                "{}\n  \"{figure}/{pairs}-pairs/{imp}\": {{\"wall_ns\": {}, \"cpu_ns\": {}, \"process_cpu_ns\": {}}}",
                if i == 0 { "" } else { "," },
                list(rounds, |r| r.wall),
                list(rounds, |r| r.workers_cpu),
                if busy {
                    "null".to_string()
                } else {
                    list(rounds, |r| r.process_cpu)
                },
            );
        }
        json.push_str("\n }\n}\n");
        std::fs::write(&path, json).unwrap_or_else(|e| panic!("write {path}: {e}"));
    }
}
