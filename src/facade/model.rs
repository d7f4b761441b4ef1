//! The facade under `--cfg loom`: every synchronising operation is loom's, so loom
//! sees (and permutes) every point where threads interact.

use core::num::NonZeroUsize;
use std::collections::VecDeque;

pub(crate) use loom::sync::Arc;
pub(crate) use loom::sync::MutexGuard;
pub(crate) use loom::sync::atomic::{
    AtomicBool, AtomicPtr, AtomicU8, AtomicU32, AtomicUsize, Ordering,
};
pub(crate) use std::time::Instant;

/// The mutex guarding each primitive's internal state: loom's own, which costs
/// the model two operations per critical section.
#[derive(Debug)]
pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

/// A new internal mutex.
pub(crate) fn mutex<T>(value: T) -> Mutex<T> {
    Mutex(loom::sync::Mutex::new(value))
}

impl<T> Mutex<T> {
    /// Locks it (internal mutexes are never poisoned: threadkit does not panic
    /// while holding one, except on the `Condition` misuse, which drops it first).
    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        self.0.lock().unwrap()
    }
}

/// The current loom thread's identity, unique for the life of the process:
/// drawn from the same global counter as natively and cached in a *loom*
/// thread-local (loom threads share one OS thread, so std's thread-locals would
/// give every loom thread the same id).
pub(crate) fn current_thread_id() -> NonZeroUsize {
    loom::thread_local!(static ID: core::cell::Cell<usize> = core::cell::Cell::new(0));
    ID.with(|id| match NonZeroUsize::new(id.get()) {
        Some(known) => known,
        None => {
            let fresh = super::next_thread_id();
            id.set(fresh.get());
            fresh
        }
    })
}

/// Thread ids for `lock_api::ReentrantMutex` under loom: [`current_thread_id`].
pub(crate) struct RawThreadId;

// SAFETY: two loom threads never get the same id (ids are never reused).
unsafe impl lock_api::GetThreadId for RawThreadId {
    const INIT: Self = RawThreadId;

    fn nonzero_thread_id(&self) -> NonZeroUsize {
        current_thread_id()
    }
}

/// How a park ended (parking_lot_core's type, rebuilt for the model).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ParkResult {
    /// Woken by `unpark_one`, with the token its callback chose.
    Unparked(UnparkToken),
    /// `validate` returned false: the thread did not park.
    Invalid,
    /// The deadline won the race.
    TimedOut,
}

/// What `unpark_requeue`'s `validate` decides (the part of parking_lot_core's
/// type that threadkit uses).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RequeueOp {
    /// Do nothing.
    Abort,
    /// Wake the longest-parked thread.
    UnparkOne,
    /// Move the longest-parked thread to the other key.
    RequeueOne,
}

/// The message an unparker hands the thread it wakes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct UnparkToken(pub usize);

/// What `unpark_one` found, as its callback sees it.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct UnparkResult {
    /// 1 if a thread was woken, else 0.
    pub unparked_threads: usize,
    /// Whether threads are still parked after this one.
    pub have_more_threads: bool,
    /// Whether the unparker should hand off fairly this time.
    pub be_fair: bool,
}

/// No spinning under loom: the model explores the interleavings a spin would
/// wait out, and a spin would only use up its branch budget.
#[derive(Debug, Default)]
pub(crate) struct SpinWait;

impl SpinWait {
    /// A new spinner.
    pub(crate) fn new() -> SpinWait {
        SpinWait
    }

    /// Never spins: the caller parks at once.
    pub(crate) fn spin(&mut self) -> bool {
        false
    }

    /// Nothing to reset.
    pub(crate) fn reset(&mut self) {}
}

