//! Compile-time promises, checked as doctests (`cargo test --doc`): each
//! `compile_fail` block is paired with a block that compiles, so it fails for
//! the promised reason and not for a typo.
//!
//! # `#[must_use]` on results that hold a guard or say whether a wait succeeded
//!
//! Dropping such a result at once releases the lock or permit it took, or
//! ignores a timeout: a warning, here made an error.
//!
//! ```
//! #![deny(unused_must_use)]
//! use std::time::Duration;
//! let (lock, sem, event) = (threadkit::Lock::new(()), threadkit::Semaphore::new(1), threadkit::Event::new());
//! let _held = lock.try_lock_for(Duration::ZERO);
//! let _permit = sem.acquire_for(Duration::ZERO);
//! let _set = event.wait_for(Duration::ZERO);
//! ```
//!
//! ```compile_fail
//! #![deny(unused_must_use)]
//! let lock = threadkit::Lock::new(());
//! lock.try_lock_for(std::time::Duration::ZERO);
//! ```
//!
//! ```compile_fail
//! #![deny(unused_must_use)]
//! let lock = threadkit::Lock::new(());
//! lock.try_lock();
//! ```
//!
//! ```compile_fail
//! #![deny(unused_must_use)]
//! let lock = threadkit::RLock::new(());
//! lock.try_lock_until(std::time::Instant::now());
//! ```
//!
//! ```compile_fail
//! #![deny(unused_must_use)]
//! let sem = threadkit::Semaphore::new(1);
//! sem.acquire_for(std::time::Duration::ZERO);
//! ```
//!
//! ```compile_fail
//! #![deny(unused_must_use)]
//! let sem = threadkit::BoundedSemaphore::new(1);
//! sem.try_acquire();
//! ```
//!
//! ```compile_fail
//! #![deny(unused_must_use)]
//! let sem = std::sync::Arc::new(threadkit::Semaphore::new(1));
//! sem.try_acquire_many_arc(1);
//! ```
//!
//! ```compile_fail
//! #![deny(unused_must_use)]
//! let lock = std::sync::Arc::new(threadkit::Lock::new(()));
//! lock.try_lock_arc();
//! ```
//!
//! ```compile_fail
//! #![deny(unused_must_use)]
//! threadkit::Event::new().wait_for(std::time::Duration::ZERO);
//! ```
//!
//! ```compile_fail
//! #![deny(unused_must_use)]
//! let (lock, cond) = (threadkit::Lock::new(()), threadkit::Condition::new());
//! cond.wait_for(&mut lock.lock(), std::time::Duration::ZERO);
//! ```
//!
//! # Guards stay on their thread
//!
//! ```
//! fn is_sync<T: Sync>(_: &T) {}
//! let lock = std::sync::Arc::new(threadkit::Lock::new(0));
//! is_sync(&lock.lock_arc());
//! ```
//!
//! ```compile_fail
//! fn is_send<T: Send>(_: T) {}
//! let lock = std::sync::Arc::new(threadkit::Lock::new(0));
//! is_send(lock.lock_arc());
//! ```
//!
//! ```compile_fail
//! // `&ArcLockGuard<Cell<_>>` would hand a `&Cell` to two threads.
//! fn is_sync<T: Sync>(_: &T) {}
//! let lock = std::sync::Arc::new(threadkit::Lock::new(std::cell::Cell::new(0)));
//! is_sync(&lock.lock_arc());
//! ```
//!
//! ```compile_fail
//! fn is_send<T: Send>(_: T) {}
//! let lock = threadkit::Lock::new((0, 0));
//! is_send(threadkit::LockGuard::map(lock.lock(), |pair| &mut pair.0));
//! ```
