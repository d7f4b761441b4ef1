//! The waiting policy: whether a waiter polls for its wake-up before it parks.
//!
//! A futex sleep plus wake-up costs 6-7 µs on the machine of
//! `docs/benchmarks.md`; a waker on another CPU usually answers in well under
//! a microsecond. So polling wins when the thread that will wake us is running
//! right now, and only burns the CPU it needs when it is not: on one CPU, when
//! busy threads occupy every CPU, or when the waker was itself descheduled.
//! Polling therefore happens only when all of these hold (the rules of Go's
//! `sync.Mutex` and glibc's adaptive mutex, adapted):
//!
//! 1. **More than one CPU.** [`parallelism`] is `available_parallelism()`, which
//!    counts the affinity mask and a cgroup CPU quota: a process pinned to one
//!    CPU, or a container limited to one, never polls.
//! 2. **Someone else can run.** At most `CPUs - 1` threads poll at once, across
//!    every primitive.
//! 3. **Polling has been paying here.** Each wait queue keeps a small credit
//!    ([`SpinPolicy`]): a poll that ends in a wake-up earns 1, a poll that ends
//!    in a park costs 2, so a queue polls only while at least two of three polls
//!    succeed (where a failed poll costs about what a successful one saves).
//!    At zero credit it parks at once, and polls one wait in
//!    [`PROBE_EVERY`] to notice when the regime changes.
//! 4. **We keep the CPU.** A poll ends, as a failure, the moment the clock
//!    shows this thread was descheduled (a gap between two clock reads far
//!    longer than the polls between them): the machine is oversubscribed.
//!
//! A poll lasts at most [`SPIN_FOR`] (never past the caller's deadline).

use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use core::time::Duration;
use std::time::Instant;

/// How long a waiter polls at most: longer than a futex sleep and wake-up
/// (6-7 µs), so that two threads handing work back and forth, once one of them
/// had to park, find each other polling again on the next hand-off.
const SPIN_FOR: Duration = Duration::from_micros(10);

/// A gap between two clock reads this long (they are 16 `PAUSE`s apart, well
/// under a microsecond) means this thread lost its CPU while polling.
const DESCHEDULED: Duration = Duration::from_micros(5);

/// Credit at which a queue stops growing its confidence: a run of three
/// failures after a long run of successes stops the polling.
const CREDIT_MAX: u32 = 6;

/// Credit a new queue starts with: it polls until it learns otherwise.
const CREDIT_START: u32 = 2;

/// With no credit, one wait in this many polls anyway, to learn whether
/// polling pays again.
const PROBE_EVERY: u32 = 16;

/// Threads polling right now, across all primitives.
static SPINNERS: AtomicUsize = AtomicUsize::new(0);

/// One wait queue's record of whether polling pays (see the module docs).
///
/// One word: the credit in the low byte, a count of waits that skipped the
/// poll above it. Updated with relaxed atomics: it only steers a heuristic.
#[derive(Debug)]
pub(crate) struct SpinPolicy {
    state: AtomicU32,
}

const CREDIT_MASK: u32 = 0xff;
const SKIP_ONE: u32 = 0x100;

impl SpinPolicy {
    /// A policy that starts out polling.
    pub(crate) const fn new() -> SpinPolicy {
        SpinPolicy {
            state: AtomicU32::new(CREDIT_START),
        }
    }

    /// Polls `ready` before the caller parks, if the rules in the module docs
    /// allow; returns whether `ready()` became true.
    #[inline]
    pub(crate) fn spin(&self, deadline: Option<Instant>, mut ready: impl FnMut() -> bool) -> bool {
        if parallelism() == 1 || !self.has_credit() {
            return ready();
        }
        if SPINNERS.fetch_add(1, Ordering::Relaxed) >= parallelism() - 1 {
            SPINNERS.fetch_sub(1, Ordering::Relaxed);
            return ready();
        }
        let outcome = poll(deadline, &mut ready);
        SPINNERS.fetch_sub(1, Ordering::Relaxed);
        match outcome {
            Poll::Ready => self.learn(true),
            Poll::GaveUp | Poll::Descheduled => self.learn(false),
            // Not the queue's fault: the caller's deadline cut the poll short.
            Poll::Deadline => {}
        }
        outcome == Poll::Ready || ready()
    }

    /// Whether to poll this time: with credit, or as a probe.
    fn has_credit(&self) -> bool {
        let state = self.state.load(Ordering::Relaxed);
        if state & CREDIT_MASK != 0 {
            return true;
        }
        let skipped = self.state.fetch_add(SKIP_ONE, Ordering::Relaxed) / SKIP_ONE;
        skipped % PROBE_EVERY == PROBE_EVERY - 1
    }

