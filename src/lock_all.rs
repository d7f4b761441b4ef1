//! [`lock_all`]: several [`Lock`]s at once, without deadlock (C++'s `std::lock`).
//!
//! The seeds' deadlock: one thread takes `a` then `b`, another `b` then `a`, and
//! each ends up holding the lock the other waits for. `lock_all((&a, &b))` takes
//! both without ever waiting while it holds one of them, so it cannot be part of
//! such a cycle, whatever order other threads use.
//!
//! One function, [`take_all`], does the work for tuples and arrays alike: it sees
//! the locks through [`Slot`], an object-safe view of "a `&Lock<T>` and its guard
//! while held", so the mixed `T`s of a tuple do not matter to it.

use core::fmt;
use core::panic::Location;
use core::time::Duration;

use crate::facade::{self, Instant};
use crate::lock::{Lock, LockGuard};
use crate::lock_order::{self, Node};

/// A call site, for the lock-order checker's messages.
type Site = &'static Location<'static>;

/// A set of [`Lock`]s that [`lock_all`] can take together: a tuple of 2 to 6
/// `&Lock<_>` (each with its own `T`), or an array `[&Lock<T>; N]` (any `N`,
/// 0 included).
///
/// Sealed: implemented by threadkit for those types only.
///
/// ```
/// use threadkit::{Lock, LockAll, LockGuard};
///
/// // `Guards` names what `lock_all` returns for a given set of locks.
/// fn both<'a>(a: &'a Lock<u8>, b: &'a Lock<String>)
///     -> <(&'a Lock<u8>, &'a Lock<String>) as LockAll>::Guards
/// {
///     threadkit::lock_all((a, b))
/// }
///
/// let (a, b) = (Lock::new(1), Lock::new(String::from("x")));
/// let (one, x): (LockGuard<'_, u8>, LockGuard<'_, String>) = both(&a, &b);
/// assert_eq!((*one, x.as_str()), (1, "x"));
/// ```
pub trait LockAll: sealed::Sealed {
    /// The guards, in argument order: a tuple of [`LockGuard`]s for a tuple of
    /// locks, `[LockGuard<'a, T>; N]` for an array.
    type Guards;
}

mod sealed {
    use crate::facade::Instant;

    /// Seals [`LockAll`](super::LockAll) and carries its one method, which users
    /// can neither see nor call.
    pub trait Sealed {
        /// Takes every lock, or none if `deadline` passes first (never with `None`).
        #[track_caller]
        fn take(self, deadline: Option<Instant>) -> Option<<Self as super::LockAll>::Guards>
        where
            Self: super::LockAll;
    }
}

