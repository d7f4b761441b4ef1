//! Helpers shared by the benchmark files (`mod common;` in each): the regime a
//! run measures in, the thread runners, CPU-time accounting, (`handoff`) each
//! hand-off written for threadkit and for its peers, and (`queue`) the queue
//! workloads with `BoundedQueue`'s peers.
//!
//! # Regimes
//!
//! `THREADKIT_BENCH_REGIME` selects how the threaded (hand-off) groups run; each
//! group's name ends in the regime (`event/ping-pong/idle`, ...):
//!
//! - `idle` (the default): threads unpinned, nothing else running, the way a
//!   user runs them.
//! - `one-cpu`: [`init`] restricts the whole process to one CPU (the first CPU
//!   it may use) before any other thread exists, so every thread spawned later
//!   inherits the mask, as under `taskset -c 0` or in a container limited to
//!   one CPU; `available_parallelism()` then says 1.
//! - `busy`: threads unpinned, and while each group runs, one spinning thread
//!   per CPU (`available_parallelism()` of them, unpinned) competes for the CPUs.
//! - `pinned`: the earlier figures: worker `k` of a threaded group is pinned to
//!   the `k`-th CPU the process may use (round-robin).
//!
//! Single-thread groups (uncontended locks, `is_set`, `try_lock_for(ZERO)`)
//! do not depend on the regime: they run in the `idle` regime only, under
//! their plain names (`lock/uncontended`).

#![allow(dead_code)] // each bench file uses its own subset

pub mod handoff;
pub mod queue;

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};

/// The environment variable that selects the regime.
pub const REGIME_VAR: &str = "THREADKIT_BENCH_REGIME";

/// How the threaded groups of this run are measured (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Regime {
    Idle,
    OneCpu,
    Busy,
    Pinned,
}

impl Regime {
    pub const ALL: [Regime; 4] = [Regime::Idle, Regime::OneCpu, Regime::Busy, Regime::Pinned];

    pub fn name(self) -> &'static str {
        match self {
            Regime::Idle => "idle",
            Regime::OneCpu => "one-cpu",
            Regime::Busy => "busy",
            Regime::Pinned => "pinned",
        }
    }
}

/// The regime of this run, read once from `THREADKIT_BENCH_REGIME` (default
/// `idle`). An unknown value panics rather than measure the wrong thing.
pub fn regime() -> Regime {
    static REGIME: OnceLock<Regime> = OnceLock::new();
    *REGIME.get_or_init(|| {
        let value = std::env::var(REGIME_VAR).unwrap_or_default();
        if value.is_empty() {
            return Regime::Idle;
        }
        Regime::ALL
            .into_iter()
            .find(|regime| regime.name() == value)
            .unwrap_or_else(|| {
                panic!("{REGIME_VAR}={value:?}: expected one of idle, one-cpu, busy, pinned")
            })
    })
}

/// `criterion_main!` for the group function `benches` (what `criterion_group!`
/// defines), with the regime applied first, before any thread exists.
pub fn main(benches: fn()) {
    init();
    benches();
    Criterion::default().configure_from_args().final_summary();
}

/// Call first in `main`, before criterion or anything else starts a thread:
/// applies the regime to the process (`one-cpu`: restricts every thread of the
/// process, and so every thread spawned later, to one CPU) and says on stderr
/// what it measures.
pub fn init() -> Regime {
    let regime = regime();
    let allowed = allowed_cpus();
    if regime == Regime::OneCpu {
        let cpu = *allowed.first().expect("the process may run on no CPU");
        restrict_process_to(cpu);
        let seen = thread::available_parallelism().map_or(0, |n| n.get());
        assert_eq!(
            seen, 1,
            "{REGIME_VAR}=one-cpu: available_parallelism() is {seen} after restricting the process to CPU {cpu}"
        );
        eprintln!("threadkit bench regime: one-cpu (whole process on CPU {cpu})");
    } else {
        if allowed.len() < 2 {
            eprintln!(
                "warning: {REGIME_VAR}={}, but the process may run on {} CPU(s) only \
                 (taskset?): the figures are really one-cpu figures",
                regime.name(),
                allowed.len()
            );
        }
        eprintln!(
            "threadkit bench regime: {} ({} CPUs)",
            regime.name(),
            allowed.len()
        );
    }
    regime
}

/// The settings of every group: 30 samples after 1 s of warm-up, 2.5 s of
/// measurement, so that one regime of both suites takes about 2.5 minutes on a
/// small machine (`docs/benchmarks.md`). Set in no group, so that criterion's
/// command line (`--warm-up-time`, `--measurement-time`) overrides them all.
pub fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_millis(2500))
        .nresamples(10_000)
}

