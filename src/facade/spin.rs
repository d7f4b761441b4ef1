//! The waiting policy: whether a waiter polls for its wake-up before it
//! parks, and for how long.
//!
//! # Lengths measured, not assumed
//!
//! A waiter that parks pays, once its wake-up comes, the machine's *wake-up
//! time*: from the waker's unpark to the woken thread's first step. That is
//! not a constant of a machine. One virtual machine took 2-3 µs while its
//! other CPU was busy and 15-20 µs while it was idle (an idle virtual CPU
//! halts, and waking it goes through the host), changing with the load from
//! minute to minute. So every woken thread measures its own wake-up, the
//! process keeps a running estimate ([`WakeTime`]) that a rare slow wake-up
//! cannot inflate, and every length the policy uses is derived from it, within
//! fixed bounds ([`Limits`]):
//!
//! - **A poll lasts one wake-up time**, what a park would cost. A waiter that
//!   polls that long and then parks pays at most twice what the better choice
//!   would have cost, whatever the wait turns out to be (the ski-rental rule).
//! - **After waking its partner, one wake-up time more.** A waiter that has
//!   just unparked the thread it now waits for (every turn of a ping-pong
//!   once one side parked) knows that thread cannot answer before it is
//!   awake: its poll is stretched by the part of that wake-up still to come.
//!   Without this, a pair on a machine whose wake-up outlasts the poll falls
//!   into a park per hand-off and never climbs out, since the partner is
//!   still waking up when the poll gives up.
//! - **Descheduled**: a gap between two clock reads (a fraction of a
//!   microsecond apart) longer than half a wake-up time means this thread
//!   lost its CPU while polling, so the CPUs are oversubscribed.
//! - **A short yield** kept this thread off its CPU for less than two wake-up
//!   times: the CPU went to a thread that did a short piece of work (the
//!   other side of a queue, filling a batch), not to an unrelated busy one.
//!
//! # When to poll at all
//!
//! Polling wins when the thread that will wake us is running right now, and
//! only burns the CPU it needs when it is not. So a waiter polls only when
//! all of these hold (the rules of Go's `sync.Mutex` and glibc's adaptive
//! mutex, adapted):
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
//!    ([`Credit`]): a poll that ends in a wake-up earns 1, a poll that ends in
//!    a park costs 2, so a queue polls only while at least two of three polls
//!    succeed. At zero credit it parks at once, and polls one wait in 16 as a
//!    probe, to notice when the regime changes; each failed probe doubles that
//!    interval (up to one in 1024) and each successful one halves it, so where
//!    polling never pays, probes cost next to nothing. A wait that follows a
//!    wake-up of its partner probes one time in 16 whatever the interval: a
//!    pair that fell into parking climbs back out within a bounded number of
//!    hand-offs once polling pays again.
//! 4. **We keep the CPU.** A poll ends, as a failure, the moment the clock
//!    shows this thread was descheduled.
//!
//! After a failed poll, a queue's waiter may yield its CPU once before it parks
//! ([`YieldPolicy`]): that pays when the thread it waits for is runnable on
//! the same CPU, which is always so on one CPU and often so when threads
//! outnumber CPUs. With more than one CPU the same credit decides whether a
//! queue side yields, a success being a short yield after which the waiter can
//! go on.
//!
//! The decisions are functions of the durations observed ([`Limits`],
//! [`poll_budget`], [`Credit`]), so the tests below run them on simulated
//! machines, with no clock.

use core::cell::Cell;
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use core::time::Duration;
use std::time::Instant;

/// The wake-up time assumed before any was measured.
const WAKE_START: Duration = Duration::from_micros(10);
/// Bounds of a wake-up time sample, and so of the estimate.
const WAKE_MIN: Duration = Duration::from_micros(1);
const WAKE_MAX: Duration = Duration::from_micros(100);

/// Bounds of a poll's length before the partner's wake-up is added: a poll
/// shorter than a few microseconds misses a running partner's answer, and one
/// longer than 50 µs holds a CPU for a sizeable part of a time slice.
const POLL_MIN: Duration = Duration::from_micros(3);
const POLL_MAX: Duration = Duration::from_micros(50);

