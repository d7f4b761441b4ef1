//! Hand-off and queue figures as distributions over fresh processes.
//!
//! One invocation measures one figure in this process: threadkit and its
//! peers take turns (each run with new threads and a new primitive), several
//! runs each, beside the machine's own park/unpark and spin round trips, and
//! one JSON line goes to stdout. `docs/benchmarks/fresh.py` runs it in many
//! fresh processes in every regime and turns the lines into the tables of
//! `docs/benchmarks.md`: a pair of threads that settles into a bad mode in one
//! process in ten shows up there, as it would not in one long run.
//!
//! ```text
//! cargo bench --bench fresh -- FIGURE [--runs N] [--millis M]
//! cargo bench --bench fresh -- list
//! ```
//!
//! In the regime `THREADKIT_BENCH_REGIME` names (`benches/common/mod.rs`).
//! `--runs` (default 5) runs of about `--millis` (default 150) each, per
//! implementation; the figures with a latency (ping-pongs and hand-offs) also
//! time every round trip of one more run and report the percentiles of one
//! hand-off (half a round trip).

mod common;

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use common::handoff::{
    NaiveEvent, NaiveSemaphore, PingPongEvent, event_side, naive_semaphore_side,
    parking_lot_condition_side, threadkit_condition_side, threadkit_semaphore_side,
};
use common::queue::{BenchQueue, Crossbeam, Flume, Kanal, ping_pong, transfer};
use common::{run_parallel, run_threads};

type Queue = threadkit::BoundedQueue<u64>;

/// A figure: its implementations (threadkit first), a run of `iters`
/// operations of one of them, and, for a ping-pong, one side of `iters` round
/// trips (`side(imp, me, iters)` on the two threads of a pair).
struct Figure {
    name: &'static str,
    imps: &'static [&'static str],
    run: fn(&str, u64) -> Duration,
    round_trips: Option<MakePingPong>,
}

/// Makes a fresh ping-pong of one implementation.
type MakePingPong = fn(&str) -> Box<dyn PingPong>;

/// Both sides of a ping-pong on one primitive (or pair of them), one round
/// trip per call of the pinger's side.
trait PingPong: Sync {
    fn side(&self, me: bool, iters: u64);
}

struct Pair<T>(T, T);

impl<E: PingPongEvent> PingPong for Pair<E> {
    fn side(&self, me: bool, iters: u64) {
        event_side(&self.0, &self.1, me, iters)
    }
}

struct ThreadkitSemaphores(threadkit::Semaphore, threadkit::Semaphore);
impl PingPong for ThreadkitSemaphores {
    fn side(&self, me: bool, iters: u64) {
        threadkit_semaphore_side(&self.0, &self.1, me, iters)
    }
}

struct NaiveSemaphores(NaiveSemaphore, NaiveSemaphore);
impl PingPong for NaiveSemaphores {
    fn side(&self, me: bool, iters: u64) {
        naive_semaphore_side(&self.0, &self.1, me, iters)
    }
}

struct ThreadkitCondition(threadkit::Lock<bool>, threadkit::Condition);
impl PingPong for ThreadkitCondition {
    fn side(&self, me: bool, iters: u64) {
        threadkit_condition_side(&self.0, &self.1, me, iters)
    }
}

struct ParkingLotCondition(parking_lot::Mutex<bool>, parking_lot::Condvar);
impl PingPong for ParkingLotCondition {
    fn side(&self, me: bool, iters: u64) {
        parking_lot_condition_side(&self.0, &self.1, me, iters)
    }
}

/// Two queues of capacity 1: the pinger puts into the first and gets the
/// item back from the second.
struct Queues<Q>(Q, Q);
impl<Q: BenchQueue> PingPong for Queues<Q> {
    fn side(&self, me: bool, iters: u64) {
        for i in 0..iters {
            if me {
                self.1.put(self.0.get());
            } else {
                self.0.put(i);
                assert_eq!(self.1.get(), i, "the ping-pong lost its item");
            }
        }
    }
}

fn event(imp: &str) -> Box<dyn PingPong> {
    match imp {
        "threadkit" => Box::new(Pair(threadkit::Event::new(), threadkit::Event::new())),
        _ => Box::new(Pair(NaiveEvent::new(), NaiveEvent::new())),
    }
}

fn condition(imp: &str) -> Box<dyn PingPong> {
    match imp {
        "threadkit" => Box::new(ThreadkitCondition(
            threadkit::Lock::new(false),
            threadkit::Condition::new(),
        )),
        _ => Box::new(ParkingLotCondition(
            parking_lot::Mutex::new(false),
            parking_lot::Condvar::new(),
        )),
    }
}

fn semaphore(imp: &str) -> Box<dyn PingPong> {
    match imp {
        "threadkit" => Box::new(ThreadkitSemaphores(
            threadkit::Semaphore::new(0),
            threadkit::Semaphore::new(0),
        )),
        _ => Box::new(NaiveSemaphores(
            NaiveSemaphore::new(0),
            NaiveSemaphore::new(0),
        )),
    }
}

