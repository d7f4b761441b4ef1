//! Lock's no-starvation promise (SPEC: "under constant contention every waiting
//! thread gets the lock within a bounded time": parking_lot's eventual fairness).
//!
//! Its own test binary, so no other test loads the CPUs while it measures; the
//! tests inside it measure one at a time (`SERIAL`).
//!
//! # What the lock guarantees, and how it is checked
//!
//! A "hog" thread holds the lock almost all the time and re-takes it the moment
//! it lets go; a waiter wants it now and then. An unfair lock wakes the parked
//! waiter at each unlock and lets it compete, and the hog, already running,
//! re-takes the lock first, again and again. The eventually fair lock does the
//! same most of the time, but when the parking lot's fairness timer has expired
//! (a random 0-1 ms after its last fair unlock) the unlock *hands* the lock to
//! the parked waiter: it stays held on the waiter's behalf, so the hog cannot
//! re-take it, however late the waiter gets a CPU.
//!
//! `*_hands_the_lock_to_a_parked_waiter` (Linux) checks exactly that. It counts
//! the hog's *passes*: the hog saw the waiter parked (asleep in the kernel,
//! from `/proc`) just before it unlocked, and then re-took the lock before the
//! waiter got it. Every such unlock woke the waiter and checked the timer, so
//! a fair lock allows at most one pass per 50 us hog section within the 1 ms
//! timer period, 20 (`PASS_BOUND`); and since the waiter stays away 1 ms
//! between visits, the timer has always expired by the time it parks, so the
//! correct lock shows 0. The hog and the waiter are pinned to different CPUs:
//! the woken waiter then never runs on the hog's CPU, where it could preempt
//! the hog between its unlock and its re-lock and win the race without any
//! hand-off (what made earlier versions of this test pass without fairness
//! under CPU load). Measured on a 2-CPU VM, debug and release builds: 0
//! passes in every run of the correct lock, idle or with both CPUs loaded by
//! busy loops; with the hand-off removed from `unlock_slow`, about 4 waits in
//! 10 saw a run of 40-8000 passes, and every run of this test failed within
//! its first few waits (the hog stops at the 21st pass, so failing is fast).
//!
//! `*_waiter_is_not_starved_by_a_hog` (portable) is a starvation guard only:
//! it counts the hog sections that pass while a waiter waits, from the moment
//! it asks, which includes time the waiter spends runnable but without a CPU
//! (no lock can hand itself to a thread that has not parked yet). Under CPU
//! load that dominates, so correct and unfair locks alike see medians of about
//! 200 there; its bound only catches a waiter starved outright.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use threadkit::{Lock, RLock};

const HOG_SECTION: Duration = Duration::from_micros(50);
/// A starved waiter fails the test instead of hanging it.
const GIVE_UP: Duration = Duration::from_secs(5);

/// The tests measure one at a time (the test harness runs tests in parallel).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Sets a flag when dropped, also while unwinding.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Keeps the lock held for `HOG_SECTION`, then counts the section (still held, so
/// a waiter that gets the lock sees the count of every section that finished).
fn hog_section(sections: &AtomicUsize) {
    let start = Instant::now();
    while start.elapsed() < HOG_SECTION {
        std::hint::spin_loop();
    }
    sections.fetch_add(1, Ordering::Relaxed);
}

// ---------------------------------------------------------------------------
// The hand-off to a parked waiter (Linux: CPU pinning and /proc)
// ---------------------------------------------------------------------------

#[cfg(target_os = "linux")]
mod handoff {
    use super::*;

    /// Waits the waiter makes.
    const ACQUISITIONS: usize = 100;
    /// Hog passes one wait may see (see the module docs): 1 ms of 50 us sections.
    pub(super) const PASS_BOUND: usize = 20;

    // glibc's affinity calls; `cpu_set_t` is 1024 bits.
    unsafe extern "C" {
        fn sched_getaffinity(pid: i32, size: usize, mask: *mut u64) -> i32;
        fn sched_setaffinity(pid: i32, size: usize, mask: *const u64) -> i32;
    }
    const CPU_SET_WORDS: usize = 1024 / 64;

    /// The CPUs this thread may run on.
    fn allowed_cpus() -> Vec<usize> {
        let mut mask = [0u64; CPU_SET_WORDS];
        // SAFETY: `mask` is a writable `cpu_set_t`-sized buffer; pid 0 is this thread.
        let rc = unsafe { sched_getaffinity(0, size_of_val(&mask), mask.as_mut_ptr()) };
        assert_eq!(rc, 0, "sched_getaffinity failed");
        (0..1024)
            .filter(|&cpu| mask[cpu / 64] >> (cpu % 64) & 1 == 1)
            .collect()
    }

