//! Helpers shared by the integration tests (`mod common;` in each file).

#![allow(dead_code)] // each test file uses its own subset

use std::any::Any;
use std::fmt::Debug;
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

/// How far past its timeout a timed wait may return on a loaded machine.
pub const SLACK: Duration = Duration::from_secs(5);

/// How long a hand-shake may take before the test fails instead of hanging.
pub const HANDSHAKE: Duration = Duration::from_secs(30);

/// How long a check that "nothing happens" watches (it cannot fail spuriously:
/// a correct primitive never lets the event happen, however long we look).
pub const QUIET: Duration = Duration::from_millis(50);

/// The timeout that a call which must return at once is contrasted with (see
/// [`assert_prompt`]): long, so that half of it is a margin no loaded machine
/// exhausts, and a call that wrongly waits for it cannot pass for prompt.
pub const LONG: Duration = Duration::from_secs(10);

/// The size of a workload that only buys confidence (stress rounds, items
/// through a queue, racing threads, repeated races): `n` natively; under
/// Miri, where a contended hand-off between threads costs some milliseconds,
/// a thousandth of `n` but at least 10 (all of `n` if it is smaller), so
/// each loop still takes every path a few times and checks the same
/// invariants. Counts that a check depends on stay as they are.
pub const fn scaled(n: usize) -> usize {
    const FLOOR: usize = 10;
    if !cfg!(miri) {
        n
    } else if n / 1000 > FLOOR {
        n / 1000
    } else if n > FLOOR {
        FLOOR
    } else {
        n
    }
}

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

/// Lets `thread` end on its own after the test: natively it may still be
/// waiting out a long timeout when the process exits. Under Miri, which fails
/// a run whose threads outlive `main`, it is joined instead (the virtual
/// clock skips the wait), and a panic in it fails the test.
pub fn detach<T>(thread: thread::JoinHandle<T>) {
    if cfg!(miri) {
        thread.join().expect("a detached thread panicked");
    }
}

/// `Box::leak`, for a value a test leaks on purpose. Miri reports memory that
/// no static reaches at exit as leaked: there the allocation is made a root.
pub fn leak<T>(value: T) -> &'static mut T {
    let leaked = Box::leak(Box::new(value));
    #[cfg(miri)]
    {
        unsafe extern "Rust" {
            fn miri_static_root(ptr: *const u8);
        }
        // SAFETY: Miri's own hook; it only records the live allocation as a root.
        unsafe { miri_static_root(std::ptr::from_mut(leaked).cast()) };
    }
    leaked
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

/// Runs `f`, which must panic, and returns its panic message.
#[track_caller]
pub fn panic_of<R>(what: &str, f: impl FnOnce() -> R) -> String {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(_) => panic!("{what} did not panic"),
        Err(payload) => panic_message(&*payload).to_owned(),
    }
}

/// Receives one message; fails the test instead of hanging.
#[track_caller]
pub fn recv<T>(rx: &Receiver<T>) -> T {
    rx.recv_timeout(HANDSHAKE)
        .expect("timed out waiting for a thread's report")
}

/// Nothing arrives on `rx` for a while (a thread that must stay blocked does).
#[track_caller]
pub fn assert_quiet<T: Debug>(rx: &Receiver<T>, what: &str) {
    match rx.recv_timeout(QUIET) {
        Err(RecvTimeoutError::Timeout) => {}
        other => panic!("{what}: got {other:?}"),
    }
}

/// Runs a wait bounded by `HANDSHAKE` that another thread is to end. It must
/// end before its deadline: a waiter whose wake-up was lost only notices at
/// its deadline (and then finds the item), and would otherwise pass 30 s late.
#[track_caller]
pub fn woken<R>(wait: impl FnOnce() -> R) -> R {
    let (result, elapsed) = timed(wait);
    assert!(
        elapsed < HANDSHAKE,
        "ended only at its deadline ({elapsed:?}): a lost wake-up"
    );
    result
}

/// Runs `body` on its own thread and fails the test if it does not finish
/// within `HANDSHAKE`, so a test that uses untimed waits fails on a lost
/// wake-up instead of hanging.
#[track_caller]
pub fn bounded<R: Send + 'static>(body: impl FnOnce() -> R + Send + 'static) -> R {
    let (done_tx, done_rx) = mpsc::channel();
    let runner = thread::spawn(move || {
        let result = body();
        let _ = done_tx.send(());
        result
    });
    match done_rx.recv_timeout(HANDSHAKE) {
        Ok(()) => runner
            .join()
            .expect("the test body panicked after finishing"),
        Err(RecvTimeoutError::Disconnected) => match runner.join() {
            Ok(_) => unreachable!("the body finished without reporting"),
            Err(payload) => panic::resume_unwind(payload),
        },
        Err(RecvTimeoutError::Timeout) => {
            panic!("the test did not finish within {HANDSHAKE:?}: a lost wake-up?")
        }
    }
}
