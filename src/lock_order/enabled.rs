use core::cell::RefCell;
use core::fmt::Write as _;
use core::panic::Location;
use core::sync::atomic::{AtomicUsize, Ordering};
use std::collections::{HashMap, HashSet};

use crate::facade::{StdMutex, thread_local_lazy};

/// The checker is on.
pub(crate) const ENABLED: bool = true;

/// A lock's place in the order graph: its node id, drawn when first needed.
#[derive(Debug, Default)]
pub(crate) struct Node {
    id: AtomicUsize,
}

impl Node {
    pub(crate) const fn new() -> Node {
        Node {
            id: AtomicUsize::new(0),
        }
    }

    /// The node's id, drawn now if it has none yet.
    fn id(&self) -> usize {
        let id = self.id.load(Ordering::Relaxed);
        if id != 0 {
            return id;
        }
        static NEXT: AtomicUsize = AtomicUsize::new(1);
        let fresh = NEXT.fetch_add(1, Ordering::Relaxed);
        match self
            .id
            .compare_exchange(0, fresh, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => fresh,
            Err(raced) => raced,
        }
    }
}

impl Drop for Node {
    /// The lock is gone: its edges leave the graph.
    fn drop(&mut self) {
        let id = *self.id.get_mut();
        if id != 0 {
            with_graph(|graph| graph.remove(id));
        }
    }
}

/// A lock this thread holds, and where it took it.
struct Held {
    node: *const Node,
    site: &'static Location<'static>,
}

/// An edge's record: where the later lock was taken while the earlier was held.
type Site = &'static Location<'static>;

#[derive(Default)]
struct Graph {
    /// `from -> (to -> where)`.
    after: HashMap<usize, HashMap<usize, Site>>,
    /// `to -> froms`, to remove a node's incoming edges.
    before: HashMap<usize, HashSet<usize>>,
}

static GRAPH: StdMutex<Option<Graph>> = StdMutex::new(None);

/// Runs `f` on the graph, under its lock (a std mutex: the checker must not
/// check itself).
fn with_graph<R>(f: impl FnOnce(&mut Graph) -> R) -> R {
    let mut graph = GRAPH
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    f(graph.get_or_insert_with(Graph::default))
}

impl Graph {
    /// Removes a node and its edges.
    fn remove(&mut self, id: usize) {
        if let Some(after) = self.after.remove(&id) {
            for to in after.keys() {
                if let Some(before) = self.before.get_mut(to) {
                    before.remove(&id);
                }
            }
        }
        if let Some(before) = self.before.remove(&id) {
            for from in before {
                if let Some(after) = self.after.get_mut(&from) {
                    after.remove(&id);
                }
            }
        }
    }

    /// A path `from -> ... -> to`, as its edges' sites, if there is one.
    fn path(&self, from: usize, to: usize) -> Option<Vec<(usize, usize, Site)>> {
        let mut came_by: HashMap<usize, (usize, Site)> = HashMap::new();
        let mut stack = vec![from];
        while let Some(node) = stack.pop() {
            for (&next, &site) in self.after.get(&node).into_iter().flatten() {
                if next == from || came_by.contains_key(&next) {
                    continue;
                }
                came_by.insert(next, (node, site));
                if next == to {
                    let mut path = Vec::new();
                    let mut at = to;
                    while at != from {
                        let (prev, site) = came_by[&at];
                        path.push((prev, at, site));
                        at = prev;
                    }
                    path.reverse();
                    return Some(path);
                }
                stack.push(next);
            }
        }
        None
    }
}

/// What one thread knows: the locks it holds, and the edges it has checked.
#[derive(Default)]
struct ThreadState {
    held: Vec<Held>,
    known: HashSet<(usize, usize)>,
}

thread_local_lazy! {
    static STATE: RefCell<ThreadState> = RefCell::new(ThreadState::default());
}

