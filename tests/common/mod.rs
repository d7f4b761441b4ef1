//! Helpers shared by the integration tests (`mod common;` in each file).

#![allow(dead_code)] // each test file uses its own subset

use std::any::Any;
use std::fmt::Debug;
use std::panic;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

/// How far past its timeout a timed wait may return on a loaded machine.
pub const SLACK: Duration = Duration::from_secs(5);

/// How long a hand-shake may take before the test fails instead of hanging.
pub const HANDSHAKE: Duration = Duration::from_secs(30);

/// The timeout that a call which must return at once is contrasted with (see
/// [`assert_prompt`]): long, so that half of it is a margin no loaded machine
/// exhausts, and a call that wrongly waits for it cannot pass for prompt.
pub const LONG: Duration = Duration::from_secs(10);

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

/// A call that had to return at once (the event was set, the barrier broken, the
/// lock free, ...) did, instead of waiting for its `timeout`: it returned within
/// half of it. `timeout` should be [`LONG`] or longer; a test's short `TIMEOUT`
/// would leave either no margin for a loaded machine or no room for the bug.
#[track_caller]
pub fn assert_prompt(elapsed: Duration, timeout: Duration) {
    assert!(
        elapsed < timeout / 2,
        "took {elapsed:?} with a timeout of {timeout:?}: it waited where it should \
         have returned at once"
    );
}

/// Runs `call`, a zero-timeout or past-deadline call that must try once and
/// return at once, while another thread stands ready to run `unblock` (which
/// would end the wait: a release, a `set`, a notify, ...) after [`LONG`]. A
/// call that wrongly waits (a zero timeout taken for "no timeout") then
/// returns after `LONG`, typically with the wrong result, and fails
/// [`assert_prompt`] instead of hanging the test. Returns `call`'s result.
#[track_caller]
pub fn try_once<R>(unblock: impl FnOnce() + Send, call: impl FnOnce() -> R) -> R {
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let (result, elapsed) = thread::scope(|s| {
        s.spawn(move || {
            if done_rx.recv_timeout(LONG) == Err(RecvTimeoutError::Timeout) {
                unblock();
            }
        });
        let measured = timed(call);
        drop(done_tx); // the helper ends without unblocking anything
        measured
    });
    assert_prompt(elapsed, LONG);
    result
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
