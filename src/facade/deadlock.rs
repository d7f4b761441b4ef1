//! Deadlock detection (cargo feature `deadlock-detection`, not under loom):
//! which threads are stuck on which threadkit locks.
//!
//! Two records, both fed by the raw mutex's hooks ([`acquired`], [`released`],
//! [`waiting`]):
//!
//! - `parking_lot_core`'s detector: each lock held by a thread is a resource
//!   keyed by the lock's address, the key its waiters park on. A cycle of
//!   threads parked (without a timeout) on locks held by one another is a
//!   deadlock; the detector then wakes each of them to capture its backtrace,
//!   and parks it again for good.
//! - Ours, per thread: its name and the locks it holds and waits for, which
//!   the detector does not expose, so a report can say which locks.
//!
//! What it cannot see: waits that do not hold a lock's resource: a
//! `Condition` waiting for a notify, `Semaphore`, `Event`, `Barrier` and
//! `BoundedQueue` waits (a thread blocked there is not waiting for a lock
//! owner), and timed lock waits (`try_lock_for`), which end by themselves.

use core::fmt;
use std::sync::{Arc, Mutex, Weak};
use std::thread::ThreadId;

/// One thread of a deadlock: who it is, what it waits for and holds.
///
/// ```
/// # #[cfg(feature = "deadlock-detection")] {
/// // Reports come from a `Watchdog` check (see `DeadlockReport`).
/// fn describe(thread: &threadkit::DeadlockedThread) -> String {
///     format!("{} waits for {:?}", thread.name.as_deref().unwrap_or("<unnamed>"), thread.waiting_for)
/// }
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeadlockedThread {
    /// The thread's name, if it has one.
    pub name: Option<String>,
    /// The thread's std id.
    pub id: ThreadId,
    /// The lock it is blocked on, by the address of the lock's internal
    /// mutex: a `Lock`'s own address (without the `lock-order` feature), an
    /// address inside an `RLock`. It identifies the lock within a report.
    pub waiting_for: Option<usize>,
    /// The locks it holds, by the same addresses as `waiting_for`.
    pub holding: Vec<usize>,
    /// Where it is blocked: its backtrace, captured when the deadlock was found.
    pub backtrace: String,
}

/// A deadlock: a cycle of threads, each blocked on a lock another one holds.
///
/// Found by a [`Watchdog`](crate::Watchdog) check with the cargo feature
/// `deadlock-detection`, reported to
/// [`on_deadlock`](crate::WatchdogBuilder::on_deadlock) (or `log::error!`) and
/// listed in [`CheckReport::deadlocks`](crate::CheckReport::deadlocks). Each
/// deadlock is reported once; its threads stay blocked.
///
/// ```
/// # #[cfg(feature = "deadlock-detection")] {
/// let watchdog = threadkit::Watchdog::builder()
///     .on_deadlock(|deadlock| eprintln!("{deadlock}"))
///     .manual();
/// assert!(watchdog.check_now().deadlocks.is_empty());
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeadlockReport {
    /// The threads of the cycle.
    pub threads: Vec<DeadlockedThread>,
}

impl DeadlockReport {
    /// The thread of this cycle that holds the lock at `addr`.
    fn holder(&self, addr: usize) -> Option<&DeadlockedThread> {
        self.threads.iter().find(|t| t.holding.contains(&addr))
    }
}

impl fmt::Display for DeadlockReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "deadlock among {} threads:", self.threads.len())?;
        for thread in &self.threads {
            write!(f, "  thread {}", Named(thread))?;
            if let Some(addr) = thread.waiting_for {
                write!(f, " waits for lock {addr:#x}")?;
                if let Some(holder) = self.holder(addr) {
                    write!(f, " (held by {})", Named(holder))?;
                }
            }
            write!(f, "; holds")?;
            for addr in &thread.holding {
                write!(f, " {addr:#x}")?;
            }
            writeln!(f)?;
        }
        for thread in &self.threads {
            writeln!(f, "backtrace of {}:\n{}", Named(thread), thread.backtrace)?;
        }
        Ok(())
    }
}

