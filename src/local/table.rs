//! The table behind one [`Local`](super::Local): an entry per thread slot, in
//! buckets of doubling size allocated on first use (the layout of the
//! `thread_local` crate), so a lookup is three loads and never takes a lock.
//!
//! An entry is written by its own thread (insert, and its exit hook) or by a
//! holder of `&mut Local` (`iter_mut`, `clear`, drop); the table's `lock`
//! orders a thread's exit against the rest. Two cases keep an exiting
//! thread's value alive in its entry:
//!
//! - a `LocalRef` to it is still alive (leaked, or kept by another
//!   thread-local's destructor): the entry is marked [`RETIRED`], its slot is
//!   never reused, and the value is dropped with the `Local` (or by `clear`);
//! - `iter_mut` lent out `&mut` to the values, and the borrows may still be
//!   alive: the entry is marked [`DEAD`] and the value dropped when the
//!   lending ends (the next `&self` call on the `Local`), or by `clear`,
//!   `iter_mut` or the drop.

use core::cell::Cell;
use core::mem::MaybeUninit;
use core::ptr;

use super::exiting::{self, Dropping};
use super::thread::{ExitHook, Thread};
use crate::facade::{self, AtomicPtr, AtomicUsize, Mutex, Ordering, StdArc, StdWeak, UnsafeCell};

/// Buckets: bucket `b` holds `2^b` slots (see `thread::Thread`). Under loom,
/// fewer: every `iter_mut`, `clear` and drop loads each one.
#[cfg(not(loom))]
const BUCKETS: usize = usize::BITS as usize - 1;
#[cfg(loom)]
const BUCKETS: usize = 8;

/// The owner of an entry whose thread exited while `iter_mut` lent its value
/// (see the module docs). Never a thread identity.
const DEAD: usize = usize::MAX;

/// The owner of an entry whose thread exited while a `LocalRef` borrowed its
/// value: the slot is retired. Never a thread identity.
const RETIRED: usize = usize::MAX - 1;

/// One thread's place in a table.
pub(super) struct Entry<T> {
    /// The identity of the thread whose value this holds; 0 when empty,
    /// [`DEAD`] when its thread has exited.
    owner: AtomicUsize,
    /// The identity of the last thread that asked to be told of its exit.
    hooked: Cell<usize>,
    /// Live `LocalRef`s to the value (touched by the owner thread only).
    pub(super) borrows: Cell<usize>,
    value: UnsafeCell<MaybeUninit<T>>,
}

impl<T> Entry<T> {
    /// Empties a full entry and hands its value over. Call with the table
    /// locked, for an entry no thread can reach any more (dead, retired, or
    /// under `&mut Local`).
    fn take(&self) -> T {
        self.owner.store(0, Ordering::Relaxed);
        // SAFETY: the entry was full (the caller's contract); emptying it
        // hands the value over, once.
        self.value
            .with(|value| unsafe { (*value).assume_init_read() })
    }
}

pub(super) struct Table<T> {
    buckets: [AtomicPtr<Entry<T>>; BUCKETS],
    /// Whether `iter_mut` may have `&mut` borrows of values out.
    lent: Mutex<bool>,
    /// How many exiting threads are dropping their value of this table.
    exit_drops: AtomicUsize,
}

// SAFETY: values move between threads only as `T: Send` allows (dropped or
// lent `&mut` by another thread once theirs is gone); a shared `&T` is lent
// only to the owner thread, so `T: Sync` is not needed. The `Cell`s are
// touched by the owner thread, or under `&mut Local`.
unsafe impl<T: Send> Send for Table<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Table<T> {}

impl<T> Table<T> {
    pub(super) fn new() -> Table<T> {
        Table {
            buckets: core::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
            lent: facade::mutex(false),
            exit_drops: AtomicUsize::new(0),
        }
    }

    /// The entry of `thread`'s slot, if its bucket exists.
    #[inline]
    fn entry(&self, thread: Thread) -> Option<&Entry<T>> {
        // Bucket `b` holds slots `2^b - 1 ..= 2^(b+1) - 2`, so the last one
        // ends at slot `2^BUCKETS - 2`; slots count threads alive at once.
        debug_assert!(
            thread.bucket < BUCKETS,
            "slot {} has no bucket",
            thread.slot
        );
        #[cfg(not(loom))]
        // SAFETY: `thread.bucket < BUCKETS`. Slots are handed out smallest
        // free first and freed at thread exit (or retired by a leaked
        // borrow), so slot `2^63 - 1` would need that many threads started,
        // hundreds of thousands of years of thread creation (the bounds check this skips
        // costs a fifth of a lookup).
        let bucket = unsafe { self.buckets.get_unchecked(thread.bucket) };
        #[cfg(loom)]
        let bucket = &self.buckets[thread.bucket];
        // Acquire: pairs with the bucket's publication.
        let entries = bucket.load(Ordering::Acquire);
        // SAFETY: a non-null bucket is a live allocation of `2^bucket` entries
        // (freed only by `drop`), and `offset < 2^bucket`.
        (!entries.is_null()).then(|| unsafe { &*entries.add(thread.offset) })
    }

