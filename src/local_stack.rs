//! [`LocalStack`]: a per-thread stack (werkzeug's `LocalStack`, which holds
//! Flask's request and application contexts), on a [`Local`].

use core::cell::RefCell;
use core::fmt;
use core::marker::PhantomData;

use crate::Local;

/// A stack per thread (werkzeug's `LocalStack`): each thread pushes and pops
/// its own entries and never sees another thread's.
///
/// Flask keeps the current request on such a stack: a request handler pushes
/// a context, code deep in the call stack reads the [`top`](LocalStack::top)
/// one, and the handler pops it when done. [`push_scoped`](LocalStack::push_scoped)
/// does the push and the pop in one RAII guard, also when the handler panics.
/// A thread's leftover entries are dropped when it exits.
///
/// # Happens-before
///
/// Each thread's stack is its own: nothing is shared between threads, so
/// there is nothing to order beyond the thread's own program order.
///
/// # Examples
///
/// ```
/// use threadkit::LocalStack;
///
/// static REQUESTS: LocalStack<&str> = LocalStack::new();
///
/// fn current_path() -> Option<&'static str> {
///     REQUESTS.top()
/// }
///
/// let _request = REQUESTS.push_scoped("/index");
/// assert_eq!(current_path(), Some("/index"));
/// std::thread::spawn(|| assert_eq!(current_path(), None)).join().unwrap();
/// ```
pub struct LocalStack<T: Send> {
    stacks: Local<RefCell<Vec<T>>>,
}

impl<T: Send> LocalStack<T> {
    crate::facade::const_fn! {
        /// Creates an empty stack (`const` outside loom, so it can be a `static`).
        pub const fn new() -> LocalStack<T> {
            LocalStack { stacks: Local::new() }
        }
    }

    /// Pushes `item` on this thread's stack.
    ///
    /// ```
    /// let stack = threadkit::LocalStack::new();
    /// stack.push(1);
    /// assert_eq!(stack.len(), 1);
    /// ```
    #[inline]
    #[track_caller]
    pub fn push(&self, item: T) {
        borrow_mut(&*self.stacks.get_or_default(), "push").push(item);
    }

    /// Pops the top of this thread's stack; `None` when it is empty (never a panic).
    ///
    /// ```
    /// let stack = threadkit::LocalStack::new();
    /// stack.push('a');
    /// assert_eq!(stack.pop(), Some('a'));
    /// assert_eq!(stack.pop(), None);
    /// ```
    #[inline]
    #[track_caller]
    pub fn pop(&self) -> Option<T> {
        borrow_mut(&*self.stacks.get()?, "pop").pop()
    }

    /// A clone of the top of this thread's stack (werkzeug's `top`).
    ///
    /// ```
    /// let stack = threadkit::LocalStack::new();
    /// assert_eq!(stack.top(), None);
    /// stack.push(String::from("request 1"));
    /// assert_eq!(stack.top().as_deref(), Some("request 1"));
    /// ```
    #[inline]
    pub fn top(&self) -> Option<T>
    where
        T: Clone,
    {
        self.with_top(|top| top.cloned())
    }

    /// Runs `f` with the top of this thread's stack, borrowed.
    ///
    /// # Panics
    ///
    /// If `f` pushes or pops on this same stack (the top is borrowed
    /// meanwhile): the panic message says so.
    ///
    /// ```
    /// let stack = threadkit::LocalStack::new();
    /// stack.push(vec![1, 2, 3]);
    /// assert_eq!(stack.with_top(|top| top.map(Vec::len)), Some(3));
    /// ```
    #[inline]
    pub fn with_top<R>(&self, f: impl FnOnce(Option<&T>) -> R) -> R {
        match self.stacks.get() {
            Some(stack) => f(stack.borrow().last()),
            None => f(None),
        }
    }

    /// How many entries this thread's stack holds.
    #[inline]
    pub fn len(&self) -> usize {
        self.stacks
            .with(|stack| stack.map_or(0, |stack| stack.borrow().len()))
    }

