use core::cell::Cell;
use core::fmt::Write as _;
use core::panic::Location;
use core::sync::atomic::{AtomicUsize, Ordering};
use std::collections::{HashMap, HashSet};

use crate::facade::{StdMutex, thread_local_const};

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
    #[inline]
    fn id(&self) -> usize {
        match self.id.load(Ordering::Relaxed) {
            0 => self.draw_id(),
            id => id,
        }
    }

    #[cold]
    fn draw_id(&self) -> usize {
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
    fn path(&self, from: usize, to: usize) -> Option<Vec<Site>> {
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
                        path.push(site);
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

/// How many held locks a thread tracks (a deeper nesting goes unchecked
/// beyond this depth).
const MAX_HELD: usize = 32;
/// Slots of the thread's known-edge cache (direct-mapped, a power of two).
const KNOWN: usize = 256;

/// A lock this thread holds, and where it took it (null: an empty slot).
#[derive(Clone, Copy)]
struct Held {
    node: *const Node,
    // The node's id, copied here so the fast path does not load it through `node`.
    id: usize,
    site: *const Location<'static>,
}

/// What one thread knows: the locks it holds, and the edges it has checked.
/// Fixed-size and `const`-initialised, so reaching it is one thread-local
/// address computation, with no lazy initialisation or destructor.
struct ThreadState {
    /// How many locks this thread holds (entries past `MAX_HELD` untracked).
    len: Cell<usize>,
    held: [Cell<Held>; MAX_HELD],
    /// Edges `(from, to)` this thread found in the graph (or added): a cache,
    /// so a miss only costs a trip to the graph.
    known: [Cell<(usize, usize)>; KNOWN],
}

const NO_HELD: Held = Held {
    node: core::ptr::null(),
    id: 0,
    site: core::ptr::null(),
};

thread_local_const! {
    static STATE: ThreadState = ThreadState {
        len: Cell::new(0),
        held: [const { Cell::new(NO_HELD) }; MAX_HELD],
        known: [const { Cell::new((0, 0)) }; KNOWN],
    };
}

impl ThreadState {
    /// The tracked held locks.
    fn held(&self) -> &[Cell<Held>] {
        &self.held[..self.len.get().min(MAX_HELD)]
    }

    /// The cache slot of edge `(from, to)`.
    fn known_slot(&self, from: usize, to: usize) -> &Cell<(usize, usize)> {
        // Ids are small counters: a multiply by 31 and an add (two `lea`s)
        // spread them enough, and keep the fast path's chain of loads short.
        &self.known[from.wrapping_mul(31).wrapping_add(to) % KNOWN]
    }
}

/// Before a blocking or timed acquisition of `node` at `site`: records the
/// edges from every held lock (but `node` itself), and panics if one would
/// close a cycle.
#[inline]
pub(crate) fn before_blocking(node: &Node, site: Site) {
    // A thread-local with no destructor stays reachable while the thread exits.
    STATE.with(|state| {
        if state.len.get() == 0 {
            return;
        }
        // The fast path: every edge from a held lock is in this thread's cache.
        let to = node.id();
        for held in state.held() {
            let held = held.get();
            if let Some(from) = edge_from(held, node) {
                if state.known_slot(from, to).get() != (from, to) {
                    return check_edges(state, node, site);
                }
            }
        }
    });
}

/// The id of `held`'s lock, the source of an edge to `node`; `None` for an
/// empty slot or `node` itself.
#[inline]
fn edge_from(held: Held, node: &Node) -> Option<usize> {
    if held.node.is_null() || core::ptr::eq(held.node, node) {
        return None;
    }
    Some(held.id)
}

/// The slow path: adds the edges the cache does not know to the graph, or
/// panics if one would close a cycle.
#[cold]
#[inline(never)]
fn check_edges(state: &ThreadState, node: &Node, site: Site) {
    let to = node.id();
    for held in state.held() {
        let held = held.get();
        let Some(from) = edge_from(held, node) else {
            continue;
        };
        let slot = state.known_slot(from, to);
        if slot.get() == (from, to) {
            continue;
        }
        // SAFETY: entries are made from `&'static Location`s.
        let held_at = unsafe { &*held.site };
        if let Some(message) = add_edge(from, to, held_at, site) {
            panic!("{message}");
        }
        slot.set((from, to));
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
                "threadkit lock-order violation: acquiring a lock at {site} while holding the \
                 lock acquired at {held_at} inverts the order "
            );
            if let [earlier] = path[..] {
                let _ = write!(
                    message,
                    "set at {earlier}, where the lock held here was acquired while holding \
                     the one asked for now"
                );
            } else {
                let sites: Vec<String> = path.iter().map(ToString::to_string).collect();
                let _ = write!(
                    message,
                    "set by a chain of acquisitions, each made while holding the previous \
                     lock, from the lock asked for now back to the lock held here: {} (a \
                     cycle of {} locks)",
                    sites.join(", then "),
                    path.len() + 1
                );
            }
            message.push_str("; threads taking these locks in these orders can deadlock");
            return Some(message);
        }
        graph.after.entry(from).or_default().insert(to, site);
        graph.before.entry(to).or_default().insert(from);
        None
    })
}

/// This thread now holds `node`, taken at `site`.
#[inline]
pub(crate) fn acquired(node: &Node, site: Site) {
    STATE.with(|state| {
        let len = state.len.get();
        if let Some(slot) = state.held.get(len) {
            slot.set(Held {
                node: core::ptr::from_ref(node),
                id: node.id(),
                site: core::ptr::from_ref(site),
            });
        }
        state.len.set(len + 1);
    });
}

/// This thread released (one hold of) the lock whose node is at `node`: an
/// address only, compared and never read (the lock may be gone already).
#[inline]
pub(crate) fn released(node: *const Node) {
    STATE.with(|state| {
        let len = state.len.get();
        // The usual case: the last lock taken is the first released.
        if let Some(top) = len.checked_sub(1).and_then(|top| state.held.get(top)) {
            if core::ptr::eq(top.get().node, node) {
                state.len.set(len - 1);
                return;
            }
        }
        let held = state.held();
        // Usually the last one taken; an untracked (overflow) one if not found.
        if let Some(at) = held.iter().rposition(|h| core::ptr::eq(h.get().node, node)) {
            for i in at..held.len() - 1 {
                held[i].set(held[i + 1].get());
            }
            if len > MAX_HELD {
                // An untracked lock moves into the freed slot, unknown: leave it empty.
                held[held.len() - 1].set(NO_HELD);
            }
        }
        state.len.set(len.saturating_sub(1));
    });
}

/// The record of one held lock in its guard: removes itself from the
/// thread's held locks when dropped.
///
/// Its drop only compares the node's address with the thread's records and
/// never reads the node, so it is sound even when the lock was freed first
/// (an owned guard holding the lock's last `Arc` drops both, in field order).
#[derive(Debug)]
pub(crate) struct HeldToken {
    node: *const Node,
}

impl HeldToken {
    /// Records that this thread holds `node` (taken at `site`).
    #[inline]
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
        before_blocking(unsafe { &*self.node }, site);
    }
}

impl Drop for HeldToken {
    #[inline]
    fn drop(&mut self) {
        released(self.node);
    }
}