/// Takes every lock in `locks` and returns their guards in argument order,
/// without deadlock whatever order other threads take the same locks in.
///
/// `locks` is a tuple of 2 to 6 `&Lock<_>`, each with its own `T` (the result is
/// the tuple of their [`LockGuard`]s), or an array `[&Lock<T>; N]` (the result is
/// `[LockGuard<'_, T>; N]`; `N` may be 0 or 1).
///
/// # Algorithm, and why it cannot deadlock
///
/// The algorithm of C++'s `std::lock`: block on one lock; holding it, only *try*
/// the others, in rotation. If a try fails, release everything taken so far,
/// then block on the lock that failed (so that the next round starts with the
/// one another thread was holding) and try the rest after it. A deadlock needs a
/// cycle of threads each *waiting* for a lock while *holding* another; a thread
/// inside `lock_all` only ever waits while holding none of these locks, so it is
/// never part of such a cycle, whether the others use plain [`Lock::lock`] in any
/// order or `lock_all` too. (Locks the calling thread already holds from before
/// the call are its own business: `lock_all` does not release those.)
///
/// It returns once it held all the locks at the same instant; it does not spin
/// on a busy lock, and a failed round costs one release of each lock taken in it.
/// Under constant contention from other threads a round can fail again and
/// again (in theory without end, as with `std::lock`); each failure means another
/// thread made progress with one of these locks.
///
/// # Happens-before
///
/// For each lock, everything done by its previous holder happens-before
/// `lock_all` returns (each is acquired as [`Lock::lock`] acquires it, and all
/// are held together when it returns). A lock taken in a round that fails is
/// released untouched, so other threads see nothing of that round.
///
/// # Panics
///
/// If the same `Lock` appears twice in `locks` (it could never succeed: a
/// `Lock` is not re-entrant), before taking any lock. Identities are compared
/// pairwise, so the check costs O(N²) pointer comparisons for N locks.
///
/// # Examples
///
/// The seeds' two accounts, transferred both ways by two threads at once: each
/// `lock_all` names the locks in its own order, and neither thread can deadlock.
///
/// ```
/// use std::thread;
/// use threadkit::{Lock, lock_all};
///
/// let checking = Lock::new(100);
/// let savings = Lock::new(0);
/// thread::scope(|s| {
///     s.spawn(|| {
///         for _ in 0..1000 {
///             let (mut from, mut to) = lock_all((&checking, &savings));
///             *from -= 1;
///             *to += 1;
///         }
///     });
///     s.spawn(|| {
///         for _ in 0..1000 {
///             let (mut from, mut to) = lock_all((&savings, &checking));
///             *from -= 1;
///             *to += 1;
///         }
///     });
/// });
/// assert_eq!((*checking.lock(), *savings.lock()), (100, 0));
/// ```
///
/// Mixed types in a tuple, and an array of locks of one type:
///
/// ```
/// use threadkit::{Lock, lock_all};
///
/// let name = Lock::new(String::from("worker"));
/// let hits = Lock::new(0u64);
/// let (mut name, mut hits) = lock_all((&name, &hits));
/// name.push_str("-1");
/// *hits += 1;
///
/// let shards = [Lock::new(1), Lock::new(2), Lock::new(3)];
/// let guards = lock_all([&shards[2], &shards[0], &shards[1]]);
/// assert_eq!(guards.iter().map(|g| **g).collect::<Vec<_>>(), [3, 1, 2]);
/// ```
///
/// The same lock twice is a bug, reported at once:
///
/// ```should_panic
/// let lock = threadkit::Lock::new(0);
/// let _ = threadkit::lock_all((&lock, &lock)); // panics: the same Lock twice
/// ```
#[track_caller]
#[must_use = "if unused the Locks will immediately unlock"]
pub fn lock_all<L: LockAll>(locks: L) -> L::Guards {
    match locks.take(None) {
        Some(guards) => guards,
        None => unreachable!("lock_all without a deadline gave up"),
    }
}

/// [`lock_all`], giving up after `timeout`: `Some` with every guard (in argument
/// order), or `None` holding none of the locks.
///
/// A zero timeout tries each lock once and does not block; a timeout too large to
/// represent as a deadline (e.g. `Duration::MAX`) waits forever. The timeout
/// bounds the whole call, not each lock: it is turned into one deadline, as in
/// [`lock_all_until`].
///
/// On success, for each lock, everything done by its previous holder
/// happens-before this returns. On `None`, nothing is held and no lock's value
/// was touched.
///
/// # Panics
///
/// If the same `Lock` appears twice in `locks`, before taking any lock.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use threadkit::{Lock, lock_all_for};
///
/// let a = Lock::new(1);
/// let b = Lock::new(2);
/// let held = b.lock();
/// // `b` is busy: give up, and leave `a` free too.
/// assert!(lock_all_for((&a, &b), Duration::from_millis(10)).is_none());
/// assert!(!a.is_locked());
/// drop(held);
/// let (a, b) = lock_all_for((&a, &b), Duration::ZERO).expect("both free");
/// assert_eq!(*a + *b, 3);
/// ```
#[track_caller]
#[must_use = "if unused the Locks will immediately unlock"]
pub fn lock_all_for<L: LockAll>(locks: L, timeout: Duration) -> Option<L::Guards> {
    locks.take(facade::deadline_after(timeout))
}