/// Bounds of the "descheduled" gap between two clock reads: above a
/// hypervisor's usual hiccup, below a time slice.
const DESCHEDULED_MIN: Duration = Duration::from_micros(3);
const DESCHEDULED_MAX: Duration = Duration::from_micros(25);

/// Bounds of a short yield: above a system call and a context switch there
/// and back, below a time slice (0.75 ms or more on Linux).
const SHORT_YIELD_MIN: Duration = Duration::from_micros(10);
const SHORT_YIELD_MAX: Duration = Duration::from_micros(100);

/// How often a waiter denied a full poll (every other CPU has a poller) polls
/// anyway: about a microsecond (a `PAUSE` takes 10-150 cycles), as long as a
/// poller takes to notice its wake-up and answer.
const BRIEF_POLLS: u32 = 32;

/// How many `PAUSE`s [`poll_shortly`] takes, looking after each: a check
/// after every one sees the other side's answer as soon as it comes.
const SHORT_POLLS: u32 = 16;

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

/// The process's estimate of the machine's wake-up time (see the module docs).
#[derive(Debug)]
pub(crate) struct WakeTime {
    nanos: AtomicU32,
}

/// The estimate every wait queue and queue side of this process shares.
static WAKE_TIME: WakeTime = WakeTime::new(WAKE_START);

impl WakeTime {
    const fn new(start: Duration) -> WakeTime {
        WakeTime {
            nanos: AtomicU32::new(start.as_nanos() as u32),
        }
    }

    /// The current estimate.
    fn get(&self) -> Duration {
        Duration::from_nanos(u64::from(self.nanos.load(Ordering::Relaxed)))
    }

    /// One woken thread's wake-up time: a running average over about eight
    /// wake-ups, in which a sample counts for at most twice the estimate, so
    /// that a wake-up that waited for a busy CPU's time slice raises it by an
    /// eighth rather than to a millisecond, while a real change of regime is
    /// followed within a few dozen wake-ups.
    fn observe(&self, sample: Duration) {
        let sample = sample.clamp(WAKE_MIN, WAKE_MAX).as_nanos() as u32;
        let _ = self
            .nanos
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |estimate| {
                let sample = sample.min(estimate.saturating_mul(2));
                Some(estimate - estimate / 8 + sample / 8)
            });
    }
}

/// The lengths a wait uses, derived from the wake-up time (module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Limits {
    /// How long a poll lasts before the partner's wake-up is added.
    poll: Duration,
    /// A gap between clock reads this long means the poller lost its CPU.
    descheduled: Duration,
    /// A yield shorter than this let a short piece of work run.
    short_yield: Duration,
    /// The wake-up time they were derived from.
    wake: Duration,
}

impl Limits {
    fn from_wake_time(wake: Duration) -> Limits {
        Limits {
            poll: wake.clamp(POLL_MIN, POLL_MAX),
            descheduled: (wake / 2).clamp(DESCHEDULED_MIN, DESCHEDULED_MAX),
            short_yield: (wake * 2).clamp(SHORT_YIELD_MIN, SHORT_YIELD_MAX),
            wake,
        }
    }

    /// The limits for this machine, now.
    fn now() -> Limits {
        Limits::from_wake_time(WAKE_TIME.get())
    }
}

/// One wait's poll, as the rules decide it from what the thread knows now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Plan {
    /// How long to poll.
    budget: Duration,
    /// A probe (no credit): its outcome also moves the probe interval.
    probe: bool,
}

impl Plan {
    /// The poll of a wait on a queue with `credit`, after `hand_off` (this
    /// thread's last hand-off), where `cpus` can run at once; `None`: park
    /// at once.
    fn new(credit: &Credit, limits: &Limits, hand_off: HandOff, cpus: usize) -> Option<Plan> {
        if cpus == 1 {
            return None;
        }
        let (after_hand_off, still_waking) = match hand_off {
            HandOff::ToPoller => (true, Duration::ZERO),
            // A partner woken longer than a wake-up time ago is awake by now.
            HandOff::Woke { since } if since < limits.wake => (true, limits.wake - since),
            HandOff::Woke { .. } | HandOff::None => (false, Duration::ZERO),
        };
        match credit.decide(after_hand_off) {
            Decision::Park => None,
            decision => Some(Plan {
                budget: limits.poll + still_waking,
                probe: decision == Decision::Probe,
            }),
        }
    }