    /// Records a poll's outcome: +1 for a success, -2 for a failure.
    fn learn(&self, succeeded: bool) {
        let _ = self
            .state
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |state| {
                let credit = state & CREDIT_MASK;
                let credit = if succeeded {
                    (credit + 1).min(CREDIT_MAX)
                } else {
                    credit.saturating_sub(2)
                };
                Some(credit) // also resets the skip count
            });
    }
}

/// How a poll ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Poll {
    Ready,
    GaveUp,
    Descheduled,
    Deadline,
}

/// Polls `ready` for up to [`SPIN_FOR`], never past `deadline`.
fn poll(deadline: Option<Instant>, ready: &mut impl FnMut() -> bool) -> Poll {
    let started = Instant::now();
    let give_up = started + SPIN_FOR;
    let (give_up, cut_by_deadline) = match deadline {
        Some(deadline) if deadline < give_up => (deadline, true),
        _ => (give_up, false),
    };
    let mut last = started;
    loop {
        // Read the clock only every 16 polls: a `PAUSE` is 10-150 cycles.
        for _ in 0..16 {
            if ready() {
                return Poll::Ready;
            }
            core::hint::spin_loop();
        }
        let now = Instant::now();
        if now.duration_since(last) > DESCHEDULED {
            return Poll::Descheduled;
        }
        if now >= give_up {
            return if cut_by_deadline {
                Poll::Deadline
            } else {
                Poll::GaveUp
            };
        }
        last = now;
    }
}

/// How many threads of this process can run at once, computed once.
///
/// `available_parallelism()` counts the caller's affinity mask and a cgroup
/// CPU quota, but a program that pins its worker threads (one per CPU) would
/// then disable polling for every thread if a pinned one asked first. So on
/// Linux, where the calling thread's mask is what limits it, the process's
/// mask (its main thread's, from `/proc/self/status`) counts instead.
pub(crate) fn parallelism() -> usize {
    static CACHED: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CACHED.get_or_init(|| {
        let available = std::thread::available_parallelism().map_or(1, |cpus| cpus.get());
        let mask = |status| cpus_allowed(&std::fs::read_to_string(status).ok()?);
        match (mask("/proc/thread-self/status"), mask("/proc/self/status")) {
            // Limited by this thread's mask, not by a quota: use the process's.
            (Some(this_thread), Some(process)) if available >= this_thread => process,
            _ => available,
        }
    })
}

/// The number of CPUs in the `Cpus_allowed_list` line of a `/proc` status
/// file (`0-3,8,10-11`).
fn cpus_allowed(status: &str) -> Option<usize> {
    let list = status
        .lines()
        .find_map(|line| line.strip_prefix("Cpus_allowed_list:"))?;
    let mut count = 0;
    for range in list.trim().split(',') {
        count += match range.split_once('-') {
            Some((first, last)) => last.parse::<usize>().ok()? - first.parse::<usize>().ok()? + 1,
            None => {
                range.parse::<usize>().ok()?;
                1
            }
        };
    }
    (count > 0).then_some(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A queue whose polls keep failing stops polling, probes now and then,
    /// and polls again once a probe succeeds.
    #[test]
    fn failing_polls_stop_polling_and_a_successful_probe_restarts_it() {
        let policy = SpinPolicy::new();
        policy.learn(false);
        assert!(
            !policy.has_credit(),
            "two failures from the start use up the credit"
        );
        let polled = (0..PROBE_EVERY * 3).filter(|_| policy.has_credit()).count();
        assert_eq!(polled, 3, "one probe every {PROBE_EVERY} waits");
        policy.learn(true);
        assert!(policy.has_credit());
        assert!(policy.has_credit(), "credit is not used up by asking");
    }

    /// A long run of successes is forgotten after three failures.
    #[test]
    fn credit_is_bounded() {
        let policy = SpinPolicy::new();
        for _ in 0..100 {
            policy.learn(true);
        }
        for _ in 0..3 {
            assert!(policy.has_credit());
            policy.learn(false);
        }
        assert!(!policy.has_credit());
    }

    /// The affinity list of a `/proc` status file is counted right.
    #[test]
    fn cpus_allowed_counts_ranges_and_singles() {
        let status = "Name:\tx\nCpus_allowed:\tf0f\nCpus_allowed_list:\t0-3,8,10-11\nMems: 0\n";
        assert_eq!(cpus_allowed(status), Some(7));
        assert_eq!(cpus_allowed("Cpus_allowed_list:\t0\n"), Some(1));
        assert_eq!(cpus_allowed("no such line"), None);
    }

    /// A poll that finds its condition true at once reports it.
    #[test]
    fn a_ready_poll_returns_at_once() {
        assert_eq!(poll(None, &mut || true), Poll::Ready);
        assert_eq!(poll(Some(Instant::now()), &mut || false), Poll::Deadline);
    }
}