/// [`lock_all`], giving up at `deadline`: `Some` with every guard (in argument
/// order), or `None` holding none of the locks. A deadline in the past tries each
/// lock once and does not block.
///
/// On success, for each lock, everything done by its previous holder
/// happens-before this returns. On `None`, nothing is held and no lock's value
/// was touched.
///
/// # Panics
///
/// If the same `Lock` appears twice in `locks`, before taking any lock.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// use threadkit::{Lock, lock_all_until};
///
/// let ledgers = [Lock::new(vec![1]), Lock::new(vec![2])];
/// let deadline = Instant::now() + Duration::from_secs(1);
/// let [mut first, mut second] =
///     lock_all_until([&ledgers[0], &ledgers[1]], deadline).expect("both free");
/// first.append(&mut second);
/// drop((first, second));
/// assert_eq!(*ledgers[0].lock(), [1, 2]);
/// ```
#[track_caller]
#[must_use = "if unused the Locks will immediately unlock"]
pub fn lock_all_until<L: LockAll>(locks: L, deadline: Instant) -> Option<L::Guards> {
    locks.take(Some(deadline))
}

/// What identifies a `Lock` for the duplicate check: its address and size.
/// Distinct live locks can share an address only if one is nested at the start
/// of the other's value, and then the outer one is larger; the same lock always
/// gives the same pair. (A tuple's locks have different types, so their
/// references cannot be compared with `ptr::eq` directly.)
#[derive(Clone, Copy, PartialEq, Eq)]
struct LockId {
    addr: *const (),
    size: usize,
}

impl fmt::Debug for LockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:p}", self.addr)
    }
}

/// One lock of the set being taken, as [`take_all`] sees it whatever its `T`.
trait Slot {
    /// The lock's identity, for the duplicate check.
    fn id(&self) -> LockId;
    /// The lock's node in the lock-order graph (feature `lock-order`).
    fn order(&self) -> &Node;
    /// Takes the lock, blocking until it is free or `deadline` passes (`site`:
    /// `lock_all`'s caller, for the lock-order checker).
    fn lock(&mut self, deadline: Option<Instant>, site: Site) -> bool;
    /// Takes the lock if it is free right now.
    fn try_lock(&mut self, site: Site) -> bool;
    /// Releases the lock if this slot holds it.
    fn unlock(&mut self);
}

/// A `&Lock<T>` and, while it is held, its guard (dropped, it releases the lock,
/// so a panic anywhere leaves nothing held).
struct Held<'a, T: ?Sized> {
    lock: &'a Lock<T>,
    guard: Option<LockGuard<'a, T>>,
}

impl<'a, T: ?Sized> Held<'a, T> {
    fn new(lock: &'a Lock<T>) -> Self {
        Held { lock, guard: None }
    }

    /// The guard, once [`take_all`] returned `true`.
    fn into_guard(self) -> LockGuard<'a, T> {
        match self.guard {
            Some(guard) => guard,
            None => unreachable!("take_all succeeded without taking every lock"),
        }
    }
}

impl<T: ?Sized> Slot for Held<'_, T> {
    fn id(&self) -> LockId {
        LockId {
            addr: core::ptr::from_ref(self.lock).cast::<()>(),
            size: core::mem::size_of_val(self.lock),
        }
    }

    fn order(&self) -> &Node {
        self.lock.order_node()
    }

    fn lock(&mut self, deadline: Option<Instant>, site: Site) -> bool {
        debug_assert!(self.guard.is_none(), "lock_all took a lock twice");
        self.guard = match deadline {
            None => Some(self.lock.lock_at(site)),
            Some(deadline) => self.lock.try_lock_until_at(deadline, site),
        };
        self.guard.is_some()
    }

    fn try_lock(&mut self, site: Site) -> bool {
        debug_assert!(self.guard.is_none(), "lock_all took a lock twice");
        self.guard = self.lock.try_lock_at(site);
        self.guard.is_some()
    }

    fn unlock(&mut self) {
        self.guard = None;
    }
}

