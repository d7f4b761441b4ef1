//! Which thread is running, as [`Local`](super::Local) keys it, and the hook
//! that drops a thread's values when it exits.
//!
//! A thread has two numbers:
//!
//! - its **slot**: a small index into every `Local`'s table, handed out
//!   smallest-free-first and reused once its thread has exited and every value
//!   in that slot has been dropped, so a table is as large as the most threads
//!   ever alive at once, not as the threads ever started (the `thread_local`
//!   crate's allocator);
//! - its **identity**: the process-unique number of `facade::current_thread_id`
//!   (never reused). An entry in a table belongs to the current thread only if
//!   it carries this identity, so even a reused slot never shows a new thread
//!   an old thread's value.
//!
//! At exit, the thread-local [`Exit`] guard tells every table the thread put a
//! value in to drop it, then frees the slot.

use core::cell::{Cell, RefCell};
use core::num::NonZeroUsize;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::facade::{self, StdMutex, thread_local_const, thread_local_lazy};

/// The running thread, as tables key it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Thread {
    /// Its slot, and where the slot is in a table (computed once, here).
    pub(super) slot: usize,
    pub(super) bucket: usize,
    pub(super) offset: usize,
    pub(super) id: NonZeroUsize,
}

/// A weak handle to a table that holds a value of this thread, with the
/// table's functions: a hand-made trait object, because a `dyn Trait` in a
/// thread-local would have to be `'static`, and a `Local<T>` need not be.
///
/// # Safety
///
/// `weak` is a `Weak<Table<T>>` (raw) and the functions are `Table<T>`'s:
/// `exited` drops the thread's value (`false` if the slot must never be
/// reused), `alive` says whether the table still exists,
/// `release` drops the `Weak`. A table holds no value once its `Local` has
/// dropped, so these never touch a `T` whose lifetime has ended.
pub(super) struct ExitHook {
    pub(super) weak: *const (),
    pub(super) exited: unsafe fn(*const (), Thread) -> bool,
    pub(super) alive: unsafe fn(*const ()) -> bool,
    pub(super) release: unsafe fn(*const ()),
}

impl Drop for ExitHook {
    fn drop(&mut self) {
        // SAFETY: see the type's contract.
        unsafe { (self.release)(self.weak) }
    }
}

thread_local_const! {
    /// The running thread once it has used a `Local`; `None` before, and again
    /// once its values have been dropped at exit.
    static CURRENT: Cell<Option<Thread>> = Cell::new(None);
}

thread_local_lazy! {
    /// Drops the thread's values when the thread exits.
    static EXIT: Exit = Exit { thread: Cell::new(None), tables: RefCell::new(Vec::new()) };
}

/// The running thread, if it has used a `Local` (one thread-local read).
#[inline]
pub(super) fn current() -> Option<Thread> {
    CURRENT.with(Cell::get)
}

/// The running thread, given a slot if it has none yet.
///
/// # Panics
///
/// If called while the thread exits, after its values were dropped (from
/// another thread-local's destructor), as std's `LocalKey::with` panics then.
#[cold]
#[track_caller]
pub(super) fn current_or_init() -> Thread {
    if let Some(thread) = current() {
        return thread;
    }
    let slot = SLOTS.lock().unwrap_or_else(|e| e.into_inner()).take();
    // Bucket `b` holds the `2^b` slots `2^b - 1 ..= 2^(b+1) - 2`.
    let bucket = (usize::BITS - (slot + 1).leading_zeros() - 1) as usize;
    let thread = Thread {
        slot,
        bucket,
        offset: slot + 1 - (1 << bucket),
        id: facade::current_thread_id(),
    };
    if EXIT.try_with(|exit| exit.thread.set(Some(thread))).is_err() {
        free_slot(thread.slot);
        panic!(
            "threadkit::Local used from a thread-local destructor after this thread's \
             Local values were dropped (the thread is exiting)"
        );
    }
    CURRENT.with(|current| current.set(Some(thread)));
    thread
}

/// Asks `table` to drop the running thread's value when it exits. Call once
/// per table and thread, after [`current_or_init`].
pub(super) fn on_exit(table: ExitHook) {
    EXIT.with(|exit| {
        let mut tables = exit.tables.borrow_mut();
        // Forget dropped tables now and then, so a long-lived thread that
        // uses many short-lived `Local`s does not grow this list.
        if tables.len() == tables.capacity() {
            // SAFETY: see `ExitHook`.
            tables.retain(|table| unsafe { (table.alive)(table.weak) });
        }
        tables.push(table);
    });
}

/// The thread-local guard whose destructor runs the exit hooks.
struct Exit {
    thread: Cell<Option<Thread>>,
    tables: RefCell<Vec<ExitHook>>,
}

impl Drop for Exit {
    fn drop(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        // Under loom a failed model drops its thread-locals after the model
        // panicked, outside any execution: touching loom's types would abort.
        if cfg!(loom) && facade::panicking() {
            return;
        }
        // From here on this thread has no values: a value's destructor that
        // reads a `Local` finds nothing (and may not create a new value).
        let _ = CURRENT.try_with(|current| current.set(None));
        let mut reusable = true;
        for table in self.tables.take() {
            // SAFETY: see `ExitHook`.
            reusable &= unsafe { (table.exited)(table.weak, thread) };
        }
        if reusable {
            free_slot(thread.slot);
        }
    }
}

/// Free slots, smallest first.
struct Slots {
    next: usize,
    free: BinaryHeap<Reverse<usize>>,
}

static SLOTS: StdMutex<Slots> = StdMutex::new(Slots {
    next: 0,
    free: BinaryHeap::new(),
});

impl Slots {
    fn take(&mut self) -> usize {
        match self.free.pop() {
            Some(Reverse(slot)) => slot,
            None => {
                self.next += 1;
                self.next - 1
            }
        }
    }
}

fn free_slot(slot: usize) {
    let mut slots = SLOTS.lock().unwrap_or_else(|e| e.into_inner());
    slots.free.push(Reverse(slot));
}