/// A thread as `` `name` (ThreadId(n)) ``.
struct Named<'a>(&'a DeadlockedThread);

impl fmt::Display for Named<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0.name {
            Some(name) => write!(f, "`{name}` ({:?})", self.0.id),
            None => write!(f, "<unnamed> ({:?})", self.0.id),
        }
    }
}

/// What we know of one thread's locks.
struct Record {
    id: ThreadId,
    name: Option<String>,
    locks: Mutex<Locks>,
}

#[derive(Default)]
struct Locks {
    held: Vec<usize>,
    waiting_for: Option<usize>,
}

/// Every thread that has taken a threadkit lock (dead ones drop out).
static THREADS: Mutex<Vec<Weak<Record>>> = Mutex::new(Vec::new());

std::thread_local! {
    static RECORD: Arc<Record> = register();
}

/// The current thread's record, made and listed on its first lock.
fn register() -> Arc<Record> {
    let current = std::thread::current();
    let record = Arc::new(Record {
        id: current.id(),
        name: current.name().map(str::to_owned),
        locks: Mutex::new(Locks::default()),
    });
    let mut threads = THREADS.lock().unwrap_or_else(|e| e.into_inner());
    threads.retain(|t| t.strong_count() > 0);
    threads.push(Arc::downgrade(&record));
    record
}

/// Runs `f` on this thread's lock record (not while its thread-locals are
/// being destroyed: a lock taken then goes unrecorded here).
fn with_locks(f: impl FnOnce(&mut Locks)) {
    let _ =
        RECORD.try_with(|record| f(&mut record.locks.lock().unwrap_or_else(|e| e.into_inner())));
}

/// This thread now holds the lock at `addr`.
#[inline]
pub(crate) fn acquired(addr: usize) {
    // SAFETY: called right after the lock was acquired, on the acquiring thread.
    unsafe { parking_lot_core::deadlock::acquire_resource(addr) };
    with_locks(|locks| locks.held.push(addr));
}

/// This thread is about to release the lock at `addr`.
#[inline]
pub(crate) fn released(addr: usize) {
    // SAFETY: called right before the lock is released, by the thread holding it.
    unsafe { parking_lot_core::deadlock::release_resource(addr) };
    with_locks(|locks| {
        if let Some(at) = locks.held.iter().rposition(|&held| held == addr) {
            locks.held.swap_remove(at);
        }
    });
}

/// This thread parks for the lock at `addr` (`Some`), or stopped waiting (`None`).
#[inline]
pub(crate) fn waiting(addr: Option<usize>) {
    with_locks(|locks| locks.waiting_for = addr);
}

/// The deadlocks found since the last call (each is reported once). Blocks
/// briefly while the deadlocked threads capture their backtraces.
pub(crate) fn detect() -> Vec<DeadlockReport> {
    let cycles = parking_lot_core::deadlock::check_deadlock();
    if cycles.is_empty() {
        return Vec::new();
    }
    let records: Vec<Arc<Record>> = THREADS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter_map(Weak::upgrade)
        .collect();
    cycles
        .into_iter()
        .map(|cycle| DeadlockReport {
            threads: cycle
                .into_iter()
                .map(|thread| {
                    let record = records.iter().find(|r| r.id == thread.thread_id());
                    let (waiting_for, holding) = record.map_or((None, Vec::new()), |r| {
                        let locks = r.locks.lock().unwrap_or_else(|e| e.into_inner());
                        (locks.waiting_for, locks.held.clone())
                    });
                    DeadlockedThread {
                        name: record.and_then(|r| r.name.clone()),
                        id: thread.thread_id(),
                        waiting_for,
                        holding,
                        backtrace: format!("{:?}", thread.backtrace()),
                    }
                })
                .collect(),
        })
        .collect()
}
