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
//!    every primitive. A waiter turned away polls only briefly (about a
//!    microsecond): two threads handing work back and forth overlap in their
//!    waits for a moment, and the one turned away would otherwise park, so
//!    that the pair falls into a park per hand-off.
//! 3. **Polling has been paying here.** Each wait queue keeps a small credit
//!    ([`SpinPolicy`]): a poll that ends in a wake-up earns 1, a poll that ends
//!    in a park costs 2, so a queue polls only while at least two of three polls
//!    succeed (where a failed poll costs about what a successful one saves).
//!    At zero credit it parks at once, and polls one wait in 16 as a probe, to
//!    notice when the regime changes; each failed probe doubles that interval
//!    (up to one in 1024, `2^PROBE_SHIFT_MAX`) and each successful one halves it, so
//!    on a machine where polling never pays, probes cost next to nothing.
//! 4. **We keep the CPU.** A poll ends, as a failure, the moment the clock
//!    shows this thread was descheduled (a gap between two clock reads far
//!    longer than the polls between them): the machine is oversubscribed.
//!
//! A poll lasts at most [`SPIN_FOR`] (never past the caller's deadline).
//!
//! After a failed poll, a queue's waiter may yield its CPU once before it parks
//! ([`YieldPolicy`]): that pays when the thread it waits for is runnable on
//! the same CPU, which is always so on one CPU and often so when threads
//! outnumber CPUs. With more than one CPU the same credit decides whether a
//! queue side yields, a success being a short yield after which the waiter can
//! go on.

use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use core::time::Duration;
use std::time::Instant;

/// How long a waiter polls at most: longer than a futex sleep and wake-up
/// (6-7 µs), so that two threads handing work back and forth, once one of them
/// had to park, find each other polling again on the next hand-off. (A poll of 25 µs,
/// longer than a woken thread takes to run again on this virtual machine,
/// made the pairs steadier on an idle machine but lost 3-13x in the busy
/// regime, where the poller holds a CPU that the thread it waits for needs.)
const SPIN_FOR: Duration = Duration::from_micros(10);

/// How often a waiter denied a full poll (every other CPU has a poller) polls
/// anyway: about a microsecond (a `PAUSE` is 27 ns on the machine of
/// `docs/benchmarks.md`), as long as a poller takes to notice its wake-up and answer.
const BRIEF_POLLS: u32 = 32;

/// How many `PAUSE`s [`poll_shortly`] takes, looking after each: a check
/// after every one, rather than after 1, 2, 4 and 8 of them, sees the other
/// side's answer up to 8 `PAUSE`s sooner (an idle ping-pong at capacity 1 went
/// from about 1.35 to 1.1-1.2 × crossbeam, SPSC at capacity 1 from 1.2 to 0.95).
const SHORT_POLLS: u32 = 16;

/// A gap between two clock reads this long (they are 16 `PAUSE`s apart, well
/// under a microsecond) means this thread lost its CPU while polling.
const DESCHEDULED: Duration = Duration::from_micros(5);

/// A yield that kept this thread off its CPU this long gave the CPU to a
/// thread that ran a time slice (0.75 ms or more on Linux), not to one that
/// did a short piece of work and blocked or yielded back (a few µs).
const YIELD_SLICE: Duration = Duration::from_micros(50);

/// Credit at which a queue stops growing its confidence: a run of three
/// failures after a long run of successes stops the polling.
const CREDIT_MAX: u32 = 6;

/// Credit a new queue starts with: it polls until it learns otherwise.
const CREDIT_START: u32 = 2;

/// With no credit, one wait in `2^shift` polls anyway (a probe), to learn
/// whether polling pays again; `shift` moves between these bounds.
const PROBE_SHIFT_MIN: u32 = 4;
const PROBE_SHIFT_MAX: u32 = 10;

/// Threads polling right now, across all primitives.
static SPINNERS: AtomicUsize = AtomicUsize::new(0);

/// A record of whether a waiting step (a poll, a yield) pays, kept per wait
/// queue (see the module docs, rule 3).
///
/// One word: the credit in bits 0-7, the probe interval's shift in bits 8-11,
/// and above them a count of waits that skipped the step since the last one
/// (it may wrap: intervals are powers of two). Updated with relaxed atomics: it
/// only steers a heuristic.
#[derive(Debug)]
struct Credit {
    state: AtomicU32,
}