/// A criterion group for a threaded figure: `base` with the regime appended
/// (`event/ping-pong` becomes `event/ping-pong/idle`).
pub fn regime_group<'a>(c: &'a mut Criterion, base: &str) -> BenchmarkGroup<'a, WallTime> {
    c.benchmark_group(format!("{base}/{}", regime().name()))
}

/// Whether the single-thread groups (which do not depend on the regime) run.
pub fn single_thread_groups() -> bool {
    regime() == Regime::Idle
}

// ---------------------------------------------------------------------------
// Competing load (the `busy` regime)
// ---------------------------------------------------------------------------

/// One spinning thread per CPU while it lives (the `busy` regime's load); the
/// threads stop and are joined when it is dropped.
pub struct Load {
    stop: Arc<AtomicBool>,
    spinners: Vec<JoinHandle<u64>>,
}

impl Load {
    /// Starts `available_parallelism()` unpinned spinning threads.
    pub fn start() -> Load {
        let cpus = thread::available_parallelism().map_or(1, |n| n.get());
        let stop = Arc::new(AtomicBool::new(false));
        let spinners = (0..cpus)
            .map(|k| {
                let stop = Arc::clone(&stop);
                thread::Builder::new()
                    .name(format!("bench-load-{k}"))
                    .spawn(move || {
                        let mut x = k as u64 + 1;
                        while !stop.load(Ordering::Relaxed) {
                            for _ in 0..1000 {
                                // xorshift: work the optimiser cannot remove.
                                x ^= x << 13;
                                x ^= x >> 7;
                                x ^= x << 17;
                                x = black_box(x);
                            }
                        }
                        x
                    })
                    .expect("spawn a load thread")
            })
            .collect();
        Load { stop, spinners }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for spinner in self.spinners.drain(..) {
            let _ = spinner.join();
        }
    }
}

/// The competing load of this run's regime: spinning threads in `busy`, none
/// otherwise. Hold it for as long as the group runs.
pub fn load() -> Option<Load> {
    (regime() == Regime::Busy).then(Load::start)
}

// ---------------------------------------------------------------------------
// Running threads
// ---------------------------------------------------------------------------

/// Runs `threads` threads, thread `k` calling `body(k)`, and returns the wall
/// time from their common start (a std `Barrier`) until the last one has
/// finished (a second one), with each thread's result. Thread spawn and exit
/// are outside the clock; what remains besides `body` is one barrier wake-up
/// on each side (tens of microseconds), negligible against a criterion sample.
/// In the `pinned` regime thread `k` is pinned to the `k`-th CPU (round-robin);
/// otherwise threads are not pinned.
pub fn run_threads<R: Send>(
    threads: usize,
    body: impl Fn(usize) -> R + Sync,
) -> (Duration, Vec<R>) {
    let start = Barrier::new(threads + 1);
    let done = Barrier::new(threads + 1);
    let pin = regime() == Regime::Pinned;
    thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|k| {
                let (start, done, body) = (&start, &done, &body);
                s.spawn(move || {
                    if pin {
                        pin_to_cpu(k);
                    }
                    start.wait();
                    let result = body(k);
                    done.wait();
                    result
                })
            })
            .collect();
        start.wait();
        let began = Instant::now();
        done.wait();
        let elapsed = began.elapsed();
        let results = workers.into_iter().map(|w| w.join().unwrap()).collect();
        (elapsed, results)
    })
}

/// Runs `threads` threads that each call `op(shared, k)` `iters` times; the
/// wall time as in [`run_threads`].
pub fn run_parallel<S: Sync>(
    shared: &S,
    threads: usize,
    iters: u64,
    op: impl Fn(&S, usize) + Sync,
) -> Duration {
    run_threads(threads, |k| {
        for _ in 0..iters {
            op(shared, k);
        }
    })
    .0
}

/// Ping-pong between two threads: `side(false, iters)` and `side(true, iters)`
/// each run on their own thread (spawned, so criterion's thread keeps its CPU
/// mask); the wall time as in [`run_threads`]. Each side hands the turn to the
/// other `iters` times, so the time covers `iters` round trips.
pub fn ping_pong(iters: u64, side: impl Fn(bool, u64) + Sync) -> Duration {
    run_threads(2, |k| side(k == 1, iters)).0
}

// ---------------------------------------------------------------------------
// Linux: CPU affinity and CPU time (glibc's wrappers, declared here rather
// than adding the `libc` crate to the manifest for three functions)
// ---------------------------------------------------------------------------

#[cfg(target_os = "linux")]
mod sys {
    use std::ffi::{c_int, c_long};

    /// glibc's `cpu_set_t`: a 1024-bit mask.
    pub const MASK_WORDS: usize = 1024 / 64;

    #[repr(C)]
    pub struct Timeval {
        pub tv_sec: c_long,
        pub tv_usec: c_long,
    }