    /// Records how the poll ended.
    fn learn(self, credit: &Credit, outcome: Poll) {
        match outcome {
            Poll::Ready => credit.learn(true, self.probe),
            Poll::GaveUp | Poll::Descheduled => credit.learn(false, self.probe),
            // Not the queue's fault: the caller's deadline cut the poll short.
            Poll::Deadline => {}
        }
    }
}

/// What a thread's last hand-off (a token stored for a waiter) says about
/// its next wait: the partner it served may be what that wait waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HandOff {
    /// None since the thread's last wait.
    None,
    /// To a partner that was polling: it is running, and may answer soon.
    ToPoller,
    /// To a parked partner, unparked `since` ago: it answers once awake.
    Woke { since: Duration },
}

std::thread_local! {
    /// The running thread's last hand-off since its last wait: 0 for none,
    /// [`TO_POLLER`], or the [`now_nanos`] at which it unparked a partner.
    static LAST_HAND_OFF: Cell<u64> = const { Cell::new(0) };
}

/// [`LAST_HAND_OFF`]'s mark of a hand-off to a polling partner (no clock read).
const TO_POLLER: u64 = 1;

/// Nanoseconds since the process's first call, above [`TO_POLLER`]: an
/// `Instant` that fits an atomic.
fn now_nanos() -> u64 {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    (epoch.elapsed().as_nanos() as u64).max(TO_POLLER + 1)
}

/// The running thread's last hand-off, forgotten by this wait.
fn take_hand_off() -> HandOff {
    match LAST_HAND_OFF.try_with(|last| last.replace(0)).unwrap_or(0) {
        0 => HandOff::None,
        TO_POLLER => HandOff::ToPoller,
        at => HandOff::Woke {
            since: Duration::from_nanos(now_nanos().saturating_sub(at)),
        },
    }
}

/// A waker stored a token for a waiter that was still polling.
pub(crate) fn handed_to_poller() {
    let _ = LAST_HAND_OFF.try_with(|last| last.set(TO_POLLER));
}

/// A waker is unparking a parked waiter: returns the moment, for the woken
/// thread to measure its wake-up time by ([`woke`]), and remembers it for
/// the waker's own next wait (module docs).
pub(crate) fn waking() -> u64 {
    let now = now_nanos();
    let _ = LAST_HAND_OFF.try_with(|last| last.set(now));
    now
}