fn queues(imp: &str) -> Box<dyn PingPong> {
    fn pair<Q: BenchQueue + 'static>() -> Box<dyn PingPong> {
        Box::new(Queues(Q::with_capacity(1), Q::with_capacity(1)))
    }
    match imp {
        "threadkit" => pair::<Queue>(),
        "crossbeam" => pair::<Crossbeam>(),
        "kanal" => pair::<Kanal>(),
        _ => pair::<Flume>(),
    }
}

/// `iters` round trips of a fresh ping-pong made by `make(imp)`.
fn ping_pong_run(make: MakePingPong, imp: &str, iters: u64) -> Duration {
    let pair = make(imp);
    common::ping_pong(iters, |me, iters| pair.side(me, iters))
}

/// `iters` items through a fresh queue of `imp`.
fn transfer_run(imp: &str, capacity: usize, threads: usize, iters: u64) -> Duration {
    match imp {
        "threadkit" => transfer::<Queue>(capacity, threads, threads, iters),
        "crossbeam" => transfer::<Crossbeam>(capacity, threads, threads, iters),
        "kanal" => transfer::<Kanal>(capacity, threads, threads, iters),
        _ => transfer::<Flume>(capacity, threads, threads, iters),
    }
}

const QUEUE_PEERS: &[&str] = &["threadkit", "crossbeam", "kanal", "flume"];

fn figures() -> Vec<Figure> {
    vec![
        Figure {
            name: "event/ping-pong",
            imps: &["threadkit", "naive"],
            run: |imp, iters| ping_pong_run(event, imp, iters),
            round_trips: Some(event),
        },
        Figure {
            name: "condition/ping-pong",
            imps: &["threadkit", "parking_lot"],
            run: |imp, iters| ping_pong_run(condition, imp, iters),
            round_trips: Some(condition),
        },
        Figure {
            name: "semaphore/hand-off",
            imps: &["threadkit", "naive"],
            run: |imp, iters| ping_pong_run(semaphore, imp, iters),
            round_trips: Some(semaphore),
        },
        Figure {
            name: "barrier/round-2",
            imps: &["threadkit", "std"],
            run: |imp, iters| match imp {
                "threadkit" => run_parallel(&threadkit::Barrier::new(2), 2, iters, |b, _| {
                    black_box(b.wait().unwrap());
                }),
                _ => run_parallel(&std::sync::Barrier::new(2), 2, iters, |b, _| {
                    black_box(b.wait());
                }),
            },
            round_trips: None,
        },
        Figure {
            name: "queue/spsc-1",
            imps: QUEUE_PEERS,
            run: |imp, iters| transfer_run(imp, 1, 1, iters),
            round_trips: None,
        },
        Figure {
            name: "queue/spsc-16",
            imps: QUEUE_PEERS,
            run: |imp, iters| transfer_run(imp, 16, 1, iters),
            round_trips: None,
        },
        Figure {
            name: "queue/spsc-1024",
            imps: QUEUE_PEERS,
            run: |imp, iters| transfer_run(imp, 1024, 1, iters),
            round_trips: None,
        },
        Figure {
            name: "queue/2p2c-64",
            imps: QUEUE_PEERS,
            run: |imp, iters| transfer_run(imp, 64, 2, iters),
            round_trips: None,
        },
        Figure {
            name: "queue/4p4c-64",
            imps: QUEUE_PEERS,
            run: |imp, iters| transfer_run(imp, 64, 4, iters),
            round_trips: None,
        },
        Figure {
            name: "queue/ping-pong",
            imps: QUEUE_PEERS,
            run: |imp, iters| match imp {
                "threadkit" => ping_pong::<Queue>(iters),
                "crossbeam" => ping_pong::<Crossbeam>(iters),
                "kanal" => ping_pong::<Kanal>(iters),
                _ => ping_pong::<Flume>(iters),
            },
            round_trips: Some(queues),
        },
    ]
}

/// How many operations of `run` take about `target`.
fn calibrate(run: impl Fn(u64) -> Duration, target: Duration) -> u64 {
    let mut iters = 64u64;
    loop {
        let took = run(iters);
        if took >= target / 8 || iters >= 1 << 30 {
            let scaled = iters as f64 * target.as_secs_f64() / took.as_secs_f64().max(1e-9);
            return (scaled as u64).max(16);
        }
        iters *= 4;
    }
}

/// Every round trip of `rounds` on a fresh pair, as the pinger saw it.
fn round_trip_times(pair: &dyn PingPong, rounds: u64) -> Vec<Duration> {
    let (_, mut times) = run_threads(2, |k| {
        if k == 1 {
            pair.side(true, rounds);
            Vec::new()
        } else {
            let mut times = Vec::with_capacity(rounds as usize);
            for _ in 0..rounds {
                let started = Instant::now();
                pair.side(false, 1);
                times.push(started.elapsed());
            }
            times
        }
    });
    times.swap_remove(0)
}

/// The `q`-quantile of sorted `times`, in nanoseconds.
fn quantile(sorted: &[Duration], q: f64) -> f64 {
    let at = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[at].as_nanos() as f64
}