const CREDIT_MASK: u32 = 0xff;
const SHIFT_AT: u32 = 8;
const SHIFT_MASK: u32 = 0xf << SHIFT_AT;
const SKIP_ONE: u32 = 1 << 12;

/// Whether a wait takes the step, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Decision {
    /// The step has been paying.
    Try,
    /// No credit, but this wait probes.
    Probe,
    /// No credit: park at once.
    Park,
}

impl Credit {
    /// A record that starts out trusting the step.
    const fn new() -> Credit {
        Credit {
            state: AtomicU32::new(CREDIT_START | PROBE_SHIFT_MIN << SHIFT_AT),
        }
    }

    /// Whether to take the step this time: with credit, or as a probe.
    fn decide(&self) -> Decision {
        let state = self.state.load(Ordering::Relaxed);
        if state & CREDIT_MASK != 0 {
            return Decision::Try;
        }
        let state = self.state.fetch_add(SKIP_ONE, Ordering::Relaxed);
        let every = 1 << ((state & SHIFT_MASK) >> SHIFT_AT);
        if (state / SKIP_ONE) % every == every - 1 {
            Decision::Probe
        } else {
            Decision::Park
        }
    }

    /// Records a step's outcome: +1 credit for a success, -2 for a failure;
    /// a probe's outcome also halves or doubles the probe interval.
    fn learn(&self, succeeded: bool, probed: bool) {
        let _ = self
            .state
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |state| {
                let credit = state & CREDIT_MASK;
                let credit = if succeeded {
                    (credit + 1).min(CREDIT_MAX)
                } else {
                    credit.saturating_sub(2)
                };
                let mut shift = (state & SHIFT_MASK) >> SHIFT_AT;
                if probed {
                    shift = if succeeded {
                        shift.saturating_sub(1).max(PROBE_SHIFT_MIN)
                    } else {
                        (shift + 1).min(PROBE_SHIFT_MAX)
                    };
                }
                Some(credit | shift << SHIFT_AT) // the skip count starts again
            });
    }
}

/// One wait queue's record of whether polling pays (see the module docs).
#[derive(Debug)]
pub(crate) struct SpinPolicy {
    credit: Credit,
}

impl SpinPolicy {
    /// A policy that starts out polling.
    pub(crate) const fn new() -> SpinPolicy {
        SpinPolicy {
            credit: Credit::new(),
        }
    }

    /// Polls `ready` before the caller parks, if the rules in the module docs
    /// allow; returns whether `ready()` became true.
    #[inline]
    pub(crate) fn spin(&self, deadline: Option<Instant>, mut ready: impl FnMut() -> bool) -> bool {
        if parallelism() == 1 {
            return ready();
        }
        let decision = self.credit.decide();
        if decision == Decision::Park {
            return ready();
        }
        if SPINNERS.fetch_add(1, Ordering::Relaxed) >= parallelism() - 1 {
            SPINNERS.fetch_sub(1, Ordering::Relaxed);
            // Every other CPU has a poller: one of them is most likely the
            // thread that will wake us, about to do so (two threads handing
            // work back and forth overlap for a moment). A poll this brief
            // costs less than the park it may save, and learns nothing.
            return poll_briefly(&mut ready);
        }
        let outcome = poll(deadline, &mut ready);
        SPINNERS.fetch_sub(1, Ordering::Relaxed);
        let probed = decision == Decision::Probe;
        match outcome {
            Poll::Ready => self.credit.learn(true, probed),
            Poll::GaveUp | Poll::Descheduled => self.credit.learn(false, probed),
            // Not the queue's fault: the caller's deadline cut the poll short.
            Poll::Deadline => {}
        }
        outcome == Poll::Ready || ready()
    }
}

/// One queue side's record of whether yielding the CPU before parking pays
/// (see [`YieldPolicy::yield_now`]).
#[derive(Debug)]
pub(crate) struct YieldPolicy {
    credit: Credit,
    /// The thread that waited on this side last (0: none yet).
    last_waiter: AtomicUsize,
}

impl YieldPolicy {
    /// A policy that starts out yielding.
    pub(crate) const fn new() -> YieldPolicy {
        YieldPolicy {
            credit: Credit::new(),
            last_waiter: AtomicUsize::new(0),
        }
    }

