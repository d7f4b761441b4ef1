//! [`Local`]: per-object thread-local storage (Python's `threading.local`,
//! werkzeug's `Local`), whose values are dropped when their thread exits.
//!
//! # Why not the `thread_local` crate
//!
//! `thread_local::ThreadLocal` keeps every thread's value until the container
//! drops, and a new thread that reuses a dead thread's id sees the old value
//! (its issues 8 and 37 ask for cleanup at thread exit). A server that runs
//! each request on a fresh thread must not grow, and Python's `threading.local`
//! frees a thread's attributes when the thread ends. So the table ([`table`])
//! keeps that crate's layout (buckets of doubling size, lock-free lookup) and
//! adds what it lacks:
//!
//! - each entry carries the process-unique identity of its thread, and a
//!   lookup matches it, so no thread ever sees another's value, even in a
//!   reused slot;
//! - each thread hooks its exit ([`thread`]) and drops its values then; its
//!   slot is reused only after that;
//! - a `LocalRef` counts itself in its entry: a value that one still
//!   borrows when its thread exits (a leaked `LocalRef`, or one kept in a
//!   thread-local whose destructor runs after the exit hook) is kept, and its
//!   slot retired, rather than dropped under the borrow;
//! - `iter_mut` lends `&mut` to other threads' values for as long as the
//!   caller likes (the borrows may outlive the iterator): a thread that exits
//!   meanwhile leaves its value, and the next call on the `Local` (any
//!   `&self` call shows the borrows have ended) drops it;
//! - a value dropped at its thread's exit is dropped outside the table's
//!   lock, so its destructor may drop or clear its own `Local`; a `Local`
//!   that is dropped or cleared meanwhile waits for such drops, unless the
//!   wait could never end ([`exiting`]);
//! - a `Local` is a pointer to its table, allocated on first use, so
//!   `Local::new` is `const` (a `static` needs no lazy wrapper) and a
//!   `Local` may move after use (the exit hooks hold the table, not the `Local`).

mod exiting;
mod table;
mod thread;

use core::fmt;
use core::marker::PhantomData;
use core::ops::Deref;
use core::ptr;

use self::table::{Entry, Table};
use crate::facade::{AtomicPtr, Ordering, StdArc, const_fn};

/// The tag of a `Local`'s table pointer while `iter_mut` may have borrows out.
const LENDING: usize = 1;

/// Per-object thread-local storage: each thread sees its own value of one
/// `Local` (Python's `threading.local`, werkzeug's `Local`).
///
/// A thread's value is created on its first [`get_or`](Local::get_or) and
/// dropped when that thread exits; every value still alive is dropped when the
/// `Local` drops. A new thread, or a new `Local` at a reused address, never sees
/// an old value. A value's destructor run at its thread's exit may drop the last
/// handle of its own `Local`, or clear it.
///
/// Values are shared (`&T`) with their own thread only, so mutation goes
/// through a `Cell` or `RefCell` inside `T`, as with `thread_local!`.
/// [`iter_mut`](Local::iter_mut) and [`clear`](Local::clear) reach every
/// thread's value, and take `&mut self` for it.
///
/// # Happens-before
///
/// A value is created, read and dropped by its own thread (at its exit), or,
/// through `&mut self`, by a thread that already synchronised with every user
/// of the `Local` (it could not have borrowed `&mut` otherwise). A thread's exit
/// drops its values before its `JoinHandle::join` returns (also a scoped
/// thread's `join`; but the implicit join at the end of `std::thread::scope`
/// may return while the scoped threads still run their thread-local
/// destructors).
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use std::thread;
/// use threadkit::Local;
///
/// static REQUESTS: Local<Cell<u32>> = Local::new();
///
/// fn handle_request() -> u32 {
///     let count = REQUESTS.get_or_default();
///     count.set(count.get() + 1);
///     count.get()
/// }
///
/// assert_eq!(handle_request(), 1);
/// assert_eq!(handle_request(), 2);
/// // Another thread starts from scratch.
/// assert_eq!(thread::spawn(handle_request).join().unwrap(), 1);
/// assert_eq!(handle_request(), 3);
/// ```
pub struct Local<T: Send> {
    /// An `Arc<Table<T>>` (raw), allocated on first use; null until then.
    /// Tagged with [`LENDING`] from an `iter_mut` to the next `&self` call.
    table: AtomicPtr<Table<T>>,
    /// Owns `T`s (for the drop check).
    _values: PhantomData<T>,
}