/// The parking lot under loom: one FIFO queue per mutex or wait-queue entry
/// (loom has no global state that outlives a model run), with
/// parking_lot_core's contract, so `RawMutex` and the wait queue run the same
/// protocol as natively. The key arguments are ignored (each lot is one key),
/// except that a parked thread remembers the key it was moved to.
///
/// The parking lot's `be_fair` timer (true about every 0.5 ms) becomes "every
/// other unpark that wakes a thread", starting with a hand-off or with a barging
/// unlock as [`loom_hooks::with_lot_phase`] chose when the lot was created (a
/// hand-off by default), so a model run in both phases explores both kinds of
/// unlock at each of its contended unlocks.
#[derive(Debug)]
pub(crate) struct Lot {
    // A std `Arc` (invisible to loom): a parked thread keeps the queue it is
    // in, which a requeue changes.
    queue: std::sync::Arc<loom::sync::Mutex<LotQueue>>,
}

#[derive(Debug)]
struct LotQueue {
    parked: VecDeque<std::sync::Arc<LotWaiter>>,
    wakes: usize,
    /// A lock's lot: its threads count in `loom_hooks::threads_parked_on_locks`.
    lock: bool,
}

impl LotQueue {
    /// Counts `delta` threads into or out of this queue.
    fn count(&self, delta: isize) {
        if self.lock {
            loom_hooks::count_parked(delta);
        }
    }
}

#[derive(Debug)]
struct LotWaiter {
    wake: loom::sync::Notify,
    // Written and read only under the loom mutex of the queue the waiter is
    // in (or, for a requeue, of both), which orders them; the std mutex only
    // makes the slot `Sync`. Never held across a loom operation.
    slot: std::sync::Mutex<Slot>,
}

#[derive(Debug)]
struct Slot {
    /// The unparker's token, once woken.
    token: Option<UnparkToken>,
    /// The key and queue the waiter is parked in now.
    key: usize,
    queue: std::sync::Arc<loom::sync::Mutex<LotQueue>>,
}

impl LotWaiter {
    fn slot(&self) -> std::sync::MutexGuard<'_, Slot> {
        self.slot.lock().unwrap()
    }
}

impl Lot {
    /// An empty lot for a lock.
    pub(crate) fn new() -> Lot {
        Lot::with_kind(true)
    }

    /// An empty lot for one wait-queue entry.
    pub(crate) fn for_entry() -> Lot {
        Lot::with_kind(false)
    }

    fn with_kind(lock: bool) -> Lot {
        // `be_fair` is true when the count of waking unparks becomes odd.
        let wakes = match loom_hooks::lot_phase() {
            loom_hooks::LotPhase::FairFirst => 0,
            loom_hooks::LotPhase::BargingFirst => 1,
        };
        Lot {
            queue: std::sync::Arc::new(loom::sync::Mutex::new(LotQueue {
                parked: VecDeque::new(),
                wakes,
                lock,
            })),
        }
    }

    /// `parking_lot_core::park` for the model: untimed, a real loom wait;
    /// timed, one yield and then a timeout unless an unpark came first.
    ///
    /// # Safety
    ///
    /// None needed under loom; `unsafe` to match the native signature.
    pub(crate) unsafe fn park(
        &self,
        key: usize,
        validate: impl FnOnce() -> bool,
        timed_out: impl FnOnce(usize, bool),
        deadline: Option<Instant>,
    ) -> ParkResult {
        let me = std::sync::Arc::new(LotWaiter {
            wake: loom::sync::Notify::new(),
            slot: std::sync::Mutex::new(Slot {
                token: None,
                key,
                queue: std::sync::Arc::clone(&self.queue),
            }),
        });
        {
            let mut queue = self.queue.lock().unwrap();
            if !validate() {
                return ParkResult::Invalid;
            }
            queue.parked.push_back(std::sync::Arc::clone(&me));
            queue.count(1);
        }
        if deadline.is_some() {
            loom::thread::yield_now();
        }
        let mut wait = deadline.is_none();
        loop {
            if wait {
                me.wake.wait();
            }
            let here = std::sync::Arc::clone(&me.slot().queue);
            let mut queue = here.lock().unwrap();
            let slot = me.slot();
            if let Some(token) = slot.token {
                return ParkResult::Unparked(token);
            }
            if !std::sync::Arc::ptr_eq(&slot.queue, &here) {
                wait = false; // moved while we looked: look again where it is now
                continue;
            }
            if deadline.is_some() {
                let key = slot.key;
                drop(slot);
                queue
                    .parked
                    .retain(|waiter| !std::sync::Arc::ptr_eq(waiter, &me));
                queue.count(-1);
                timed_out(key, queue.parked.is_empty());
                return ParkResult::TimedOut;
            }
            wait = true; // a spurious `Notify` wake-up: wait again
        }
    }