/// Panics if a lock appears twice in `slots`: `lock_all` could never take it twice.
#[track_caller]
fn assert_distinct(slots: &[&mut dyn Slot]) {
    for (i, earlier) in slots.iter().enumerate() {
        let id = earlier.id();
        for (j, later) in slots.iter().enumerate().skip(i + 1) {
            if later.id() == id {
                panic!(
                    "threadkit::lock_all: the same Lock ({id:?}) is passed twice, as locks \
                     {i} and {j} (counting from 0); a Lock is not re-entrant, so taking it \
                     twice could never succeed"
                );
            }
        }
    }
}

/// The lock-order check (feature `lock-order`) of a `lock_all`: edges from the
/// locks this thread already holds to each lock of the set. None among them:
/// `take_all` blocks only while holding none of the set, and tries the rest.
fn check_order(slots: &[&mut dyn Slot], site: Site) {
    if !lock_order::ENABLED {
        return; // (spares the dynamic calls)
    }
    for slot in slots {
        lock_order::before_blocking(slot.order(), site);
    }
}

/// The core of [`lock_all`], [`lock_all_for`] and [`lock_all_until`], for tuples
/// and arrays alike: takes every lock in `slots`, or none if `deadline` passes
/// first (never with `None`). Returns whether it took them.
///
/// Blocks only in `Slot::lock`, and only while holding none of these locks; every
/// other acquisition is a `try_lock`. On a failed try it releases everything and
/// blocks next on the lock that failed, then tries the others after it (C++'s
/// `std::lock`). A past deadline makes the blocking step a try too, and a failed
/// round after the deadline gives up: a zero timeout is one round of tries.
#[track_caller]
fn take_all(slots: &mut [&mut dyn Slot], deadline: Option<Instant>) -> bool {
    assert_distinct(slots);
    let site = Location::caller();
    check_order(slots, site);
    let n = slots.len();
    if n == 0 {
        return true;
    }
    let mut first = 0;
    loop {
        if !slots[first].lock(deadline, site) {
            return false; // timed out; nothing is held
        }
        let failed = (1..n)
            .map(|k| (first + k) % n)
            .find(|&i| !slots[i].try_lock(site));
        let Some(failed) = failed else {
            return true;
        };
        for slot in slots.iter_mut() {
            slot.unlock();
        }
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            return false;
        }
        first = failed;
    }
}

impl<'a, T: ?Sized, const N: usize> LockAll for [&'a Lock<T>; N] {
    type Guards = [LockGuard<'a, T>; N];
}

impl<T: ?Sized, const N: usize> sealed::Sealed for [&Lock<T>; N] {
    #[track_caller]
    fn take(self, deadline: Option<Instant>) -> Option<<Self as LockAll>::Guards> {
        let mut held = self.map(Held::new);
        let mut slots = held.each_mut().map(|held| held as &mut dyn Slot);
        if !take_all(&mut slots, deadline) {
            return None;
        }
        Some(held.map(Held::into_guard))
    }
}

/// Implements [`LockAll`] for a tuple of `&Lock<_>`s (type parameters and
/// field indices given in pairs).
macro_rules! lock_all_tuple {
    ($($t:ident $i:tt),+) => {
        impl<'a, $($t: ?Sized),+> LockAll for ($(&'a Lock<$t>,)+) {
            type Guards = ($(LockGuard<'a, $t>,)+);
        }

        impl<'a, $($t: ?Sized),+> sealed::Sealed for ($(&'a Lock<$t>,)+) {
            #[track_caller]
            fn take(self, deadline: Option<Instant>) -> Option<<Self as LockAll>::Guards> {
                let mut held = ($(Held::new(self.$i),)+);
                if !take_all(&mut [$(&mut held.$i as &mut dyn Slot),+], deadline) {
                    return None;
                }
                Some(($(held.$i.into_guard(),)+))
            }
        }
    };
}

lock_all_tuple!(A 0, B 1);
lock_all_tuple!(A 0, B 1, C 2);
lock_all_tuple!(A 0, B 1, C 2, D 3);
lock_all_tuple!(A 0, B 1, C 2, D 3, E 4);
lock_all_tuple!(A 0, B 1, C 2, D 3, E 4, F 5);