/// The median round trip of two threads handing a turn back and forth with
/// `std::thread::park`/`unpark` (every hand-off a wake-up): the machine's
/// park/unpark round trip, now.
fn park_round_trip(rounds: u64) -> f64 {
    let turn = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(2));
    let main = thread::current();
    let ponger = {
        let (turn, start) = (Arc::clone(&turn), Arc::clone(&start));
        thread::spawn(move || {
            start.wait();
            for _ in 0..rounds {
                while !turn.load(Ordering::Acquire) {
                    thread::park();
                }
                turn.store(false, Ordering::Release);
                main.unpark();
            }
        })
    };
    start.wait();
    let mut times = Vec::with_capacity(rounds as usize);
    for _ in 0..rounds {
        let started = Instant::now();
        turn.store(true, Ordering::Release);
        ponger.thread().unpark();
        while turn.load(Ordering::Acquire) {
            thread::park();
        }
        times.push(started.elapsed());
    }
    ponger.join().unwrap();
    times.sort();
    quantile(&times, 0.5)
}

/// The median round trip of two threads handing a counter back and forth by
/// spinning on it: the machine's spin round trip, now (`None` on one CPU,
/// where a spinner only waits for its time slice to end).
fn spin_round_trip(rounds: u64) -> Option<f64> {
    if thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        return None;
    }
    let counter = AtomicU64::new(0);
    let (_, mut times) = run_threads(2, |k| {
        let mut times = Vec::new();
        for round in 0..rounds {
            let started = Instant::now();
            if k == 0 {
                counter.store(2 * round + 1, Ordering::Release);
                while counter.load(Ordering::Acquire) != 2 * round + 2 {
                    std::hint::spin_loop();
                }
                times.push(started.elapsed());
            } else {
                while counter.load(Ordering::Acquire) != 2 * round + 1 {
                    std::hint::spin_loop();
                }
                counter.store(2 * round + 2, Ordering::Release);
            }
        }
        times
    });
    let mut times = times.swap_remove(0);
    times.sort();
    Some(quantile(&times, 0.5))
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|arg| arg != "--bench");
    let mut figure_name = None;
    let (mut runs, mut millis) = (5usize, 150u64);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => runs = args.next().and_then(|n| n.parse().ok()).expect("--runs N"),
            "--millis" => {
                millis = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--millis M")
            }
            name => figure_name = Some(name.to_owned()),
        }
    }
    let figures = figures();
    let Some(name) = figure_name.filter(|name| name != "list") else {
        for figure in &figures {
            println!("{}", figure.name);
        }
        return;
    };
    let figure = figures
        .iter()
        .find(|figure| figure.name == name)
        .unwrap_or_else(|| panic!("no figure {name:?}: `-- list` lists them"));
    let regime = common::init();
    let _load = common::load();
    let park = park_round_trip(200);
    let spin = spin_round_trip(20_000);
    let target = Duration::from_millis(millis);
    let iters: Vec<u64> = figure
        .imps
        .iter()
        .map(|imp| calibrate(|iters| (figure.run)(imp, iters), target))
        .collect();
    let mut ns: Vec<Vec<f64>> = vec![Vec::new(); figure.imps.len()];
    for _ in 0..runs {
        for (k, imp) in figure.imps.iter().enumerate() {
            let took = (figure.run)(imp, iters[k]);
            ns[k].push(took.as_nanos() as f64 / iters[k] as f64);
        }
    }
    let mut imps = Vec::new();
    for (k, imp) in figure.imps.iter().enumerate() {
        let mut sorted = ns[k].clone();
        sorted.sort_by(f64::total_cmp);
        let mut entry = format!(
            "\"{imp}\":{{\"median_ns\":{:.1},\"runs_ns\":[{}]",
            sorted[sorted.len() / 2],
            ns[k]
                .iter()
                .map(|v| format!("{v:.1}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        if let Some(make) = figure.round_trips {
            // As many round trips as a run takes, at least 1000.
            let rounds = iters[k].clamp(1000, 200_000);
            let mut times = round_trip_times(&*make(imp), rounds);
            let mut hand_offs: Vec<Duration> = times.drain(..).map(|t| t / 2).collect();
            hand_offs.sort();
            entry += &format!(
                ",\"hand_off_ns\":{{\"p50\":{:.0},\"p99\":{:.0},\"p999\":{:.0}}}",
                quantile(&hand_offs, 0.5),
                quantile(&hand_offs, 0.99),
                quantile(&hand_offs, 0.999)
            );
        }
        entry.push('}');
        imps.push(entry);
    }
    println!(
        "{{\"figure\":\"{}\",\"regime\":\"{}\",\"cpus\":{},\"park_round_trip_ns\":{park:.0},\"spin_round_trip_ns\":{},\"imps\":{{{}}}}}",
        figure.name,
        regime.name(),
        thread::available_parallelism().map_or(1, |n| n.get()),
        spin.map_or("null".to_owned(), |v| format!("{v:.0}")),
        imps.join(",")
    );
}