    /// Pins the calling thread to `cpu`.
    fn pin_to(cpu: usize) {
        let mut mask = [0u64; CPU_SET_WORDS];
        mask[cpu / 64] |= 1 << (cpu % 64);
        // SAFETY: `mask` is a `cpu_set_t`-sized buffer; pid 0 is this thread.
        let rc = unsafe { sched_setaffinity(0, size_of_val(&mask), mask.as_ptr()) };
        assert_eq!(rc, 0, "sched_setaffinity({cpu}) failed");
    }

    /// The calling thread's Linux thread id.
    fn current_tid() -> u64 {
        let link = std::fs::read_link("/proc/thread-self").expect("/proc/thread-self");
        let name = link.file_name().and_then(|name| name.to_str());
        name.and_then(|name| name.parse().ok())
            .expect("a numeric thread id")
    }

    /// Whether thread `tid` of this process sleeps in the kernel (state `S`).
    fn is_asleep(tid: u64) -> bool {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")) else {
            return false;
        };
        // "tid (comm) S ...": the name may hold spaces and parentheses.
        stat.rfind(')')
            .is_some_and(|end| stat[end + 1..].trim_start().starts_with('S'))
    }

    /// Runs a hog (pinned to one CPU, `hold` running its argument with the lock
    /// held) against a waiter pinned to another that takes the lock
    /// `ACQUISITIONS` times through `try_hold` (the lock for at most a
    /// duration; `false` if it timed out), and returns the passes each wait
    /// saw, sorted. A run of more than `PASS_BOUND` passes stops the hog at
    /// once (the test fails then anyway), so an unfair lock fails fast.
    ///
    /// `None` when fewer than two CPUs are available: nothing to measure.
    pub(super) fn passes_while_parked(
        hold: impl Fn(&mut dyn FnMut()) + Sync,
        try_hold: impl Fn(Duration, &mut dyn FnMut()) -> bool + Sync,
    ) -> Option<Vec<usize>> {
        let cpus = allowed_cpus();
        let [hog_cpu, waiter_cpu, ..] = cpus[..] else {
            eprintln!("skipped: needs two CPUs, this thread may use {cpus:?}");
            return None;
        };
        let _serial = serial();
        // The waiter's current wait, numbered from 1; 0 while it does not wait.
        let waiting = AtomicUsize::new(0);
        let passes = AtomicUsize::new(0);
        let waiter_tid = AtomicUsize::new(0);
        let sections = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        let mut seen = thread::scope(|s| {
            let hog = s.spawn(|| {
                pin_to(hog_cpu);
                // The wait during which the waiter was seen parked at our last unlock.
                let mut parked_in = 0;
                while !stop.load(Ordering::SeqCst) {
                    hold(&mut || {
                        let now = waiting.load(Ordering::SeqCst);
                        if parked_in != 0 && now == parked_in {
                            // Our unlock woke it, and we re-took the lock first.
                            if passes.fetch_add(1, Ordering::SeqCst) >= PASS_BOUND {
                                stop.store(true, Ordering::SeqCst);
                            }
                        }
                        hog_section(&sections);
                        // Parked now (its only sleep while it waits): our unlock
                        // must wake it, and a fair unlock hands it the lock.
                        let now = waiting.load(Ordering::SeqCst);
                        let tid = waiter_tid.load(Ordering::SeqCst) as u64;
                        parked_in = if now != 0 && is_asleep(tid) { now } else { 0 };
                    });
                }
            });
            // The waiter runs on a thread of its own, so the pinning ends with it
            // (with `--test-threads=1`, this is the harness's main thread).
            let waiter = s.spawn(|| {
                // Stops the hog however this thread ends (a panic included).
                let _stop = StopOnDrop(&stop);
                waiter_tid.store(current_tid() as usize, Ordering::SeqCst);
                pin_to(waiter_cpu);
                while sections.load(Ordering::Relaxed) == 0 {
                    thread::yield_now();
                }
                let mut seen = Vec::with_capacity(ACQUISITIONS);
                for wait in 1..=ACQUISITIONS {
                    // Work elsewhere (workload, not synchronisation): the waiter
                    // arrives cold, and the parking lot's fairness timer, reset
                    // at most 1 ms ahead by the last hand-off, has expired.
                    thread::sleep(Duration::from_millis(1));
                    passes.store(0, Ordering::SeqCst);
                    waiting.store(wait, Ordering::SeqCst);
                    let acquired = try_hold(GIVE_UP, &mut || {
                        waiting.store(0, Ordering::SeqCst);
                        seen.push(passes.load(Ordering::SeqCst));
                    });
                    if !acquired || stop.load(Ordering::SeqCst) {
                        return (acquired, seen);
                    }
                }
                (true, seen)
            });
            let (acquired, seen) = waiter.join().expect("the waiter panicked");
            hog.join().expect("the hog panicked");
            assert!(
                acquired,
                "starved: no lock within {GIVE_UP:?} while a hog ran"
            );
            seen
        });
        seen.sort_unstable();
        Some(seen)
    }

    #[track_caller]
    pub(super) fn assert_handed_over(what: &str, seen: Option<Vec<usize>>) {
        let Some(seen) = seen else { return };
        let worst = seen.last().copied().unwrap_or(0);
        eprintln!(
            "{what}: {} waits; hog passes while the waiter was parked: worst {worst}, \
             total {}",
            seen.len(),
            seen.iter().sum::<usize>()
        );
        assert!(
            worst <= PASS_BOUND,
            "{what} is not eventually fair: the hog re-took it {worst} times in a row \
             while the waiter was parked (a hand-off allows at most {PASS_BOUND}); \
             passes per wait: {seen:?}"
        );
    }
}

