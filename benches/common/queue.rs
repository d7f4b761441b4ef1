//! `BoundedQueue`'s peers and the queue workloads (`benches/queue.rs`): the
//! naive queue a std user writes (`Mutex<VecDeque<T>>` plus two `Condvar`s),
//! one trait over it, threadkit's queue, the bounded channels of crossbeam,
//! kanal and flume, std's `sync_channel`, and each workload written once
//! against that trait.

use std::collections::VecDeque;
use std::hint::black_box;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use super::run_threads;

/// A bounded FIFO queue on `Mutex<VecDeque<T>>` + two `Condvar`s, as a std
/// user (or CPython's `queue.Queue`) writes it: a put waits on `not_full`
/// while the queue is full, a get on `not_empty` while it is empty, and each
/// notifies the other side after every operation.
pub struct NaiveQueue<T> {
    items: Mutex<VecDeque<T>>,
    capacity: usize,
    not_empty: Condvar,
    not_full: Condvar,
}

impl<T> NaiveQueue<T> {
    pub fn new(capacity: usize) -> Self {
        assert!(capacity > 0, "a queue of capacity 0");
        NaiveQueue {
            items: Mutex::new(VecDeque::with_capacity(capacity)),
            capacity,
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
        }
    }

    pub fn put(&self, item: T) {
        let mut items = self.items.lock().unwrap();
        while items.len() == self.capacity {
            items = self.not_full.wait(items).unwrap();
        }
        items.push_back(item);
        drop(items);
        self.not_empty.notify_one();
    }

    pub fn get(&self) -> T {
        let mut items = self.items.lock().unwrap();
        loop {
            if let Some(item) = items.pop_front() {
                drop(items);
                self.not_full.notify_one();
                return item;
            }
            items = self.not_empty.wait(items).unwrap();
        }
    }
}

/// A bounded queue of `u64`s as the workloads use it.
pub trait BenchQueue: Sync {
    fn with_capacity(capacity: usize) -> Self;

    /// Puts one item (blocking while the queue is full).
    fn put(&self, item: u64);

    /// Gets one item (blocking while the queue is empty), on a thread that is
    /// one of several consumers.
    fn get(&self) -> u64;

    /// A getter for a thread that is the queue's only consumer for the whole
    /// run; std's channel hands it the receiver itself, locked once.
    fn sole_getter(&self) -> impl FnMut() -> u64 + '_ {
        || self.get()
    }
}

impl BenchQueue for threadkit::BoundedQueue<u64> {
    fn with_capacity(capacity: usize) -> Self {
        threadkit::BoundedQueue::new(capacity)
    }
    fn put(&self, item: u64) {
        threadkit::BoundedQueue::put(self, item).unwrap()
    }
    fn get(&self) -> u64 {
        threadkit::BoundedQueue::get(self).unwrap()
    }
}

impl BenchQueue for NaiveQueue<u64> {
    fn with_capacity(capacity: usize) -> Self {
        NaiveQueue::new(capacity)
    }
    fn put(&self, item: u64) {
        NaiveQueue::put(self, item)
    }
    fn get(&self) -> u64 {
        NaiveQueue::get(self)
    }
}

/// `crossbeam_channel::bounded`: both ends live as long as the run.
pub struct Crossbeam {
    tx: crossbeam_channel::Sender<u64>,
    rx: crossbeam_channel::Receiver<u64>,
}

impl BenchQueue for Crossbeam {
    fn with_capacity(capacity: usize) -> Self {
        let (tx, rx) = crossbeam_channel::bounded(capacity);
        Crossbeam { tx, rx }
    }
    fn put(&self, item: u64) {
        self.tx.send(item).unwrap()
    }
    fn get(&self) -> u64 {
        self.rx.recv().unwrap()
    }
}

/// `kanal::bounded`: both ends live as long as the run.
pub struct Kanal {
    tx: kanal::Sender<u64>,
    rx: kanal::Receiver<u64>,
}

impl BenchQueue for Kanal {
    fn with_capacity(capacity: usize) -> Self {
        let (tx, rx) = kanal::bounded(capacity);
        Kanal { tx, rx }
    }
    fn put(&self, item: u64) {
        self.tx.send(item).unwrap()
    }
    fn get(&self) -> u64 {
        self.rx.recv().unwrap()
    }
}