/// A borrow of the current thread's value in a [`Local`]: derefs to `&T`.
///
/// It is `!Send`: the value belongs to this thread, and is dropped when the
/// thread exits, so a borrow of it can never leave the thread.
///
/// ```compile_fail
/// let local = threadkit::Local::<u8>::new();
/// let value = local.get_or(|| 1);
/// std::thread::scope(|s| {
///     s.spawn(move || *value); // `LocalRef` is not `Send`
/// });
/// ```
pub struct LocalRef<'a, T> {
    value: &'a T,
    entry: &'a Entry<T>,
    /// `!Send` and `!Sync`: tied to the thread that owns the value.
    _thread: PhantomData<*const ()>,
}

impl<T: Send> Local<T> {
    const_fn! {
        /// Creates a `Local` with no values (`const` outside loom, so it can be
        /// a `static`). Nothing is allocated until a thread stores a value.
        ///
        /// ```
        /// static USER: threadkit::Local<String> = threadkit::Local::new();
        /// assert!(USER.get().is_none());
        /// ```
        pub const fn new() -> Local<T> {
            Local {
                table: AtomicPtr::new(ptr::null_mut()),
                _values: PhantomData,
            }
        }
    }

    /// The table, if any thread has stored a value yet. A `&self` call shows
    /// that the borrows of an earlier `iter_mut` have ended: the first one
    /// after it ends the lending (see `iter_mut`).
    #[inline]
    fn table(&self) -> Option<&Table<T>> {
        // Acquire: pairs with the table's publication.
        let table = self.table.load(Ordering::Acquire);
        if table.addr() & LENDING != 0 {
            return Some(self.end_lending(table));
        }
        // SAFETY: a published table is an `Arc` this `Local` holds until it drops.
        (!table.is_null()).then(|| unsafe { &*table })
    }

    /// The table pointer without its `LENDING` tag (null if none yet).
    fn raw_table(&self) -> *mut Table<T> {
        self.table
            .load(Ordering::Acquire)
            .map_addr(|addr| addr & !LENDING)
    }

    #[cold]
    fn end_lending(&self, tagged: *mut Table<T>) -> &Table<T> {
        let untagged = tagged.map_addr(|addr| addr & !LENDING);
        // SAFETY: as in `table`.
        let table = unsafe { &*untagged };
        let dead = table.end_lending();
        // Racing callers store the same pointer.
        self.table.store(untagged, Ordering::Release);
        drop(dead); // the values of threads that exited meanwhile
        table
    }

