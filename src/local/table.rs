//! The table behind one [`Local`](super::Local): an entry per thread slot, in
//! buckets of doubling size allocated on first use (the layout of the
//! `thread_local` crate), so a lookup is two loads and never takes a lock.
//!
//! An entry is written only by its own thread (insert, and its exit hook) or
//! by a holder of `&mut Local` (`iter_mut`, `clear`, drop). The one race, a
//! thread's exit against `&mut Local` access from another thread, is ordered by
//! the table's `lock`.

use core::cell::Cell;
use core::mem::MaybeUninit;
use core::ptr;

use super::thread::{ExitHook, Thread};
use crate::facade::{
    self, AtomicPtr, AtomicUsize, Mutex, MutexGuard, Ordering, StdArc, StdWeak, UnsafeCell,
};

/// Buckets: bucket `b` holds `2^b` slots (see `thread::Thread`).
const BUCKETS: usize = usize::BITS as usize - 1;

/// One thread's place in a table.
pub(super) struct Entry<T> {
    /// The identity of the thread whose value this holds; 0 when empty.
    pub(super) owner: AtomicUsize,
    /// The identity of the last thread that asked to be told of its exit.
    hooked: Cell<usize>,
    value: UnsafeCell<MaybeUninit<T>>,
}

pub(super) struct Table<T> {
    buckets: [AtomicPtr<Entry<T>>; BUCKETS],
    lock: Mutex<()>,
}

// SAFETY: values move between threads only as `T: Send` allows (dropped or
// lent `&mut` by another thread once theirs is gone); a shared `&T` is lent
// only to the owner thread, so `T: Sync` is not needed. The `Cell`s are
// touched by the owner thread only.
unsafe impl<T: Send> Send for Table<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Table<T> {}

impl<T> Table<T> {
    pub(super) fn new() -> Table<T> {
        Table {
            buckets: core::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
            lock: facade::mutex(()),
        }
    }

    /// The entry of `thread`'s slot, if its bucket exists.
    #[inline]
    fn entry(&self, thread: Thread) -> Option<&Entry<T>> {
        debug_assert!(thread.bucket < BUCKETS);
        // SAFETY: a slot below `usize::MAX` is in bucket `BUCKETS - 1` at most
        // (the bounds check this skips costs a fifth of a lookup).
        let bucket = unsafe { self.buckets.get_unchecked(thread.bucket) };
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
        debug_assert_eq!(entry.owner.load(Ordering::Relaxed), 0);
        // SAFETY: the entry is empty, and only this thread fills its slot.
        entry.value.with_mut(|cell| unsafe { (*cell).write(value) });
        entry.owner.store(thread.id.get(), Ordering::Release);
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

    /// Takes every value out (for `clear` and drop); the caller drops them.
    pub(super) fn take_all(&self) -> Vec<T> {
        let _lock = self.lock.lock();
        let mut values = Vec::new();
        self.for_each_entry(|entry| {
            if entry.owner.load(Ordering::Acquire) != 0 {
                entry.owner.store(0, Ordering::Relaxed);
                // SAFETY: the entry was full; emptying it hands the value over.
                values.push(
                    entry
                        .value
                        .with(|value| unsafe { (*value).assume_init_read() }),
                );
            }
        });
        values
    }

    /// Every value, `&mut`, under the lock (so no thread exit drops one meanwhile).
    pub(super) fn lock_values(&self) -> (MutexGuard<'_, ()>, Vec<*mut T>) {
        let lock = self.lock.lock();
        let mut values = Vec::new();
        self.for_each_entry(|entry| {
            if entry.owner.load(Ordering::Acquire) != 0 {
                values.push(entry.value.with_mut(|value| value.cast::<T>()));
            }
        });
        (lock, values)
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

    /// Drops `thread`'s value here, if any. A `LocalRef` to it that is still
    /// alive (kept by another thread-local's destructor) finds the entry no
    /// longer carries its thread's identity, and panics rather than dangle.
    fn thread_exited(&self, thread: Thread) -> bool {
        let Some(entry) = self.entry(thread) else {
            return true;
        };
        let value = {
            let _lock = self.lock.lock();
            if entry.owner.load(Ordering::Relaxed) != thread.id.get() {
                return true; // cleared by `&mut Local`
            }
            entry.owner.store(0, Ordering::Relaxed);
            // SAFETY: the entry was this thread's; emptying it hands the value over.
            entry
                .value
                .with(|value| unsafe { (*value).assume_init_read() })
        };
        // Dropped outside the lock: its destructor may use other `Local`s.
        drop(value);
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