    /// Whether this thread's stack is empty.
    ///
    /// ```
    /// let stack = threadkit::LocalStack::<u8>::new();
    /// assert!(stack.is_empty());
    /// ```
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Pushes `item` and returns a guard that pops it when dropped, also
    /// during a panic. Entries still above it were pushed inside its scope:
    /// they are dropped first, top down.
    ///
    /// ```
    /// let contexts = threadkit::LocalStack::new();
    /// {
    ///     let _app = contexts.push_scoped("app");
    ///     let _request = contexts.push_scoped("request");
    ///     contexts.push("left over by a bug");
    ///     assert_eq!(contexts.len(), 3);
    /// } // `_request` pops itself and the leftover; then `_app` pops itself
    /// assert!(contexts.is_empty());
    /// ```
    #[must_use = "the entry is popped again when the guard drops"]
    pub fn push_scoped(&self, item: T) -> LocalStackGuard<'_, T> {
        let depth = self.len();
        self.push(item);
        LocalStackGuard {
            stack: self,
            depth,
            _thread: PhantomData,
        }
    }
}

/// This thread's stack, mutably; a push or pop inside `with_top` (which
/// borrows the top) panics with a message that names the rule.
#[inline]
#[track_caller]
fn borrow_mut<'a, T>(stack: &'a RefCell<Vec<T>>, method: &str) -> core::cell::RefMut<'a, Vec<T>> {
    match stack.try_borrow_mut() {
        Ok(stack) => stack,
        Err(_) => misuse(method),
    }
}

#[cold]
#[track_caller]
fn misuse(method: &str) -> ! {
    panic!(
        "LocalStack::{method} called inside `with_top` on the same stack, whose top \
         it borrows; read the top with `top()` (a clone) to change the stack meanwhile"
    )
}

/// Pops its entry of a [`LocalStack`] when dropped (see
/// [`push_scoped`](LocalStack::push_scoped)). `!Send`: the entry is on this
/// thread's stack.
#[must_use = "the entry is popped again when the guard drops"]
pub struct LocalStackGuard<'a, T: Send> {
    stack: &'a LocalStack<T>,
    /// The stack's length before the push.
    depth: usize,
    _thread: PhantomData<*const ()>,
}

impl<T: Send> LocalStackGuard<'_, T> {
    /// Pops and drops the entries above `depth`, one at a time, each dropped
    /// outside the borrow: an entry's destructor may use the stack.
    fn pop_to_depth(&self) {
        while let Some(entry) = self.stack.stacks.get().and_then(|stack| {
            let mut stack = stack.borrow_mut();
            if stack.len() > self.depth {
                stack.pop()
            } else {
                None
            }
        }) {
            drop(entry);
        }
    }
}

impl<T: Send> Drop for LocalStackGuard<'_, T> {
    fn drop(&mut self) {
        /// If an entry's destructor panics, the unwinding drops this and so
        /// pops the rest (a second panic aborts, as in `Vec`).
        struct PopRest<'g, 'a, T: Send>(&'g LocalStackGuard<'a, T>);
        impl<T: Send> Drop for PopRest<'_, '_, T> {
            fn drop(&mut self) {
                self.0.pop_to_depth();
            }
        }
        let rest = PopRest(self);
        rest.0.pop_to_depth();
        core::mem::forget(rest); // nothing left to pop
    }
}

impl<T: Send> Default for LocalStack<T> {
    fn default() -> LocalStack<T> {
        LocalStack::new()
    }
}

impl<T: Send + fmt::Debug> fmt::Debug for LocalStack<T> {
    /// Shows the current thread's stack only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("LocalStack");
        match self.stacks.get() {
            Some(stack) => debug.field("current_thread", &stack.borrow()),
            None => debug.field("current_thread", &Vec::<T>::new()),
        };
        debug.finish_non_exhaustive()
    }
}

impl<T: Send> fmt::Debug for LocalStackGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalStackGuard")
            .field("depth", &self.depth)
            .finish_non_exhaustive()
    }
}