    /// The current thread's value, if it has one.
    ///
    /// ```
    /// let local = threadkit::Local::new();
    /// assert!(local.get().is_none());
    /// local.get_or(|| "mine");
    /// assert_eq!(*local.get().unwrap(), "mine");
    /// ```
    #[inline]
    #[must_use]
    pub fn get(&self) -> Option<LocalRef<'_, T>> {
        let (value, entry) = self.table()?.get(thread::current()?)?;
        Some(LocalRef::new(value, entry))
    }

    /// The current thread's value, created by `create` if it has none.
    ///
    /// # Panics
    ///
    /// If `create` itself creates this thread's value in this `Local` (a
    /// re-entrant initialisation), or if called from a thread-local destructor
    /// after this thread's values were dropped. A panic in `create` stores nothing.
    ///
    /// ```
    /// let local = threadkit::Local::new();
    /// assert_eq!(*local.get_or(|| 1), 1);
    /// assert_eq!(*local.get_or(|| 2), 1); // already created: `create` is not called
    /// ```
    #[inline]
    #[track_caller]
    pub fn get_or(&self, create: impl FnOnce() -> T) -> LocalRef<'_, T> {
        if let Some(value) = self.get() {
            return value;
        }
        self.insert(create);
        // Looked up again rather than returned by `insert`: the fast path then
        // keeps the borrow in registers instead of merging it through memory.
        self.get()
            .expect("Local::get_or: the value was just inserted")
    }

    /// The current thread's value, created with `T::default()` if it has none.
    ///
    /// ```
    /// use std::cell::RefCell;
    /// let names = threadkit::Local::<RefCell<Vec<&str>>>::new();
    /// names.get_or_default().borrow_mut().push("ada");
    /// assert_eq!(names.get_or_default().borrow().len(), 1);
    /// ```
    #[inline]
    #[track_caller]
    pub fn get_or_default(&self) -> LocalRef<'_, T>
    where
        T: Default,
    {
        self.get_or(T::default)
    }

    /// Runs `f` with the current thread's value, if it has one.
    ///
    /// ```
    /// let local = threadkit::Local::new();
    /// assert_eq!(local.with(|v: Option<&u32>| v.copied()), None);
    /// local.get_or(|| 7);
    /// assert_eq!(local.with(|v| v.copied()), Some(7));
    /// ```
    #[inline]
    pub fn with<R>(&self, f: impl FnOnce(Option<&T>) -> R) -> R {
        f(self.get().as_deref())
    }

    #[cold]
    #[track_caller]
    fn insert(&self, create: impl FnOnce() -> T) {
        let thread = thread::current_or_init();
        let value = create();
        let table = self.table_or_alloc();
        assert!(
            table.get(thread).is_none(),
            "Local::get_or: the initialiser created this thread's value itself \
             (a re-entrant initialisation)"
        );
        if table.insert(thread, value) {
            let table = self.raw_table().cast_const();
            // SAFETY: the pointer is an `Arc` held by this `Local`.
            let table: StdArc<Table<T>> = unsafe {
                StdArc::increment_strong_count(table);
                StdArc::from_raw(table)
            };
            thread::on_exit(Table::exit_hook(&table));
        }
    }

    #[cold]
    fn table_or_alloc(&self) -> &Table<T> {
        if let Some(table) = self.table() {
            return table;
        }
        let new = StdArc::into_raw(StdArc::new(Table::new())).cast_mut();
        if self
            .table
            .compare_exchange(ptr::null_mut(), new, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // SAFETY: ours was never shared.
            drop(unsafe { StdArc::from_raw(new) });
        }
        self.table().expect("the table was just published")
    }

    /// Every live thread's value, `&mut` (the `&mut self` shows that no thread
    /// is using the `Local` now). The order is unspecified.
    ///
    /// The borrows may outlive the iterator, so a thread that exits while they
    /// may be alive (after this call, before the next call of any method)
    /// leaves its value here, and the next call drops it.
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::thread;
    ///
    /// let mut hits = threadkit::Local::<Cell<u32>>::new();
    /// hits.get_or_default().set(5);
    /// thread::scope(|s| {
    ///     s.spawn(|| hits.get_or_default().set(1)).join().unwrap();
    /// });
    /// // The joined thread has exited: its value was dropped with it.
    /// let total: u32 = hits.iter_mut().map(|hit| hit.get()).sum();
    /// assert_eq!(total, 5);
    /// ```
    pub fn iter_mut(&mut self) -> IterMut<'_, T> {
        let raw = self.raw_table();
        let values = if raw.is_null() {
            Vec::new()
        } else {
            // SAFETY: as in `table`.
            let (live, dead) = unsafe { &*raw }.lend_values();
            // Tagged until the next `&self` call, which shows the borrows ended.
            self.table
                .store(raw.map_addr(|addr| addr | LENDING), Ordering::Relaxed);
            drop(dead); // threads that exited during an earlier `iter_mut`
            live
        };
        IterMut {
            values: values.into_iter(),
            _local: PhantomData,
        }
    }

    /// Drops every thread's value; each thread starts afresh (Python's
    /// `del local.attr` in every thread at once).
    ///
    /// ```
    /// let mut local = threadkit::Local::new();
    /// local.get_or(|| 1);
    /// local.clear();
    /// assert!(local.get().is_none());
    /// ```
    pub fn clear(&mut self) {
        let raw = self.raw_table();
        if !raw.is_null() {
            self.table.store(raw, Ordering::Relaxed); // no longer lending
            // SAFETY: as in `table`.
            drop(unsafe { &*raw }.take_all());
        }
    }
}