/// `flume::bounded`: both ends live as long as the run.
pub struct Flume {
    tx: flume::Sender<u64>,
    rx: flume::Receiver<u64>,
}

impl BenchQueue for Flume {
    fn with_capacity(capacity: usize) -> Self {
        let (tx, rx) = flume::bounded(capacity);
        Flume { tx, rx }
    }
    fn put(&self, item: u64) {
        self.tx.send(item).unwrap()
    }
    fn get(&self) -> u64 {
        self.rx.recv().unwrap()
    }
}

/// `std::sync::mpsc::sync_channel`. Its receiver is single-consumer (`!Sync`),
/// so it sits in a `Mutex`: the only consumer of a run locks it once
/// ([`BenchQueue::sole_getter`]), several consumers lock it for each get (the
/// `Arc<Mutex<Receiver>>` of a std user's worker pool).
pub struct StdSync {
    tx: SyncSender<u64>,
    rx: Mutex<Receiver<u64>>,
}

impl BenchQueue for StdSync {
    fn with_capacity(capacity: usize) -> Self {
        let (tx, rx) = sync_channel(capacity);
        StdSync {
            tx,
            rx: Mutex::new(rx),
        }
    }
    fn put(&self, item: u64) {
        self.tx.send(item).unwrap()
    }
    fn get(&self) -> u64 {
        self.rx.lock().unwrap().recv().unwrap()
    }
    fn sole_getter(&self) -> impl FnMut() -> u64 + '_ {
        let rx = self.rx.lock().unwrap();
        move || rx.recv().unwrap()
    }
}

/// The sum of the items `0..items`, which a run's consumers must get between
/// them (no item lost or duplicated).
fn expected_sum(items: u64) -> u64 {
    // items * (items - 1) / 2, dividing the even factor.
    if items % 2 == 0 {
        (items / 2).wrapping_mul(items.saturating_sub(1))
    } else {
        items.wrapping_mul((items - 1) / 2)
    }
}

/// `items` items through one queue of `capacity` from `producers` threads to
/// `consumers` threads, each started once and released by a barrier
/// ([`run_threads`]); the wall time from the start until the last thread is
/// done. Producer `k` puts the items `k, k + producers, ...`; the consumers
/// share the gets as evenly as they can. A lone consumer uses
/// [`BenchQueue::sole_getter`]. Checks (outside the clock) that the
/// consumers got every item once.
pub fn transfer<Q: BenchQueue>(
    capacity: usize,
    producers: usize,
    consumers: usize,
    items: u64,
) -> Duration {
    let queue = Q::with_capacity(capacity);
    let (p, c) = (producers as u64, consumers as u64);
    let (elapsed, sums) = run_threads(producers + consumers, |k| {
        let k = k as u64;
        if k < p {
            let mut item = k;
            while item < items {
                queue.put(item);
                item += p;
            }
            0
        } else {
            let k = k - p;
            let share = items / c + u64::from(k < items % c);
            let mut sum = 0u64;
            if consumers == 1 {
                let mut get = queue.sole_getter();
                for _ in 0..share {
                    sum = sum.wrapping_add(get());
                }
            } else {
                for _ in 0..share {
                    sum = sum.wrapping_add(queue.get());
                }
            }
            black_box(sum)
        }
    });
    let got = sums.into_iter().fold(0u64, u64::wrapping_add);
    assert_eq!(
        got,
        expected_sum(items),
        "the consumers lost or duplicated items"
    );
    elapsed
}

/// `iters` round trips between two threads over two queues of capacity 1:
/// the pinger puts `i` into the first and gets it back from the second; the
/// ponger gets from the first and puts what it got into the second.
pub fn ping_pong<Q: BenchQueue>(iters: u64) -> Duration {
    let (ping, pong) = (Q::with_capacity(1), Q::with_capacity(1));
    super::ping_pong(iters, |me, iters| {
        if me {
            let mut get = ping.sole_getter();
            for _ in 0..iters {
                pong.put(get());
            }
        } else {
            let mut get = pong.sole_getter();
            for i in 0..iters {
                ping.put(i);
                assert_eq!(get(), i, "the ping-pong lost its item");
            }
        }
    })
}