/// Runs `f` on this thread's state; does nothing while thread-locals are
/// being destroyed (a lock taken then is not checked).
fn with_state<R: Default>(f: impl FnOnce(&mut ThreadState) -> R) -> R {
    STATE
        .try_with(|state| {
            state
                .try_borrow_mut()
                .map(|mut s| f(&mut s))
                .unwrap_or_default()
        })
        .unwrap_or_default()
}

/// Before a blocking or timed acquisition of `node` at `site`: records the
/// edges from every held lock (but `except`s, and `node` itself), and panics if
/// one would close a cycle.
pub(crate) fn before_blocking(node: &Node, site: Site, except: &[*const Node]) {
    let violation = with_state(|state| {
        if state.held.is_empty() {
            return None;
        }
        let to = node.id();
        for held in &state.held {
            if core::ptr::eq(held.node, node) || except.contains(&held.node) {
                continue;
            }
            // SAFETY: a held lock outlives its entry (its guard borrows it or
            // owns an `Arc` of it, and removes the entry when dropped).
            let from = unsafe { &*held.node }.id();
            if state.known.contains(&(from, to)) {
                continue;
            }
            if let Some(message) = add_edge(from, to, held.site, site) {
                return Some(message);
            }
            state.known.insert((from, to));
        }
        None
    });
    if let Some(message) = violation {
        panic!("{message}");
    }
}

/// Adds `from -> to` to the graph, or describes the cycle it would close.
fn add_edge(from: usize, to: usize, held_at: Site, site: Site) -> Option<String> {
    with_graph(|graph| {
        if graph
            .after
            .get(&from)
            .is_some_and(|after| after.contains_key(&to))
        {
            return None;
        }
        if let Some(path) = graph.path(to, from) {
            let mut message = format!(
                "threadkit lock-order violation: acquiring a lock at {site} while holding a lock \
                 acquired at {held_at} inverts the order set earlier"
            );
            for (_, _, earlier) in &path {
                let _ = write!(
                    message,
                    "; at {earlier} the first lock was held while the second was acquired"
                );
            }
            if path.len() > 1 {
                let _ = write!(message, " (a cycle of {} locks)", path.len() + 1);
            }
            message.push_str(": threads taking these locks in these orders can deadlock");
            return Some(message);
        }
        graph.after.entry(from).or_default().insert(to, site);
        graph.before.entry(to).or_default().insert(from);
        None
    })
}

/// This thread now holds `node`, taken at `site`.
pub(crate) fn acquired(node: &Node, site: Site) {
    with_state(|state| {
        state.held.push(Held {
            node: core::ptr::from_ref(node),
            site,
        });
    });
}

/// This thread released (one hold of) `node`.
pub(crate) fn released(node: &Node) {
    with_state(|state| {
        if let Some(at) = state.held.iter().rposition(|h| core::ptr::eq(h.node, node)) {
            state.held.remove(at);
        }
    });
}

/// The record of one held lock in its guard: removes itself from the
/// thread's held locks when dropped.
#[derive(Debug)]
pub(crate) struct HeldToken {
    node: *const Node,
}

impl HeldToken {
    /// Records that this thread holds `node` (taken at `site`).
    pub(crate) fn new(node: &Node, site: Site) -> HeldToken {
        acquired(node, site);
        HeldToken {
            node: core::ptr::from_ref(node),
        }
    }
}

// SAFETY: the pointer is only dereferenced by `drop` and `check_again`, on the
// guard's own thread (guards are `!Send`); a shared guard never touches it.
unsafe impl Sync for HeldToken {}

impl HeldToken {
    /// Before taking the held lock again (a `Condition` wait, `unlocked`):
    /// the edges from the other held locks to it.
    pub(crate) fn check_again(&self, site: Site) {
        // SAFETY: the guard holding this token keeps its lock alive.
        before_blocking(unsafe { &*self.node }, site, &[]);
    }
}

impl Drop for HeldToken {
    fn drop(&mut self) {
        // SAFETY: the guard holding this token keeps its lock alive.
        released(unsafe { &*self.node });
    }
}
