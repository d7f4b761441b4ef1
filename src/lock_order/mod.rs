//! Lock-order checking (cargo feature `lock-order`, not under loom): a
//! process-wide graph of "held → acquired" edges between `Lock`s and `RLock`s;
//! an acquisition that would close a cycle panics before it blocks.
//!
//! Costs, fastest first:
//! - an acquisition with no other lock held: a push on a thread-local stack
//!   (and a pop at release);
//! - a nested acquisition along edges this thread has checked before: a
//!   lookup in a thread-local set of known edges, no global lock (an edge is
//!   never removed while both its locks live, and never closes a cycle once in);
//! - a new edge: the global graph's lock, a search for a path back, the insert.
//!
//! Each lock's node id is drawn from a counter the first time it takes part in
//! an edge, and never reused; a dropped lock removes its node and edges, so a
//! new lock at the same address starts clean.
//!
//! Without the feature the same names exist as zero-sized types and empty
//! inline functions, so `Lock<()>` stays one byte and no acquisition pays.

#[cfg(all(feature = "lock-order", not(loom)))]
mod enabled;
#[cfg(all(feature = "lock-order", not(loom)))]
pub(crate) use enabled::*;

#[cfg(not(all(feature = "lock-order", not(loom))))]
mod disabled;
#[cfg(not(all(feature = "lock-order", not(loom))))]
pub(crate) use disabled::*;