    /// `struct rusage`: two `timeval`s and fourteen `long`s.
    #[repr(C)]
    pub struct Rusage {
        pub ru_utime: Timeval,
        pub ru_stime: Timeval,
        pub rest: [c_long; 14],
    }

    pub const RUSAGE_SELF: c_int = 0;
    pub const RUSAGE_THREAD: c_int = 1;

    unsafe extern "C" {
        pub fn sched_getaffinity(pid: c_int, size: usize, mask: *mut u64) -> c_int;
        pub fn sched_setaffinity(pid: c_int, size: usize, mask: *const u64) -> c_int;
        pub fn getrusage(who: c_int, usage: *mut Rusage) -> c_int;
    }
}

/// The CPUs the calling thread may run on, in increasing order.
#[cfg(target_os = "linux")]
pub fn allowed_cpus() -> Vec<usize> {
    let mut allowed = [0u64; sys::MASK_WORDS];
    // SAFETY: pid 0 is the calling thread; `allowed` is a writable buffer of
    // the size passed, which is the size of glibc's `cpu_set_t`.
    if unsafe { sys::sched_getaffinity(0, size_of_val(&allowed), allowed.as_mut_ptr()) } != 0 {
        let cpus = thread::available_parallelism().map_or(1, |n| n.get());
        return (0..cpus).collect();
    }
    (0..sys::MASK_WORDS * 64)
        .filter(|&cpu| allowed[cpu / 64] & (1 << (cpu % 64)) != 0)
        .collect()
}

#[cfg(not(target_os = "linux"))]
pub fn allowed_cpus() -> Vec<usize> {
    let cpus = thread::available_parallelism().map_or(1, |n| n.get());
    (0..cpus).collect()
}

#[cfg(target_os = "linux")]
fn set_affinity(tid: i32, cpu: usize) -> bool {
    let mut mask = [0u64; sys::MASK_WORDS];
    mask[cpu / 64] |= 1 << (cpu % 64);
    // SAFETY: `mask` is a readable buffer of the size of glibc's `cpu_set_t`.
    unsafe { sys::sched_setaffinity(tid, size_of_val(&mask), mask.as_ptr()) == 0 }
}

/// Restricts every thread of the process to `cpu`: the threads that exist now
/// (normally only the calling one, at the start of `main`) and, as a thread
/// inherits its creator's mask, every thread created later.
#[cfg(target_os = "linux")]
fn restrict_process_to(cpu: usize) {
    assert!(set_affinity(0, cpu), "sched_setaffinity(CPU {cpu}) failed");
    let tasks = std::fs::read_dir("/proc/self/task").expect("read /proc/self/task");
    for task in tasks.flatten() {
        if let Some(tid) = task.file_name().to_str().and_then(|s| s.parse().ok()) {
            // A thread that exited meanwhile is no longer there to restrict.
            let _ = set_affinity(tid, cpu);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn restrict_process_to(_cpu: usize) {
    panic!("{REGIME_VAR}=one-cpu needs Linux (sched_setaffinity); use the OS's own tool");
}

/// Pins the calling thread to the `index`-th (modulo their number) of the CPUs
/// that the process may run on, unless fewer than two are available. Best
/// effort: on failure the thread stays unpinned.
#[cfg(target_os = "linux")]
pub fn pin_to_cpu(index: usize) {
    let cpus = allowed_cpus();
    if cpus.len() >= 2 {
        // The result is ignored: an unpinned thread still measures something valid.
        let _ = set_affinity(0, cpus[index % cpus.len()]);
    }
}

#[cfg(not(target_os = "linux"))]
pub fn pin_to_cpu(_index: usize) {}

#[cfg(target_os = "linux")]
fn rusage(who: std::ffi::c_int) -> Duration {
    let mut usage = std::mem::MaybeUninit::<sys::Rusage>::zeroed();
    // SAFETY: `usage` is a writable `struct rusage`.
    let rc = unsafe { sys::getrusage(who, usage.as_mut_ptr()) };
    assert_eq!(rc, 0, "getrusage failed");
    // SAFETY: zero-initialised, and filled in by a successful `getrusage`.
    let usage = unsafe { usage.assume_init() };
    let time = |tv: &sys::Timeval| {
        Duration::from_secs(tv.tv_sec as u64) + Duration::from_micros(tv.tv_usec as u64)
    };
    time(&usage.ru_utime) + time(&usage.ru_stime)
}

/// User + system CPU time of the whole process (`getrusage(RUSAGE_SELF)`).
#[cfg(target_os = "linux")]
pub fn process_cpu_time() -> Duration {
    rusage(sys::RUSAGE_SELF)
}

/// User + system CPU time of the calling thread (`getrusage(RUSAGE_THREAD)`).
#[cfg(target_os = "linux")]
pub fn thread_cpu_time() -> Duration {
    rusage(sys::RUSAGE_THREAD)
}