/// The first step of a thread that [`waking`] stamped `at` (0: no stamp):
/// its wake-up time joins the process's estimate.
pub(crate) fn woke(at: u64) {
    if at != 0 {
        WAKE_TIME.observe(Duration::from_nanos(now_nanos().saturating_sub(at)));
    }
}

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

    /// Whether to take the step this time: with credit, or as a probe (at
    /// least one wait in `2^PROBE_SHIFT_MIN` when `after_hand_off`: this
    /// thread has just served a waiter, which may be what it now waits for).
    fn decide(&self, after_hand_off: bool) -> Decision {
        let state = self.state.load(Ordering::Relaxed);
        if state & CREDIT_MASK != 0 {
            return Decision::Try;
        }
        let state = self.state.fetch_add(SKIP_ONE, Ordering::Relaxed);
        let shift = match after_hand_off {
            true => PROBE_SHIFT_MIN,
            false => (state & SHIFT_MASK) >> SHIFT_AT,
        };
        let every = 1 << shift;
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
        let limits = Limits::now();
        let Some(plan) = Plan::new(&self.credit, &limits, take_hand_off(), parallelism()) else {
            return ready();
        };
        if SPINNERS.fetch_add(1, Ordering::Relaxed) >= parallelism() - 1 {
            SPINNERS.fetch_sub(1, Ordering::Relaxed);
            // Every other CPU has a poller: one of them is most likely the
            // thread that will wake us, about to do so (two threads handing
            // work back and forth overlap for a moment). A poll this brief
            // costs less than the park it may save, and learns nothing.
            return poll_briefly(&mut ready);
        }
        let outcome = poll(plan.budget, limits.descheduled, deadline, &mut ready);
        SPINNERS.fetch_sub(1, Ordering::Relaxed);
        plan.learn(&self.credit, outcome);
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
    /// parks once per batch instead of once per item.
    ///
    /// With more than one CPU a side yields only while yields pay, learned
    /// with the credit of rule 3 of the module docs:
    /// - A yield succeeds when it was short ([`Limits::short_yield`]) and
    ///   `ready()` then holds. A long one gave the CPU to an unrelated busy
    ///   thread for its time slice; after a short one that finds nothing, no
    ///   other thread was runnable here, and the system call was wasted.
    /// - A wait by another thread than the side's last waiter counts as a
    ///   failure, and does not yield. With several threads on a side, the ones
    ///   that park let the scheduler spread the rest over the CPUs, while
    ///   yielding keeps them all runnable and piles them onto one.
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
        let decision = self.credit.decide(false);
        if decision == Decision::Park {
            return false;
        }
        let started = Instant::now();
        std::thread::yield_now();
        let short = started.elapsed() < Limits::now().short_yield;
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

/// Polls `ready` for up to `budget`, never past `deadline`, giving up as
/// descheduled at a gap of `descheduled` between two clock reads.
fn poll(
    budget: Duration,
    descheduled: Duration,
    deadline: Option<Instant>,
    ready: &mut impl FnMut() -> bool,
) -> Poll {
    let started = Instant::now();
    let give_up = started + budget;
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
        if now.duration_since(last) > descheduled {
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
            .filter(|_| policy.decide(false) != Decision::Park)
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
            policy.decide(false),
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
            policy.decide(false),
            Decision::Try,
            "a successful probe gives credit"
        );
        assert_eq!(
            policy.decide(false),
            Decision::Try,
            "asking does not use it up"
        );
    }

    /// A long run of successes is forgotten after three failures.
    #[test]
    fn credit_is_bounded() {
        let policy = Credit::new();
        for _ in 0..100 {
            policy.learn(true, false);
        }
        for _ in 0..3 {
            assert_eq!(policy.decide(false), Decision::Try);
            policy.learn(false, false);
        }
        assert_eq!(policy.decide(false), Decision::Park);
    }

    /// The lengths follow the wake-up time, within their bounds.
    #[test]
    fn limits_follow_the_wake_up_time_within_bounds() {
        let us = Duration::from_micros;
        let busy = Limits::from_wake_time(us(3));
        assert_eq!(
            (busy.poll, busy.descheduled, busy.short_yield),
            (us(3), us(3), us(10))
        );
        let idle = Limits::from_wake_time(us(18));
        assert_eq!(
            (idle.poll, idle.descheduled, idle.short_yield),
            (us(18), us(9), us(36))
        );
        let slow = Limits::from_wake_time(us(100));
        assert_eq!(
            (slow.poll, slow.descheduled, slow.short_yield),
            (us(50), us(25), us(100))
        );
    }

    /// The estimate follows a change of regime within a few dozen wake-ups,
    /// and a rare wake-up that waited for a time slice barely moves it.
    #[test]
    fn the_wake_up_estimate_tracks_the_regime_and_ignores_outliers() {
        let us = Duration::from_micros;
        let wake = WakeTime::new(us(3));
        for _ in 0..40 {
            wake.observe(us(18));
        }
        assert!((us(16)..=us(18)).contains(&wake.get()), "{:?}", wake.get());
        wake.observe(Duration::from_millis(4)); // waited for a busy CPU's time slice
        assert!(wake.get() < us(21), "{:?}", wake.get());
        for _ in 0..40 {
            wake.observe(us(3));
        }
        assert!(wake.get() < us(4), "{:?}", wake.get());
    }

    /// The simulated machines below: two threads hand a token back and forth
    /// (a ping-pong on two wait queues, one per direction), each wait planned
    /// by the policy's own decisions ([`Plan`], [`Credit`], [`Limits`],
    /// [`WakeTime`]) in simulated time.
    mod simulation {
        use super::*;

        /// What the simulated machine does.
        #[derive(Clone, Copy, Debug)]
        struct Machine {
            /// A parked thread's wake-up times, taken in turn (jitter).
            wake: [Duration; 4],
            /// How long a polling thread takes to see a token and answer.
            answer: Duration,
            /// Both threads want the same CPU: a partner runs only once the
            /// waiter stops polling (a busy thread on every other CPU).
            shares_cpu: bool,
            /// How many CPUs the process may use.
            cpus: usize,
        }

        /// What the last `measured` hand-offs of a run cost.
        #[derive(Debug, Default)]
        struct Cost {
            /// Hand-offs whose waiter had parked.
            parks: usize,
            /// Polls that found the token.
            polls_paid: usize,
            /// CPU time burnt by polls that did not.
            wasted: Duration,
        }

        /// How the pair starts.
        #[derive(Clone, Copy, Debug, PartialEq)]
        enum Start {
            /// New wait queues, nothing measured yet.
            Fresh,
            /// Fallen into parking: no credit, probes at their rarest, the
            /// machine's wake-up time already measured.
            Parked,
        }

        struct Side {
            credit: Credit,
            hand_off: HandOff,
        }

        /// `hand_offs` hand-offs of a ping-pong pair on `machine`; the cost
        /// of the last `measured`.
        fn ping_pong(machine: Machine, start: Start, hand_offs: usize, measured: usize) -> Cost {
            let wake_time = WakeTime::new(match start {
                Start::Fresh => WAKE_START,
                Start::Parked => machine.wake[0],
            });
            let side = || {
                let credit = Credit::new();
                if start == Start::Parked {
                    for _ in 0..20 {
                        credit.learn(false, true);
                    }
                }
                Side {
                    credit,
                    hand_off: HandOff::None,
                }
            };
            let mut sides = [side(), side()];
            let mut cost = Cost::default();
            // Side 1 waits since time 0; side 0 runs and hands off at time 0.
            let (mut runner, mut now) = (0, Duration::ZERO);
            let mut waiting_since = Duration::ZERO;
            let mut plan = Plan::new(
                &sides[1].credit,
                &Limits::from_wake_time(wake_time.get()),
                HandOff::None,
                machine.cpus,
            );
            for turn in 0..hand_offs {
                let waiter = 1 - runner;
                let counted = turn >= hand_offs - measured;
                if machine.shares_cpu {
                    // The runner got the CPU only once the waiter's poll ended.
                    now = now.max(waiting_since + plan.map_or(Duration::ZERO, |p| p.budget));
                }
                let caught =
                    plan.is_some_and(|p| !machine.shares_cpu && now - waiting_since <= p.budget);
                let waiter_runs_at = if caught {
                    plan.unwrap().learn(&sides[waiter].credit, Poll::Ready);
                    sides[runner].hand_off = HandOff::ToPoller;
                    cost.polls_paid += usize::from(counted);
                    now + machine.answer
                } else {
                    if let Some(p) = plan {
                        p.learn(&sides[waiter].credit, Poll::GaveUp);
                        if counted {
                            cost.wasted += p.budget;
                        }
                    }
                    cost.parks += usize::from(counted);
                    let wake = machine.wake[turn % machine.wake.len()];
                    wake_time.observe(wake);
                    sides[runner].hand_off = HandOff::Woke {
                        since: Duration::ZERO,
                    };
                    now + wake
                };
                // The runner now waits for the answer; the waiter runs.
                let limits = Limits::from_wake_time(wake_time.get());
                let hand_off = core::mem::replace(&mut sides[runner].hand_off, HandOff::None);
                plan = Plan::new(&sides[runner].credit, &limits, hand_off, machine.cpus);
                waiting_since = now;
                now = waiter_runs_at;
                runner = waiter;
            }
            cost
        }

        fn machine(wake_us: u64, shares_cpu: bool) -> Machine {
            let us = |n| Duration::from_nanos(n * 1000);
            // About a quarter of jitter around the wake-up time.
            let wake = [wake_us * 4 / 4, wake_us * 5 / 4, wake_us * 3 / 4, wake_us];
            Machine {
                wake: wake.map(us),
                answer: Duration::from_nanos(300),
                shares_cpu,
                cpus: 2,
            }
        }

        /// Where the partner runs on another CPU, polling pays whatever the
        /// wake-up time, and the pair polls (no park per hand-off) from a
        /// fresh start and after having fallen into parking.
        #[test]
        #[cfg_attr(
            miri,
            ignore = "arithmetic on simulated time, no unsafe and no threads: nothing for Miri to check, and its 10^5 steps take minutes there"
        )]
        fn with_a_running_partner_the_pair_polls_on_every_machine() {
            for wake_us in [5, 15, 30, 60] {
                for start in [Start::Fresh, Start::Parked] {
                    let cost = ping_pong(machine(wake_us, false), start, 2000, 1000);
                    assert!(
                        cost.parks <= 10,
                        "wake-up {wake_us} µs, {start:?}: {cost:?}"
                    );
                }
            }
        }

        /// A pair that fell into parking is back to polling within a bounded
        /// number of hand-offs: no bad equilibrium.
        #[test]
        #[cfg_attr(
            miri,
            ignore = "arithmetic on simulated time, no unsafe and no threads: nothing for Miri to check, and its 10^5 steps take minutes there"
        )]
        fn a_pair_that_fell_into_parking_climbs_out_within_a_bounded_number_of_hand_offs() {
            for wake_us in [5, 15, 30, 60] {
                let warm_up = 100;
                let cost = ping_pong(machine(wake_us, false), Start::Parked, warm_up + 1000, 1000);
                assert_eq!(
                    cost.parks, 0,
                    "wake-up {wake_us} µs: still parking after {warm_up} hand-offs: {cost:?}"
                );
            }
        }

        /// On one CPU nothing polls: the partner needs the CPU the poll would hold.
        #[test]
        #[cfg_attr(
            miri,
            ignore = "arithmetic on simulated time, no unsafe and no threads: nothing for Miri to check, and its 10^5 steps take minutes there"
        )]
        fn on_one_cpu_the_pair_never_polls() {
            for wake_us in [5, 15, 30, 60] {
                for start in [Start::Fresh, Start::Parked] {
                    let one_cpu = Machine {
                        cpus: 1,
                        ..machine(wake_us, true)
                    };
                    let cost = ping_pong(one_cpu, start, 2000, 1000);
                    assert_eq!(
                        (cost.parks, cost.wasted),
                        (1000, Duration::ZERO),
                        "{wake_us} µs, {start:?}"
                    );
                }
            }
        }

        /// Where the partner waits for this CPU, no poll can pay: the pair
        /// parks, and the polls that probe for a change waste a small part
        /// of what the parks cost.
        #[test]
        #[cfg_attr(
            miri,
            ignore = "arithmetic on simulated time, no unsafe and no threads: nothing for Miri to check, and its 10^5 steps take minutes there"
        )]
        fn with_a_partner_waiting_for_this_cpu_the_pair_parks() {
            for wake_us in [5, 15, 30, 60] {
                let cost = ping_pong(machine(wake_us, true), Start::Fresh, 2000, 1000);
                let parks_cost = Duration::from_micros(wake_us) * 1000;
                assert_eq!(cost.polls_paid, 0);
                assert!(
                    cost.wasted < parks_cost / 5,
                    "wake-up {wake_us} µs: {:?} polled in vain against {parks_cost:?} of wake-ups",
                    cost.wasted
                );
            }
        }
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
        let (budget, gap) = (Duration::from_secs(1), Duration::from_secs(1));
        assert_eq!(poll(budget, gap, None, &mut || true), Poll::Ready);
        assert_eq!(
            poll(budget, gap, Some(Instant::now()), &mut || false),
            Poll::Deadline
        );
    }
}
