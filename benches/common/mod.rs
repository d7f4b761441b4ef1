//! Helpers shared by the benchmark files (`mod common;` in each).

#![allow(dead_code)] // each bench file uses its own subset

use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

/// Runs `threads` pinned threads that each call `op` `iters` times, and returns
/// the wall time from their common start (a std `Barrier`) until the last one
/// has finished; thread spawn and exit are outside the clock.
pub fn run_parallel<S: Sync>(
    shared: &S,
    threads: usize,
    iters: u64,
    op: impl Fn(&S, usize) + Sync,
) -> Duration {
    let start = Barrier::new(threads + 1);
    let done = Barrier::new(threads + 1);
    thread::scope(|s| {
        for worker in 0..threads {
            let (start, done, op) = (&start, &done, &op);
            s.spawn(move || {
                pin_to_cpu(worker);
                start.wait();
                for _ in 0..iters {
                    op(shared, worker);
                }
                done.wait();
            });
        }
        start.wait();
        let began = Instant::now();
        done.wait();
        began.elapsed()
    })
}

/// Pins the calling thread to the `index`-th (modulo their number) of the CPUs
/// that the process may run on, unless fewer than two are available or
/// `THREADKIT_BENCH_NO_PIN` is set. Best effort: on failure the thread stays unpinned.
#[cfg(target_os = "linux")]
pub fn pin_to_cpu(index: usize) {
    // glibc's wrappers; `cpu_set_t` is a 1024-bit mask. Declared here rather than
    // pulling in the `libc` crate for two functions in one benchmark.
    unsafe extern "C" {
        fn sched_getaffinity(pid: i32, size: usize, mask: *mut u64) -> i32;
        fn sched_setaffinity(pid: i32, size: usize, mask: *const u64) -> i32;
    }
    const WORDS: usize = 1024 / 64;

    if std::env::var_os("THREADKIT_BENCH_NO_PIN").is_some() {
        return;
    }
    let mut allowed = [0u64; WORDS];
    // SAFETY: pid 0 is the calling thread; `allowed` is a writable buffer of the
    // size passed, which is the size of glibc's `cpu_set_t`.
    if unsafe { sched_getaffinity(0, size_of_val(&allowed), allowed.as_mut_ptr()) } != 0 {
        return;
    }
    let cpus: Vec<usize> = (0..WORDS * 64)
        .filter(|&cpu| allowed[cpu / 64] & (1 << (cpu % 64)) != 0)
        .collect();
    if cpus.len() < 2 {
        return;
    }
    let cpu = cpus[index % cpus.len()];
    let mut mask = [0u64; WORDS];
    mask[cpu / 64] |= 1 << (cpu % 64);
    // SAFETY: as above; `mask` is a readable buffer of the size passed. The
    // result is ignored: an unpinned thread still gives a valid measurement.
    let _ = unsafe { sched_setaffinity(0, size_of_val(&mask), mask.as_ptr()) };
}

#[cfg(not(target_os = "linux"))]
pub fn pin_to_cpu(_index: usize) {}