    /// `parking_lot_core::unpark_one` for the model.
    ///
    /// # Safety
    ///
    /// None needed under loom; `unsafe` to match the native signature.
    pub(crate) unsafe fn unpark_one(
        &self,
        _key: usize,
        callback: impl FnOnce(UnparkResult) -> UnparkToken,
    ) {
        let mut queue = self.queue.lock().unwrap();
        let woken = queue.parked.pop_front();
        if woken.is_some() {
            queue.count(-1);
        }
        queue.wakes += usize::from(woken.is_some());
        let result = UnparkResult {
            unparked_threads: usize::from(woken.is_some()),
            have_more_threads: woken.is_some() && !queue.parked.is_empty(),
            be_fair: woken.is_some() && queue.wakes % 2 == 1,
        };
        let token = callback(result);
        if let Some(waiter) = woken {
            waiter.slot().token = Some(token);
            drop(queue);
            waiter.wake.notify();
        }
    }

    /// `parking_lot_core::unpark_requeue` for the model, for one thread:
    /// `to()` is asked for the target lot only while a thread is parked here,
    /// and both queues are locked (this one first) while `validate` decides.
    ///
    /// # Safety
    ///
    /// None needed under loom; `unsafe` to match the native signature.
    pub(crate) unsafe fn unpark_requeue<'a>(
        &self,
        _key_from: usize,
        to: impl FnOnce() -> &'a Lot,
        key_to: usize,
        validate: impl FnOnce() -> RequeueOp,
        callback: impl FnOnce(RequeueOp, UnparkResult) -> UnparkToken,
    ) {
        let mut from = self.queue.lock().unwrap();
        if from.parked.is_empty() {
            // Natively `validate` would run and find nothing to move either.
            return;
        }
        let to = to();
        let mut target = to.queue.lock().unwrap();
        let op = validate();
        if op == RequeueOp::Abort {
            return;
        }
        let waiter = from.parked.pop_front().expect("checked above");
        from.count(-1);
        let result = UnparkResult {
            unparked_threads: usize::from(op == RequeueOp::UnparkOne),
            have_more_threads: !from.parked.is_empty(),
            be_fair: false,
        };
        let token = callback(op, result);
        if op == RequeueOp::RequeueOne {
            let mut slot = waiter.slot();
            slot.key = key_to;
            slot.queue = std::sync::Arc::clone(&to.queue);
            drop(slot);
            target.parked.push_back(waiter);
            target.count(1);
            return;
        }
        waiter.slot().token = Some(token);
        drop((target, from));
        waiter.wake.notify();
    }
}

/// No polling under loom: the model explores the interleavings a poll would
/// wait out, and a poll would only use up its branch budget.
#[derive(Debug)]
pub(crate) struct SpinPolicy;

impl SpinPolicy {
    /// The policy (nothing to learn under loom).
    pub(crate) const fn new() -> SpinPolicy {
        SpinPolicy
    }

    /// Returns `ready()` at once.
    pub(crate) fn spin(&self, _deadline: Option<Instant>, mut ready: impl FnMut() -> bool) -> bool {
        ready()
    }
}

/// No polling under loom (see [`SpinPolicy`]).
pub(crate) fn poll_shortly(_ready: impl FnMut() -> bool) -> bool {
    false
}

/// No yielding under loom: the model explores every interleaving anyway.
#[derive(Debug)]
pub(crate) struct YieldPolicy;

impl YieldPolicy {
    /// The policy (nothing to learn under loom).
    pub(crate) const fn new() -> YieldPolicy {
        YieldPolicy
    }

    /// Returns `false`: the caller parks.
    pub(crate) fn yield_now(&self, _ready: impl FnMut() -> bool) -> bool {
        false
    }
}

/// No wake-up time to measure under loom: the stamp a woken thread ignores.
pub(crate) fn waking() -> u64 {
    0
}

