//! Helpers shared by the integration tests (`mod common;` in each file).

#![allow(dead_code)] // each test file uses its own subset

use std::any::Any;
use std::fmt::Debug;
use std::panic;
use std::thread;
use std::time::{Duration, Instant};

/// How far past its timeout a timed wait may return on a loaded machine.
pub const SLACK: Duration = Duration::from_secs(5);

/// How long a hand-shake may take before the test fails instead of hanging.
pub const HANDSHAKE: Duration = Duration::from_secs(30);

/// Runs `f` and measures how long it took.
pub fn timed<R>(f: impl FnOnce() -> R) -> (R, Duration) {
    let start = Instant::now();
    let result = f();
    (result, start.elapsed())
}

/// A timed wait must not return before its timeout, nor absurdly late.
#[track_caller]
pub fn assert_waited(elapsed: Duration, timeout: Duration) {
    assert!(
        elapsed >= timeout,
        "returned early: after {elapsed:?}, timeout {timeout:?}"
    );
    assert!(
        elapsed < timeout + SLACK,
        "overslept: {elapsed:?} for a timeout of {timeout:?}"
    );
}

/// Unwinds like `panic!(msg)` but without running the panic hook, so the expected
/// panics of these tests do not clutter the output. Guards drop the same way.
pub fn throw(msg: &'static str) -> ! {
    panic::resume_unwind(Box::new(msg))
}

/// The message of a panic payload (`&str` or `String`).
pub fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(msg) = payload.downcast_ref::<&'static str>() {
        msg
    } else if let Some(msg) = payload.downcast_ref::<String>() {
        msg
    } else {
        "<non-string panic payload>"
    }
}

/// Yields until `done()` holds; fails the test instead of hanging.
#[track_caller]
pub fn spin_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < HANDSHAKE, "timed out waiting for {what}");
        thread::yield_now();
    }
}

/// Gives other threads a chance to run (and block) without sleeping. No assertion
/// depends on it; it only makes it likelier that they really are blocked.
pub fn let_others_run() {
    yield_a_while(|| {});
}

/// Calls `each` and yields, 200 times or for 20 ms, whichever ends first (under
/// load a yield can cost a whole time slice).
pub fn yield_a_while(mut each: impl FnMut()) {
    let start = Instant::now();
    for _ in 0..200 {
        each();
        thread::yield_now();
        if start.elapsed() > Duration::from_millis(20) {
            break;
        }
    }
}

/// Asserts that `value`'s `Debug` output contains every one of `parts`.
#[track_caller]
pub fn assert_debug_shows(value: &impl Debug, parts: &[&str]) {
    let repr = format!("{value:?}");
    for part in parts {
        assert!(repr.contains(part), "{part:?} missing from {repr}");
    }
}
