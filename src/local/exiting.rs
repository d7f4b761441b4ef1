//! The values that exiting threads are dropping right now, process-wide.
//!
//! An exiting thread drops its value of a `Local` outside the table's lock,
//! so the value's destructor may use that `Local` again (drop its last
//! handle, `clear` it). A `Local` that is cleared or dropped meanwhile waits
//! for the drops of its own values (a value may borrow what the `Local`'s
//! owner frees once the drop returns), except for a drop that could only
//! end after the wait does:
//!
//! - the caller's own (its destructor is what clears or drops the `Local`);
//! - one whose thread waits, through a chain of such waits, for a drop the
//!   caller is making (two exiting threads whose values own each other's
//!   `Local`s): the thread that would close the cycle goes on, so the chain
//!   unwinds.
//!
//! The registry is one std mutex, taken twice per value dropped at thread
//! exit and by a `clear` or drop that finds drops in flight.

use core::cell::Cell;

use crate::facade::{self, StdCondvar, StdMutex, StdMutexGuard, thread_local_const};

/// Who drops and who waits, as (table address, thread identity) pairs.
struct Registry {
    /// `(table, thread)`: `thread` is dropping its value of `table`.
    dropping: Vec<(usize, usize)>,
    /// `(table, thread)`: `thread` waits for the drops in flight in `table`.
    waiting: Vec<(usize, usize)>,
}

static REGISTRY: StdMutex<Registry> = StdMutex::new(Registry {
    dropping: Vec::new(),
    waiting: Vec::new(),
});

/// Notified whenever a drop ends.
static DROP_ENDED: StdCondvar = StdCondvar::new();

thread_local_const! {
    /// The running thread's identity while it drops a value at exit; 0 otherwise.
    static DROPPING_AS: Cell<usize> = Cell::new(0);
}

fn registry() -> StdMutexGuard<'static, Registry> {
    // Nothing panics while holding it.
    REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// An exiting thread's drop of its value of one table, in flight: registered
/// by [`Dropping::begin`], ended by the drop of this guard.
pub(super) struct Dropping {
    table: usize,
    thread: usize,
}

impl Dropping {
    /// `thread` (the running thread, exiting) is about to drop its value of
    /// `table`. Call under the table's lock, so a `clear` or drop that takes
    /// the lock next finds the drop registered.
    pub(super) fn begin(table: usize, thread: usize) -> Dropping {
        registry().dropping.push((table, thread));
        let _ = DROPPING_AS.try_with(|me| me.set(thread));
        Dropping { table, thread }
    }
}

impl Drop for Dropping {
    fn drop(&mut self) {
        let _ = DROPPING_AS.try_with(|me| me.set(0));
        let mut registry = registry();
        let at = registry
            .dropping
            .iter()
            .position(|&entry| entry == (self.table, self.thread))
            .expect("a drop in flight is registered");
        registry.dropping.swap_remove(at);
        drop(registry);
        DROP_ENDED.notify_all();
    }
}

/// Waits until no other thread is dropping a value of `table`, except for
/// the drops that wait, through a chain of waits, for the running thread.
pub(super) fn wait_for_drops(table: usize) {
    let me = DROPPING_AS.try_with(Cell::get).unwrap_or(0);
    let mut registry = registry();
    while registry.others_drop(table, me) && !registry.waits_for(table, me) {
        registry.waiting.push((table, me));
        registry = facade::wait_std(&DROP_ENDED, &REGISTRY, registry);
        let at = registry
            .waiting
            .iter()
            .position(|&entry| entry == (table, me))
            .expect("a waiter is registered");
        registry.waiting.swap_remove(at);
    }
}

impl Registry {
    /// Whether a thread other than `me` is dropping a value of `table`.
    fn others_drop(&self, table: usize, me: usize) -> bool {
        self.dropping
            .iter()
            .any(|&(t, thread)| t == table && thread != me)
    }

    /// Whether a thread dropping a value of `table` waits, directly or through
    /// a chain of waits, for a drop `me` is making (0: `me` drops nothing, so
    /// nobody waits for it).
    fn waits_for(&self, table: usize, me: usize) -> bool {
        if me == 0 {
            return false;
        }
        let mut tables = vec![table];
        let mut seen = Vec::new();
        while let Some(table) = tables.pop() {
            if seen.contains(&table) {
                continue;
            }
            seen.push(table);
            for &(t, dropper) in &self.dropping {
                if t != table {
                    continue;
                }
                if dropper == me && table != seen[0] {
                    return true;
                }
                // What `dropper` waits for, `table`'s drop waits for too.
                tables.extend(
                    self.waiting
                        .iter()
                        .filter(|&&(_, waiter)| waiter == dropper && waiter != me)
                        .map(|&(waited, _)| waited),
                );
            }
        }
        false
    }
}