/// Nothing to learn under loom.
pub(crate) fn woke(_at: u64) {}

/// Nothing to remember under loom.
pub(crate) fn handed_to_poller() {}

/// No yielding under loom (see [`YieldPolicy`]).
pub(crate) fn yield_once(_ready: impl FnMut() -> bool) -> bool {
    false
}

/// Under loom nothing polls, so nothing depends on the CPU count.
pub(crate) fn parallelism() -> usize {
    usize::MAX
}

/// Hooks for threadkit's own loom models: re-exported (hidden) as
/// `threadkit::loom_hooks` under `--cfg loom` only. Not API: they may change.
///
/// Their state is in *std* thread-locals of the OS thread that runs the model:
/// loom runs every thread of every execution on the thread that called
/// `loom::model`, while the test harness runs each test on its own OS thread, so
/// models that run in parallel do not see each other's settings.
pub mod loom_hooks {
    use core::cell::Cell;

    /// What the model parking lot of a lock answers to its first waking unpark
    /// (`be_fair`); later ones alternate.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub enum LotPhase {
        /// The 1st, 3rd, ... contended unlock hands the lock to the longest-parked
        /// thread; the 2nd, 4th, ... release it for anyone to take (the default).
        #[default]
        FairFirst,
        /// The 1st, 3rd, ... contended unlock releases the lock for anyone to
        /// take; the 2nd, 4th, ... hand it over.
        BargingFirst,
    }

    impl LotPhase {
        /// Both phases, the default first.
        pub const BOTH: [LotPhase; 2] = [LotPhase::FairFirst, LotPhase::BargingFirst];
    }

    std::thread_local! {
        static PHASE: Cell<LotPhase> = const { Cell::new(LotPhase::FairFirst) };
        static PARKED: Cell<usize> = const { Cell::new(0) };
    }

    /// Runs `f` (typically `|| loom::model(...)`) with every lock created in it
    /// on this OS thread starting in `phase`; the previous phase is restored
    /// afterwards, also if `f` panics.
    pub fn with_lot_phase<R>(phase: LotPhase, f: impl FnOnce() -> R) -> R {
        struct Restore(LotPhase);
        impl Drop for Restore {
            fn drop(&mut self) {
                PHASE.with(|current| current.set(self.0));
            }
        }
        let _restore = Restore(PHASE.with(|current| current.replace(phase)));
        f()
    }

    /// The phase in which locks created now start.
    pub fn lot_phase() -> LotPhase {
        PHASE.with(Cell::get)
    }

    /// How many threads are parked right now in the parking lots of every
    /// `Lock` and `RLock` of the running execution (a thread counts from the
    /// moment its lot queued it, or a `Condition` notify moved it there, until
    /// an unlock dequeues it or it times out).
    /// For ordering a model's threads ("T2 parked before T3"): it is plain
    /// data, invisible to loom, so read it in a `yield_now` loop.
    pub fn threads_parked_on_locks() -> usize {
        PARKED.with(Cell::get)
    }

    /// Counts threads into (`1`) or out of (`-1`) a lot's queue, under its lock.
    pub(crate) fn count_parked(delta: isize) {
        PARKED.with(|parked| {
            let now = parked
                .get()
                .checked_add_signed(delta)
                .expect("more threads left the lots than entered them");
            parked.set(now);
        });
    }
}

/// Memory fences: loom's, which models `SeqCst` fences exactly.
pub(crate) use loom::sync::atomic::fence;

/// loom's cell: every access is checked for a data race.
pub(crate) use loom::cell::UnsafeCell;

/// Pacing for the few-instruction waits of a lock-free loop: a loom yield
/// each time, so the model runs the thread being waited for (a spin the model
/// cannot see through would never end).
#[derive(Debug, Default)]
pub(crate) struct Backoff;

impl Backoff {
    pub(crate) fn new() -> Backoff {
        Backoff
    }

    /// After a lost race: another thread made progress.
    pub(crate) fn spin(&self) {
        loom::thread::yield_now();
    }

    /// While another thread finishes its step.
    pub(crate) fn snooze(&self) {
        loom::thread::yield_now();
    }
}
