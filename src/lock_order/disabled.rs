//! The checker switched off: zero-sized types and empty functions.

use core::panic::Location;

/// The checker is off.
pub(crate) const ENABLED: bool = false;

/// Nothing: a lock's node exists only with the checker.
#[derive(Debug, Default)]
pub(crate) struct Node;

impl Node {
    pub(crate) const fn new() -> Node {
        Node
    }
}

/// Nothing to check.
#[inline(always)]
pub(crate) fn before_blocking(_: &Node, _: &'static Location<'static>) {}

/// Nothing recorded.
#[derive(Debug)]
pub(crate) struct HeldToken;

impl HeldToken {
    #[inline(always)]
    pub(crate) fn new(_: &Node, _: &'static Location<'static>) -> HeldToken {
        HeldToken
    }

    #[inline(always)]
    pub(crate) fn check_again(&self, _: &'static Location<'static>) {}
}
