//! `lock_all`: several `Lock`s at once, without deadlock (C++'s `std::lock`).
//!
//! (Being written: see issue [8/8]. A stub so the crate builds meanwhile.)

use core::time::Duration;

use crate::facade::Instant;

/// A set of locks that [`lock_all`] can take together (stub).
pub trait LockAll {
    /// The guards, in argument order.
    type Guards;
}

/// Takes every lock in `locks` without deadlock (stub).
pub fn lock_all<L: LockAll>(_locks: L) -> L::Guards {
    unimplemented!()
}

/// [`lock_all`], giving up after `timeout` (stub).
pub fn lock_all_for<L: LockAll>(_locks: L, _timeout: Duration) -> Option<L::Guards> {
    unimplemented!()
}

/// [`lock_all`], giving up at `deadline` (stub).
pub fn lock_all_until<L: LockAll>(_locks: L, _deadline: Instant) -> Option<L::Guards> {
    unimplemented!()
}