impl<T: Send> Drop for Local<T> {
    fn drop(&mut self) {
        let table = self.raw_table();
        if table.is_null() {
            return;
        }
        // SAFETY: the published table is this `Local`'s `Arc`; exits that
        // still hold it find their entries empty.
        let table = unsafe { StdArc::from_raw(table.cast_const()) };
        drop(table.take_all());
    }
}

impl<T: Send> Default for Local<T> {
    fn default() -> Local<T> {
        Local::new()
    }
}

impl<T: Send + fmt::Debug> fmt::Debug for Local<T> {
    /// Shows the current thread's value only (the others belong to their threads).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Local")
            .field("current_thread", &self.get().as_deref())
            .finish_non_exhaustive()
    }
}

// A panic in a value's creation stores nothing; the table is never left half-updated.
impl<T: Send> core::panic::UnwindSafe for Local<T> {}
impl<T: Send> core::panic::RefUnwindSafe for Local<T> {}

impl<'a, T> LocalRef<'a, T> {
    #[inline]
    fn new(value: &'a T, entry: &'a Entry<T>) -> LocalRef<'a, T> {
        entry.borrows.set(entry.borrows.get() + 1);
        LocalRef {
            value,
            entry,
            _thread: PhantomData,
        }
    }

    /// A second borrow of the same value.
    ///
    /// An associated function, not a `Clone` impl (std's `cell::Ref` rule), so
    /// that `r.clone()` clones the value itself, as it does for `&T`:
    ///
    /// ```
    /// use threadkit::{Local, LocalRef};
    ///
    /// let name = Local::new();
    /// let first = name.get_or(|| String::from("ada"));
    /// let second: LocalRef<'_, String> = LocalRef::clone(&first);
    /// let copied: Option<String> = name.get().map(|v| v.clone());
    /// assert_eq!((first.as_str(), second.as_str()), ("ada", "ada"));
    /// assert_eq!(copied.as_deref(), Some("ada"));
    /// ```
    ///
    /// The method call does not make a `LocalRef`:
    ///
    /// ```compile_fail
    /// use threadkit::{Local, LocalRef};
    ///
    /// let name = Local::new();
    /// let first = name.get_or(|| String::from("ada"));
    /// let second: LocalRef<'_, String> = first.clone(); // a `String`
    /// ```
    #[allow(clippy::should_implement_trait)]
    #[must_use]
    #[inline]
    pub fn clone(r: &LocalRef<'a, T>) -> LocalRef<'a, T> {
        LocalRef::new(r.value, r.entry)
    }
}

impl<T> Deref for LocalRef<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        self.value
    }
}

impl<T> Drop for LocalRef<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.entry.borrows.set(self.entry.borrows.get() - 1);
    }
}

impl<T: fmt::Debug> fmt::Debug for LocalRef<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: fmt::Display> fmt::Display for LocalRef<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// The iterator of [`Local::iter_mut`].
#[must_use = "iterators are lazy and do nothing unless consumed"]
pub struct IterMut<'a, T> {
    values: std::vec::IntoIter<*mut T>,
    _local: PhantomData<&'a mut T>,
}

impl<'a, T> Iterator for IterMut<'a, T> {
    type Item = &'a mut T;

    fn next(&mut self) -> Option<&'a mut T> {
        // SAFETY: each pointer is a distinct live value, yielded once; the
        // `&mut Local` borrow keeps every other access out for `'a`, and the
        // table's `lent` flag keeps exiting threads from dropping it.
        self.values.next().map(|value| unsafe { &mut *value })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.values.size_hint()
    }
}

impl<T> ExactSizeIterator for IterMut<'_, T> {}

impl<T> fmt::Debug for IterMut<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IterMut")
            .field("remaining", &self.values.len())
            .finish()
    }
}

// SAFETY: `Local` hands `&T` only to the value's own thread and moves or
// lends `&mut T` across threads only through `&mut self` (`T: Send`).
unsafe impl<T: Send> Sync for Local<T> {}
// SAFETY: as above; a `Local` owns its values.
unsafe impl<T: Send> Send for Local<T> {}
