//! The hand-offs measured in several regimes, each side written once for
//! threadkit and for its peers, and the naive peers themselves: what a std user
//! writes in ten lines, a `std::sync::Mutex` plus a `Condvar`.

use std::sync::{Condvar, Mutex};

/// A counting semaphore on `Mutex<usize>` + `Condvar`.
pub struct NaiveSemaphore {
    permits: Mutex<usize>,
    released: Condvar,
}

impl NaiveSemaphore {
    pub fn new(permits: usize) -> Self {
        NaiveSemaphore {
            permits: Mutex::new(permits),
            released: Condvar::new(),
        }
    }

    pub fn acquire(&self) {
        let mut permits = self.permits.lock().unwrap();
        while *permits == 0 {
            permits = self.released.wait(permits).unwrap();
        }
        *permits -= 1;
    }

    pub fn release(&self) {
        *self.permits.lock().unwrap() += 1;
        self.released.notify_one();
    }
}

/// Python's `Event` on `Mutex<bool>` + `Condvar` (as CPython writes it).
pub struct NaiveEvent {
    flag: Mutex<bool>,
    changed: Condvar,
}

impl Default for NaiveEvent {
    fn default() -> Self {
        NaiveEvent::new()
    }
}

impl NaiveEvent {
    pub fn new() -> Self {
        NaiveEvent {
            flag: Mutex::new(false),
            changed: Condvar::new(),
        }
    }

    pub fn is_set(&self) -> bool {
        *self.flag.lock().unwrap()
    }

    pub fn set(&self) {
        *self.flag.lock().unwrap() = true;
        self.changed.notify_all();
    }

    pub fn clear(&self) {
        *self.flag.lock().unwrap() = false;
    }

    pub fn wait(&self) {
        let mut flag = self.flag.lock().unwrap();
        while !*flag {
            flag = self.changed.wait(flag).unwrap();
        }
    }
}

/// The event operations a ping-pong needs, for threadkit's `Event` and the
/// naive one.
pub trait PingPongEvent: Default + Send + Sync {
    fn set(&self);
    fn clear(&self);
    fn wait(&self);
}

impl PingPongEvent for threadkit::Event {
    fn set(&self) {
        threadkit::Event::set(self)
    }
    fn clear(&self) {
        threadkit::Event::clear(self)
    }
    fn wait(&self) {
        threadkit::Event::wait(self)
    }
}

impl PingPongEvent for NaiveEvent {
    fn set(&self) {
        NaiveEvent::set(self)
    }
    fn clear(&self) {
        NaiveEvent::clear(self)
    }
    fn wait(&self) {
        NaiveEvent::wait(self)
    }
}

/// One side of an event ping-pong, `iters` round trips: the pinger (`false`)
/// sets `ping` and waits for `pong`; the ponger (`true`) answers each ping.
pub fn event_side<E: PingPongEvent>(ping: &E, pong: &E, me: bool, iters: u64) {
    for _ in 0..iters {
        if me {
            ping.wait();
            ping.clear();
            pong.set();
        } else {
            ping.set();
            pong.wait();
            pong.clear();
        }
    }
}

/// One side of a semaphore hand-off, `iters` round trips: one permit goes back
/// and forth between two semaphores that start empty. Side `false` starts with
/// the permit: it releases it to `theirs` (for side `true`, which waits on it)
/// and takes it back from `mine`.
pub fn threadkit_semaphore_side(
    a: &threadkit::Semaphore,
    b: &threadkit::Semaphore,
    me: bool,
    iters: u64,
) {
    let (mine, theirs) = if me { (b, a) } else { (a, b) };
    for _ in 0..iters {
        if me {
            mine.acquire().forget();
            theirs.release(1);
        } else {
            theirs.release(1);
            mine.acquire().forget();
        }
    }
}

/// [`threadkit_semaphore_side`] for the naive semaphore.
pub fn naive_semaphore_side(a: &NaiveSemaphore, b: &NaiveSemaphore, me: bool, iters: u64) {
    let (mine, theirs) = if me { (b, a) } else { (a, b) };
    for _ in 0..iters {
        if me {
            mine.acquire();
            theirs.release();
        } else {
            theirs.release();
            mine.acquire();
        }
    }
}

/// One side of a condition-variable ping-pong, `iters` round trips: wait
/// (with the lock held) until the turn is `me`, flip it to the other side and
/// notify while still holding the lock (as Python code must). Side `false`
/// starts (the turn starts `false`).
pub fn threadkit_condition_side(
    lock: &threadkit::Lock<bool>,
    cond: &threadkit::Condition,
    me: bool,
    iters: u64,
) {
    let mut turn = lock.lock();
    for _ in 0..iters {
        while *turn != me {
            cond.wait(&mut turn);
        }
        *turn = !me;
        cond.notify_one();
    }
}

/// [`threadkit_condition_side`] for parking_lot's `Mutex` + `Condvar`.
pub fn parking_lot_condition_side(
    lock: &parking_lot::Mutex<bool>,
    cond: &parking_lot::Condvar,
    me: bool,
    iters: u64,
) {
    let mut turn = lock.lock();
    for _ in 0..iters {
        while *turn != me {
            cond.wait(&mut turn);
        }
        *turn = !me;
        cond.notify_one();
    }
}

/// [`threadkit_condition_side`] for std's `Mutex` + `Condvar`.
pub fn std_condition_side(lock: &Mutex<bool>, cond: &Condvar, me: bool, iters: u64) {
    let mut turn = lock.lock().unwrap();
    for _ in 0..iters {
        while *turn != me {
            turn = cond.wait(turn).unwrap();
        }
        *turn = !me;
        cond.notify_one();
    }
}