    /// The last step before a waiter parks: offers the CPU to another runnable
    /// thread once (`sched_yield`), then checks `ready`.
    ///
    /// The thread this one waits for may be runnable on this very CPU, not
    /// running: always so on one CPU, and with more threads than CPUs when the
    /// scheduler keeps a producer and its consumer on one CPU. Then the yield
    /// lets it run on, a queue fills (or drains) several slots, and its waiter
    /// parks once per batch instead of once per item (SPSC at capacity 16: on
    /// one CPU 1.31 → 0.18 µs per item; beside a busy thread per CPU 1.0 → 0.27
    /// µs, where crossbeam, which yields before it parks too, takes 0.6).
    ///
    /// With more than one CPU a side yields only while yields pay, learned
    /// with the credit of rule 3 of the module docs:
    /// - A yield succeeds when it was short (under [`YIELD_SLICE`]) and
    ///   `ready()` then holds. A long one gave the CPU to an unrelated busy
    ///   thread for its time slice; after a short one that finds nothing, no
    ///   other thread was runnable here, and the system call was wasted.
    /// - A wait by another thread than the side's last waiter counts as a
    ///   failure, and does not yield. With several threads on a side, the ones
    ///   that park let the scheduler spread the rest over the CPUs, while
    ///   yielding keeps them all runnable and piles them onto one (2 producers
    ///   and 2 consumers beside busy threads: 0.15 µs per item parking, 0.4
    ///   yielding).
    ///
    /// On one CPU it always yields: whatever runs instead is what this thread
    /// waits for, or would share its CPU anyway.
    #[inline]
    pub(crate) fn yield_now(&self, mut ready: impl FnMut() -> bool) -> bool {
        if parallelism() == 1 {
            return yield_once(ready);
        }
        let me = super::native::current_thread_id().get();
        // A load first: the pair of one thread per side never writes the line.
        let last = self.last_waiter.load(Ordering::Relaxed);
        if last != me {
            self.last_waiter.store(me, Ordering::Relaxed);
            if last != 0 {
                self.credit.learn(false, false);
                return false;
            }
        }
        let decision = self.credit.decide();
        if decision == Decision::Park {
            return false;
        }
        let started = Instant::now();
        std::thread::yield_now();
        let short = started.elapsed() < YIELD_SLICE;
        let became_ready = ready();
        self.credit
            .learn(short && became_ready, decision == Decision::Probe);
        became_ready
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
        // The time limit first: a poll past the caller's deadline is not
        // the queue's fault, however it got there.
        if now >= give_up {
            return if cut_by_deadline {
                Poll::Deadline
            } else {
                Poll::GaveUp
            };
        }
        if now.duration_since(last) > DESCHEDULED {
            return Poll::Descheduled;
        }
        last = now;
    }
}

/// Polls `ready` after each of [`SHORT_POLLS`] `PAUSE`s (about 0.4 µs in
/// all), where more than one CPU can run: for waits that usually end within a
/// few hundred nanoseconds (a queue whose other side is running), cheaper than
/// a [`SpinPolicy::spin`], which reads the clock and counts its pollers, and
/// short enough to cost little where the CPUs are oversubscribed. Returns
/// whether `ready()` became true.
#[inline]
pub(crate) fn poll_shortly(mut ready: impl FnMut() -> bool) -> bool {
    if parallelism() == 1 {
        return false;
    }
    for _ in 0..SHORT_POLLS {
        core::hint::spin_loop();
        if ready() {
            return true;
        }
    }
    false
}

/// On one CPU, offers it to another runnable thread once (`sched_yield`),
/// then checks `ready`: the last step before a wait-queue entry with
/// [`Spin::Adaptive`](crate::wait_queue::Spin) parks. The thread it waits for
/// shares this CPU, so the yield lets it run on, and a hand-off often completes
/// before its waiter parks at all (Condition, Event and Semaphore ping-pongs on
/// one CPU: 0.97-0.98 → 0.66-0.68 × their peers). With more CPUs it returns
/// `false` at once: a hand-off's waker usually runs on another CPU, where the
/// polls above see it, and the CPU may go to an unrelated busy thread for a
/// whole time slice (a ping-pong in the busy regime took 2-3 × longer).
/// [`YieldPolicy`] is the queue's form, which learns.
#[inline]
pub(crate) fn yield_once(mut ready: impl FnMut() -> bool) -> bool {
    if parallelism() != 1 {
        return false;
    }
    std::thread::yield_now();
    ready()
}

