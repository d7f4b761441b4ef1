//! Blocking concurrency primitives with the semantics of Python's `threading`
//! module, written the Rust way: guards instead of `acquire`/`release` pairs,
//! `Result`s instead of exceptions, `Send`/`Sync` instead of hope.
//!
//! | threadkit | Python | what it is |
//! |---|---|---|
//! | [`Lock`] | `threading.Lock` | mutual exclusion around a value |
//! | [`RLock`] | `threading.RLock` | a lock its owner may take again |
//! | [`Condition`] | `threading.Condition` | wait for a state change under a [`Lock`], no spurious wake-ups |
//! | [`Semaphore`] | `threading.Semaphore` | a pool of permits, RAII [`SemaphorePermit`]s, FIFO-fair |
//! | [`BoundedSemaphore`] | `threading.BoundedSemaphore` | a semaphore that refuses to be released above its initial count |
//! | [`Event`] | `threading.Event` | a flag to wait for; `is_set` is one atomic load |
//! | [`Barrier`] | `threading.Barrier` | a cyclic rendezvous for a fixed number of threads, with an optional action |
//! | [`BoundedQueue`] | `queue.Queue(maxsize)` | a lock-free MPMC FIFO of fixed capacity: blocking, `close`, `task_done`/`join` |
//! | [`Local`] | `threading.local`, werkzeug's `Local` | per-object thread-local values, dropped when their thread exits |
//! | [`LocalStack`] | werkzeug's `LocalStack` | a per-thread stack (Flask's request and app contexts), with scoped pushes |
//!
//! Every blocking call has timed forms named the parking_lot way (`*_for(Duration)`,
//! `*_until(Instant)`); a zero duration tries once, `Duration::MAX` waits forever.
//! Nothing is poisoned: a panic while a guard is held releases the lock.
//! Every operation states its memory-ordering guarantee as a happens-before rule.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use std::thread;
//! use threadkit::{Condition, Lock};
//!
//! let jobs = Arc::new((Lock::new(Vec::new()), Condition::new()));
//! let consumer = {
//!     let jobs = Arc::clone(&jobs);
//!     thread::spawn(move || {
//!         let (queue, ready) = &*jobs;
//!         let mut queue = queue.lock();
//!         ready.wait_while(&mut queue, |q| q.is_empty());
//!         queue.pop().unwrap()
//!     })
//! };
//! jobs.0.lock().push("resize image");
//! jobs.1.notify_one();
//! assert_eq!(consumer.join().unwrap(), "resize image");
//! ```
//!
//! # Model checking with loom
//!
//! Built with `RUSTFLAGS="--cfg loom"`, every primitive runs on loom's types with
//! the same API, so your own loom models explore threadkit's interleavings too.
//! Under loom a timed wait yields once and then may time out, so both outcomes
//! are explored and every model terminates. Create threadkit objects inside the
//! `loom::model` closure, as you would loom's own types.

#![deny(missing_docs)]
#![warn(missing_debug_implementations, rust_2018_idioms)]

mod facade;
mod raw_semaphore;
mod wait_queue;

mod barrier;
mod bounded_queue;
mod bounded_semaphore;
mod condition;
mod event;
mod local;
mod local_stack;
mod lock;
mod lock_all;
mod lock_order;
mod rlock;
mod semaphore;
mod watchdog;

pub use barrier::{Barrier, BarrierWaitError, BarrierWaitResult, BrokenBarrier};
pub use bounded_queue::{
    ArcProducer, BoundedQueue, Closed, GetTimeoutError, Iter, Producer, PutTimeoutError,
    TaskDoneError, TryGetError, TryIter, TryPutError,
};
pub use bounded_semaphore::{BoundedSemaphore, TooManyReleases};
pub use condition::{Condition, WaitTimeoutResult};
pub use event::Event;
#[cfg(all(feature = "deadlock-detection", not(loom)))]
pub use facade::{DeadlockReport, DeadlockedThread};
pub use local::{IterMut, Local, LocalRef};
pub use local_stack::{LocalStack, LocalStackGuard};
pub use lock::{ArcLockGuard, Lock, LockGuard, MappedLockGuard};
pub use lock_all::{LockAll, lock_all, lock_all_for, lock_all_until};
pub use rlock::{RLock, RLockGuard};
pub use semaphore::{OwnedSemaphorePermit, Semaphore, SemaphorePermit};
pub use watchdog::{
    CheckReport, Clock, Heartbeat, ManualClock, PanicReport, ServiceStatus, SystemClock, Watchdog,
    WatchdogBuilder,
};

#[cfg(loom)]
#[doc(hidden)]
pub use facade::loom_hooks; // hooks for threadkit's own loom models, not API

#[cfg(doctest)]
mod doctests;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub mod guide {
    //! Long-form guides, shipped with the API docs (`docs/*.md` in the repository).
    //!
    //! - [`semantics`]: what every primitive guarantees (happens-before, fairness,
    //!   timeouts, errors), model checking your own code with loom, and how it is built.
    //! - [`from_python`]: Python's `threading` name by name, and the GIL, threads
    //!   against processes, lazy globals and thread pools from a Rust point of view.
    //!
    //! Their code blocks are doctests.

    pub mod semantics {
        #![doc = include_str!("../docs/semantics.md")]
        // Its loom example shows a `#[test]` as a user writes it in `tests/`; the
        // doctest runs the model from a hidden `main` in a `--cfg loom` build.
        #![allow(clippy::test_attr_in_doctest)]
    }

    pub mod from_python {
        #![doc = include_str!("../docs/from-python.md")]
    }
}