    /// The value `thread` put here, with its entry.
    #[inline]
    pub(super) fn get(&self, thread: Thread) -> Option<(&T, &Entry<T>)> {
        let entry = self.entry(thread)?;
        if entry.owner.load(Ordering::Relaxed) != thread.id.get() {
            return None;
        }
        // SAFETY: the entry carries this thread's identity, so it holds this
        // thread's value, which only this thread's exit, or `&mut Local`
        // (impossible while `&self` is borrowed), can drop.
        let value = entry
            .value
            .with(|value| unsafe { (*value).assume_init_ref() });
        Some((value, entry))
    }

    /// Stores `value` as `thread`'s (which has none here); returns whether the
    /// table must now hook the thread's exit (the first value of this thread).
    pub(super) fn insert(&self, thread: Thread, value: T) -> bool {
        let entry = self.entry_or_alloc(thread);
        {
            // Under the lock, which orders this fill after the exit hook that
            // emptied the slot for its last thread (a loom model sees no
            // other order: the slot allocator is a std mutex).
            let _lent = self.lent.lock();
            // Empty: a slot is reused only once its last value was dropped,
            // or left dead and then reaped when the lending ended (before
            // this thread's `&self` call got here).
            debug_assert_eq!(entry.owner.load(Ordering::Relaxed), 0);
            // SAFETY: the entry is empty, and only this thread fills its slot.
            entry.value.with_mut(|cell| unsafe { (*cell).write(value) });
            entry.borrows.set(0);
            entry.owner.store(thread.id.get(), Ordering::Release);
        }
        entry.hooked.replace(thread.id.get()) != thread.id.get()
    }

    #[cold]
    fn entry_or_alloc(&self, thread: Thread) -> &Entry<T> {
        if let Some(entry) = self.entry(thread) {
            return entry;
        }
        let bucket = thread.bucket;
        let entries: Box<[Entry<T>]> = (0..1usize << bucket)
            .map(|_| Entry {
                owner: AtomicUsize::new(0),
                hooked: Cell::new(0),
                borrows: Cell::new(0),
                value: UnsafeCell::new(MaybeUninit::uninit()),
            })
            .collect();
        let entries = Box::into_raw(entries).cast::<Entry<T>>();
        // Release: whoever sees the bucket sees its entries initialised.
        if let Err(_other) = self.buckets[bucket].compare_exchange(
            ptr::null_mut(),
            entries,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            // Another thread (of the same bucket) published first: use theirs.
            // SAFETY: ours was never shared; rebuilt as the boxed slice it was.
            drop(unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(entries, 1 << bucket)) });
        }
        self.entry(thread).expect("the bucket was just published")
    }

    /// Takes every value out, dead ones included (for `clear` and drop); the
    /// caller drops them.
    ///
    /// Returns once the values that exiting threads were dropping meanwhile
    /// are dropped too (but the caller's own, see `exiting`).
    pub(super) fn take_all(&self) -> Vec<T> {
        let mut lent = self.lent.lock();
        *lent = false; // `&mut Local` is being used again: earlier borrows ended
        let mut values = Vec::new();
        self.for_each_entry(|entry| match entry.owner.load(Ordering::Acquire) {
            0 => {}
            _ => values.push(entry.take()),
        });
        // Acquire: pairs with the end of each exit drop. One that starts
        // after this lock finds its entry empty.
        let in_flight = self.exit_drops.load(Ordering::Acquire) != 0;
        drop(lent);
        if in_flight {
            exiting::wait_for_drops(self.addr());
        }
        values
    }

    /// The table's address, its name in the registry of exit drops.
    fn addr(&self) -> usize {
        ptr::from_ref(self).addr()
    }

    /// Lends out every live value (for `iter_mut`): from now until
    /// [`end_lending`](Self::end_lending) (or `clear`, or the drop), an
    /// exiting thread leaves its value in place. Dead values are taken out
    /// (the caller drops them).
    pub(super) fn lend_values(&self) -> (Vec<*mut T>, Vec<T>) {
        let mut lent = self.lent.lock();
        *lent = true;
        let (mut live, mut dead) = (Vec::new(), Vec::new());
        self.for_each_entry(|entry| match entry.owner.load(Ordering::Acquire) {
            0 => {}
            DEAD => dead.push(entry.take()),
            RETIRED => {} // a `LocalRef` may still read it: left for `clear` or the drop
            _ => live.push(entry.value.with_mut(|value| value.cast::<T>())),
        });
        (live, dead)
    }

    /// Ends a lending (the `iter_mut` borrows have ended) and takes out the
    /// values left by threads that exited meanwhile (the caller drops them).
    pub(super) fn end_lending(&self) -> Vec<T> {
        let mut lent = self.lent.lock();
        *lent = false;
        let mut dead = Vec::new();
        self.for_each_entry(|entry| {
            if entry.owner.load(Ordering::Acquire) == DEAD {
                dead.push(entry.take());
            }
        });
        dead
    }

    fn for_each_entry(&self, mut f: impl FnMut(&Entry<T>)) {
        for (bucket, entries) in self.buckets.iter().enumerate() {
            let entries = entries.load(Ordering::Acquire);
            if entries.is_null() {
                continue;
            }
            for offset in 0..1usize << bucket {
                // SAFETY: as in `entry`.
                f(unsafe { &*entries.add(offset) });
            }
        }
    }
}