/// Polls `ready` [`BRIEF_POLLS`] times: about a microsecond.
fn poll_briefly(ready: &mut impl FnMut() -> bool) -> bool {
    for _ in 0..BRIEF_POLLS {
        if ready() {
            return true;
        }
        core::hint::spin_loop();
    }
    ready()
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
        // Miri's isolation forbids reading /proc (its threads are not the kernel's anyway).
        if cfg!(miri) {
            return available;
        }
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

    /// How many of `waits` waits a record lets take its step.
    fn polls(policy: &Credit, waits: u32) -> usize {
        (0..waits)
            .filter(|_| policy.decide() != Decision::Park)
            .count()
    }

    /// A queue whose polls keep failing stops polling and probes now and
    /// then, less and less often while probes fail; a successful probe gives
    /// it credit again.
    #[test]
    fn failing_polls_stop_polling_and_probes_back_off() {
        let policy = Credit::new();
        policy.learn(false, false);
        assert_eq!(
            policy.decide(),
            Decision::Park,
            "two failures use up the start credit"
        );
        assert_eq!(polls(&policy, 16 * 3 - 1), 3, "one probe every 16 waits");
        policy.learn(false, true);
        assert_eq!(
            polls(&policy, 32 * 3),
            3,
            "a failed probe doubles the interval"
        );
        for _ in 0..20 {
            policy.learn(false, true);
        }
        assert_eq!(
            polls(&policy, 2 << PROBE_SHIFT_MAX),
            2,
            "the interval is bounded"
        );
        policy.learn(true, true);
        assert_eq!(
            policy.decide(),
            Decision::Try,
            "a successful probe gives credit"
        );
        assert_eq!(policy.decide(), Decision::Try, "asking does not use it up");
    }

    /// A long run of successes is forgotten after three failures.
    #[test]
    fn credit_is_bounded() {
        let policy = Credit::new();
        for _ in 0..100 {
            policy.learn(true, false);
        }
        for _ in 0..3 {
            assert_eq!(policy.decide(), Decision::Try);
            policy.learn(false, false);
        }
        assert_eq!(policy.decide(), Decision::Park);
    }

    /// The affinity list of a `/proc` status file is counted right.
    #[test]
    fn cpus_allowed_counts_ranges_and_singles() {
        let status = "Name:\tx\nCpus_allowed:\tf0f\nCpus_allowed_list:\t0-3,8,10-11\nMems: 0\n";
        assert_eq!(cpus_allowed(status), Some(7));
        assert_eq!(cpus_allowed("Cpus_allowed_list:\t0\n"), Some(1));
        assert_eq!(cpus_allowed("no such line"), None);
    }

    /// A queue side whose waits come from several threads stops yielding;
    /// on one CPU a side always yields.
    #[test]
    fn a_side_shared_by_threads_stops_yielding() {
        let policy = YieldPolicy::new();
        if parallelism() == 1 {
            assert!(policy.yield_now(|| true), "one CPU: yield, then look");
            return;
        }
        // Full credit, so that only the thread switches below can use it up
        // (a yield's own outcome depends on the machine's load).
        for _ in 0..CREDIT_MAX {
            policy.credit.learn(true, false);
        }
        let looked = AtomicUsize::new(0);
        let ready = || {
            looked.fetch_add(1, Ordering::Relaxed);
            true
        };
        let in_other_thread = |f: &(dyn Fn() -> bool + Sync)| {
            std::thread::scope(|scope| scope.spawn(f).join().unwrap())
        };
        assert!(policy.yield_now(ready), "the first waiter yields");
        looked.store(0, Ordering::Relaxed);
        assert!(
            !in_other_thread(&|| policy.yield_now(ready)),
            "a wait by another thread does not yield"
        );
        assert!(!policy.yield_now(ready), "nor does the switch back");
        let (switched, again) = std::thread::scope(|scope| {
            let third = scope.spawn(|| (policy.yield_now(ready), policy.yield_now(ready)));
            third.join().unwrap()
        });
        assert!(!switched, "a third switch does not yield");
        assert!(
            !again,
            "three switches used up the credit: even a repeated wait parks at once"
        );
        assert_eq!(looked.load(Ordering::Relaxed), 0, "none of them yielded");
    }

    /// A poll that finds its condition true at once reports it.
    #[test]
    fn a_ready_poll_returns_at_once() {
        assert_eq!(poll(None, &mut || true), Poll::Ready);
        assert_eq!(poll(Some(Instant::now()), &mut || false), Poll::Deadline);
    }
}