/// A test that `$lock` (a new `Lock` or `RLock`) hands itself to a parked
/// waiter: the two types share no trait, so the test body is written once here.
macro_rules! hands_the_lock_to_a_parked_waiter {
    ($test:ident, $what:literal, $lock:expr) => {
        #[cfg(target_os = "linux")]
        #[test]
        #[cfg_attr(
            miri,
            ignore = "sees a parked waiter in /proc, which Miri's threads lack; \
                      needs a hook counting the threads parked on the lock"
        )]
        fn $test() {
            let lock = $lock;
            let seen = handoff::passes_while_parked(
                |section| {
                    let _guard = lock.lock();
                    section();
                },
                |timeout, section| {
                    let Some(_guard) = lock.try_lock_for(timeout) else {
                        return false;
                    };
                    section();
                    true
                },
            );
            handoff::assert_handed_over($what, seen);
        }
    };
}

hands_the_lock_to_a_parked_waiter!(
    lock_hands_the_lock_to_a_parked_waiter,
    "Lock",
    Lock::new(())
);
hands_the_lock_to_a_parked_waiter!(
    rlock_hands_the_lock_to_a_parked_waiter,
    "RLock",
    RLock::new(())
);

// ---------------------------------------------------------------------------
// Starvation guard (portable)
// ---------------------------------------------------------------------------

const ACQUISITIONS: usize = 21;
/// Hog sections a waiter may see pass (a median): 50 ms of hog work, a hundred
/// times parking_lot's fairness period, so CPU load cannot fail the test.
const MEDIAN_BOUND: usize = 1000;

/// Runs `hog` (which must count its sections in `sections`) in a loop on one
/// thread while this thread acquires `ACQUISITIONS` times through `acquire`;
/// returns the sorted numbers of hog sections each acquisition waited through.
fn sections_passed_under_a_hog(
    sections: &AtomicUsize,
    hog: impl Fn() + Sync,
    acquire: impl Fn() -> bool,
) -> Vec<usize> {
    let _serial = serial();
    let stop = AtomicBool::new(false);
    let mut passed = Vec::with_capacity(ACQUISITIONS);
    thread::scope(|s| {
        // Stops the hog also when an assertion below fails (else the scope
        // would wait for it forever).
        let _stop = StopOnDrop(&stop);
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                hog();
            }
        });
        while sections.load(Ordering::Relaxed) == 0 {
            thread::yield_now();
        }
        for _ in 0..ACQUISITIONS {
            // The waiter does other work between its visits (workload, not
            // synchronisation): it then arrives cold, spins briefly and parks.
            thread::sleep(Duration::from_millis(1));
            let before = sections.load(Ordering::Relaxed);
            assert!(
                acquire(),
                "starved: no lock within {GIVE_UP:?} while a hog ran"
            );
            passed.push(sections.load(Ordering::Relaxed) - before);
        }
        stop.store(true, Ordering::Relaxed);
    });
    passed.sort_unstable();
    passed
}

#[track_caller]
fn assert_not_starved(what: &str, passed: &[usize]) {
    let median = passed[passed.len() / 2];
    eprintln!("{what}: hog sections passed per acquisition {passed:?}");
    assert!(
        median <= MEDIAN_BOUND,
        "{what} starves waiters: a median of {median} hog sections passed (all: {passed:?})"
    );
}

#[test]
fn lock_waiter_is_not_starved_by_a_hog() {
    let (lock, sections) = (Lock::new(()), AtomicUsize::new(0));
    let passed = sections_passed_under_a_hog(
        &sections,
        || {
            let _guard = lock.lock();
            hog_section(&sections);
        },
        || lock.try_lock_for(GIVE_UP).is_some(),
    );
    assert_not_starved("Lock", &passed);
}

#[test]
fn rlock_waiter_is_not_starved_by_a_hog() {
    let (lock, sections) = (RLock::new(()), AtomicUsize::new(0));
    let passed = sections_passed_under_a_hog(
        &sections,
        || {
            let _guard = lock.lock();
            hog_section(&sections);
        },
        || lock.try_lock_for(GIVE_UP).is_some(),
    );
    assert_not_starved("RLock", &passed);
}