impl<T: Send> Table<T> {
    /// The hook that drops the running thread's value here when it exits.
    pub(super) fn exit_hook(table: &StdArc<Table<T>>) -> ExitHook {
        /// Drops `thread`'s value (see `ExitHook`).
        unsafe fn exited<T: Send>(weak: *const (), thread: Thread) -> bool {
            // SAFETY: `weak` is a raw `Weak<Table<T>>` (the caller's contract),
            // borrowed here: `ManuallyDrop` leaves it to `release`.
            let weak =
                core::mem::ManuallyDrop::new(unsafe { StdWeak::from_raw(weak.cast::<Table<T>>()) });
            weak.upgrade()
                .is_none_or(|table| table.thread_exited(thread))
        }
        /// Whether the table still exists.
        unsafe fn alive<T>(weak: *const ()) -> bool {
            // SAFETY: as in `exited`.
            let weak =
                core::mem::ManuallyDrop::new(unsafe { StdWeak::from_raw(weak.cast::<Table<T>>()) });
            weak.strong_count() > 0
        }
        /// Drops the `Weak`.
        unsafe fn release<T>(weak: *const ()) {
            // SAFETY: as in `exited`; this is the one place that drops it.
            drop(unsafe { StdWeak::from_raw(weak.cast::<Table<T>>()) });
        }
        ExitHook {
            weak: StdWeak::into_raw(StdArc::downgrade(table)).cast(),
            exited: exited::<T>,
            alive: alive::<T>,
            release: release::<T>,
        }
    }

    /// Drops `thread`'s value here, if any, registered as a drop in flight
    /// (so a `Local` that drops meanwhile waits for it: its `T` may borrow
    /// what the dropper is about to free). Returns `false` if the slot must
    /// never be reused.
    fn thread_exited(&self, thread: Thread) -> bool {
        let Some(entry) = self.entry(thread) else {
            return true;
        };
        let lent = self.lent.lock();
        if entry.owner.load(Ordering::Relaxed) != thread.id.get() {
            return true; // emptied by `&mut Local`
        }
        if entry.borrows.get() != 0 {
            // A `LocalRef` outlives this thread (leaked, or in a later
            // thread-local destructor): keep the value, retire the slot.
            entry.owner.store(RETIRED, Ordering::Relaxed);
            return false;
        }
        if *lent {
            // `iter_mut` may still hold `&mut` to it: leave it to the end of
            // the lending (the next `&self` call), `clear` or the drop.
            entry.owner.store(DEAD, Ordering::Relaxed);
            return true;
        }
        let value = entry.take(); // this exiting thread's: nobody else reaches it
        // Dropped outside the lock, as its destructor may clear or drop this
        // very `Local`; a `clear` or drop meanwhile waits for it (`exiting`).
        self.exit_drops.fetch_add(1, Ordering::Relaxed);
        let dropping = Dropping::begin(self.addr(), thread.id.get());
        drop(lent);
        drop(value);
        // Release: a `take_all` that reads 0 sees the drop done.
        self.exit_drops.fetch_sub(1, Ordering::Release);
        drop(dropping);
        true
    }
}

impl<T> Drop for Table<T> {
    fn drop(&mut self) {
        for (bucket, entries) in self.buckets.iter().enumerate() {
            let entries = entries.load(Ordering::Relaxed);
            if entries.is_null() {
                continue;
            }
            // SAFETY: published buckets are boxed slices of `2^bucket` entries,
            // freed only here. Their values were taken out by `Local`'s drop;
            // an entry never drops its `MaybeUninit` value by itself.
            drop(unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(entries, 1 << bucket)) });
        }
    }
}
