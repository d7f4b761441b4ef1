//! The lock-free core of [`BoundedQueue`](super::BoundedQueue): Dmitry Vyukov's
//! bounded MPMC queue (<https://www.1024cores.net/home/lock-free-algorithms/queues/bounded-mpmc-queue>),
//! laid out as crossbeam's `ArrayQueue` and `array` channel flavour.
//!
//! # The algorithm
//!
//! A ring of `capacity` slots, each with a *stamp* that says whose turn it is,
//! and two counters, `head` (next get) and `tail` (next put), on cache lines of
//! their own. A put at position `p` claims it by moving `tail` past `p` with a
//! compare-and-swap, once the slot's stamp says `p` (the slot is free for this
//! lap); it writes the item and stores `p + 1`. A get at `p` waits for the stamp
//! `p + 1`, claims `p` by moving `head`, reads the item and stores the position of
//! the same slot one lap later. The stamps hand each slot from one thread to
//! the next, with release/acquire, so an item is never read twice or torn.
//!
//! # Words
//!
//! A position is `lap | index`: the index in the ring in the low bits, the lap
//! count above two flag bits (so `index + 1` never carries into them):
//!
//! | word | flag `mark` | flag `mark << 1` |
//! |---|---|---|
//! | `tail` | `CLOSED` | `GETTERS`: a get is queued (the blocking layer's) |
//! | `head` | `PUTTERS`: a put is queued | unused |
//!
//! The flags live in the counters themselves because a put or get must learn,
//! at no extra cost, whether anyone waits for it: its compare-and-swap reads
//! the flag in the same step that claims the position. A thread that is about
//! to wait sets the flag with an RMW on the same word and looks at what it read,
//! so either its RMW comes first (and the put or get sees the flag and wakes it)
//! or it sees that put or get (and does not wait). One word's modification
//! order decides, so no fence is needed on the fast path. Closing is a flag in
//! `tail` for the same reason: a put is either before the close or fails.
//!
//! # Under loom
//!
//! The ring is the same code; its waits shrink to what the model can explore:
//! each `Backoff` step is one loom yield (natively a spin, then an OS yield),
//! and the blocking layer's poll is off, so a model with capacity 1 or 2 and
//! two or three threads stays small.

use core::mem::MaybeUninit;

use crate::facade::{AtomicUsize, Backoff, CachePadded, Ordering, UnsafeCell, fence};

/// One ring slot: its turn stamp and, between a put and a get, an item.
struct Slot<T> {
    stamp: AtomicUsize,
    value: UnsafeCell<MaybeUninit<T>>,
}

/// Why a put failed.
pub(super) enum PushError<T> {
    Full(T),
    Closed(T),
}

/// Why a get failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PopError {
    Empty,
    Closed,
}

/// The largest capacity: a word keeps the index, the two flags and at least 7
/// lap bits (crossbeam's stamps tolerate a wrap of the laps; the unfinished-task
/// count is exact while fewer than `2^lap_bits × capacity` tasks are unfinished).
pub(super) const MAX_CAPACITY: usize = 1 << (usize::BITS - 10);

pub(super) struct Ring<T> {
    head: CachePadded<AtomicUsize>,
    tail: CachePadded<AtomicUsize>,
    slots: Box<[Slot<T>]>,
    /// The smallest power of two above the capacity: the first flag bit.
    mark: usize,
    /// `mark << 2`: one lap, the lowest lap bit.
    one_lap: usize,
}

impl<T> Ring<T> {
    pub(super) fn new(capacity: usize) -> Ring<T> {
        debug_assert!((1..=MAX_CAPACITY).contains(&capacity));
        let mark = (capacity + 1).next_power_of_two();
        Ring {
            head: CachePadded::new(AtomicUsize::new(0)),
            tail: CachePadded::new(AtomicUsize::new(0)),
            // Slot `i` starts at its lap-0 position `i`: free for the first put there.
            slots: (0..capacity)
                .map(|i| Slot {
                    stamp: AtomicUsize::new(i),
                    value: UnsafeCell::new(MaybeUninit::uninit()),
                })
                .collect(),
            mark,
            one_lap: mark << 2,
        }
    }

    pub(super) fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// The flag bits of a word.
    fn flags(&self) -> usize {
        self.mark | self.mark << 1
    }

    /// A word without its flags: a position.
    #[inline]
    pub(super) fn position(&self, word: usize) -> usize {
        word & !self.flags()
    }

    /// The position after `position`: the next index, or index 0 of the next lap.
    #[inline]
    pub(super) fn next(&self, position: usize) -> usize {
        let index = position & (self.mark - 1);
        if index + 1 < self.capacity() {
            position + 1
        } else {
            (position & !(self.one_lap - 1)).wrapping_add(self.one_lap)
        }
    }

    /// The position `n` puts after `position`.
    pub(super) fn advance(&self, position: usize, n: usize) -> usize {
        let index = (position & (self.mark - 1)) + n;
        let (laps, index) = (index / self.capacity(), index % self.capacity());
        (position & !(self.one_lap - 1)).wrapping_add(laps.wrapping_mul(self.one_lap)) | index
    }

    /// How many puts lie between positions `from` and `to` (`from` not after `to`).
    pub(super) fn distance(&self, from: usize, to: usize) -> usize {
        let laps =
            (to & !(self.one_lap - 1)).wrapping_sub(from & !(self.one_lap - 1)) / self.one_lap;
        laps.wrapping_mul(self.capacity())
            .wrapping_add(to & (self.mark - 1))
            .wrapping_sub(from & (self.mark - 1))
    }

    /// Puts `value` at the tail; `Ok(true)` if a get was queued (the caller wakes one).
    #[inline]
    pub(super) fn push(&self, value: T) -> Result<bool, PushError<T>> {
        let backoff = Backoff::new();
        let mut tail = self.tail.load(Ordering::Relaxed);
        loop {
            if tail & self.closed_flag() != 0 {
                // Acquire: the close happens-before this failed put.
                fence(Ordering::Acquire);
                return Err(PushError::Closed(value));
            }
            let position = self.position(tail);
            let slot = &self.slots[position & (self.mark - 1)];
            // Acquire: pairs with the get that freed the slot (its read is done).
            let stamp = slot.stamp.load(Ordering::Acquire);
            if stamp == position {
                let claimed = self.next(position) | (tail & self.flags());
                match self.tail.compare_exchange_weak(
                    tail,
                    claimed,
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // SAFETY: the stamp said the slot is free for this lap, and
                        // the CAS made this thread the only one to write it.
                        slot.value.with_mut(|cell| unsafe { (*cell).write(value) });
                        // Release: the get that sees this stamp sees the item.
                        slot.stamp.store(position + 1, Ordering::Release);
                        return Ok(tail & self.getters_flag() != 0);
                    }
                    Err(actual) => {
                        tail = actual;
                        backoff.spin();
                    }
                }
            } else if stamp.wrapping_add(self.one_lap) == position + 1 {
                // The slot still holds the previous lap's item: full, unless a
                // get has claimed it since.
                fence(Ordering::SeqCst);
                let head = self.head.load(Ordering::Relaxed);
                if self.position(head).wrapping_add(self.one_lap) == position {
                    return Err(PushError::Full(value));
                }
                backoff.spin();
                tail = self.tail.load(Ordering::Relaxed);
            } else {
                // A get of the previous lap is still reading this slot.
                backoff.snooze();
                tail = self.tail.load(Ordering::Relaxed);
            }
        }
    }

    /// Takes the item at the head; `Ok((item, true))` if a put was queued (the
    /// caller wakes one). Fails with `Closed` only once closed and empty.
    #[inline]
    pub(super) fn pop(&self) -> Result<(T, bool), PopError> {
        let backoff = Backoff::new();
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            let position = self.position(head);
            let slot = &self.slots[position & (self.mark - 1)];
            // Acquire: pairs with the put's stamp store, so the item is there.
            let stamp = slot.stamp.load(Ordering::Acquire);
            if stamp == position + 1 {
                let claimed = self.next(position) | (head & self.flags());
                match self.head.compare_exchange_weak(
                    head,
                    claimed,
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // SAFETY: the stamp said a put wrote this slot, and the CAS
                        // made this thread the only one to read it.
                        let value = slot
                            .value
                            .with(|cell| unsafe { (*cell).assume_init_read() });
                        // Release: the next lap's put writes only after this read.
                        slot.stamp
                            .store(position.wrapping_add(self.one_lap), Ordering::Release);
                        return Ok((value, head & self.putters_flag() != 0));
                    }
                    Err(actual) => {
                        head = actual;
                        backoff.spin();
                    }
                }
            } else if stamp == position {
                // Nothing written here yet: empty, unless a put has claimed it.
                fence(Ordering::SeqCst);
                let tail = self.tail.load(Ordering::Relaxed);
                if self.position(tail) == position {
                    if tail & self.closed_flag() != 0 {
                        // Acquire: the close happens-before this failed get.
                        fence(Ordering::Acquire);
                        return Err(PopError::Closed);
                    }
                    return Err(PopError::Empty);
                }
                backoff.spin();
                head = self.head.load(Ordering::Relaxed);
            } else {
                // A put has claimed the slot and is writing it, or our head is stale.
                backoff.snooze();
                head = self.head.load(Ordering::Relaxed);
            }
        }
    }

    /// Whether a get would find an item, or the queue closed (for polling).
    #[inline]
    pub(super) fn get_ready(&self) -> bool {
        let head = self.position(self.head.load(Ordering::Relaxed));
        let slot = &self.slots[head & (self.mark - 1)];
        slot.stamp.load(Ordering::Relaxed) == head + 1
            || self.tail.load(Ordering::Relaxed) & self.closed_flag() != 0
    }

    /// Whether a put would find room, or the queue closed (for polling).
    #[inline]
    pub(super) fn put_ready(&self) -> bool {
        let tail = self.tail.load(Ordering::Relaxed);
        let slot = &self.slots[tail & (self.mark - 1)];
        tail & self.closed_flag() != 0 || slot.stamp.load(Ordering::Relaxed) == self.position(tail)
    }

    fn closed_flag(&self) -> usize {
        self.mark
    }

    fn getters_flag(&self) -> usize {
        self.mark << 1
    }

    fn putters_flag(&self) -> usize {
        self.mark
    }

    /// Closes the ring; `true` if this call closed it.
    pub(super) fn close(&self) -> bool {
        self.tail.fetch_or(self.closed_flag(), Ordering::SeqCst) & self.closed_flag() == 0
    }

    pub(super) fn is_closed(&self) -> bool {
        self.tail.load(Ordering::SeqCst) & self.closed_flag() != 0
    }

    /// Flags a queued get; `true` if it should wait: the ring was empty and
    /// open when the flag went up (otherwise the caller retries its get).
    /// Call with the getters' queue locked.
    pub(super) fn flag_getter(&self) -> bool {
        let tail = self.tail.fetch_or(self.getters_flag(), Ordering::SeqCst);
        let head = self.head.load(Ordering::SeqCst);
        tail & self.closed_flag() == 0 && self.position(tail) == self.position(head)
    }

    /// Lowers the getters' flag: nobody is queued. Call with their queue locked.
    pub(super) fn unflag_getters(&self) {
        self.tail.fetch_and(!self.getters_flag(), Ordering::Relaxed);
    }

    /// Flags a queued put; `true` if it should wait: the ring was full and open
    /// when the flag went up. Call with the putters' queue locked.
    pub(super) fn flag_putter(&self) -> bool {
        let head = self.head.fetch_or(self.putters_flag(), Ordering::SeqCst);
        let tail = self.tail.load(Ordering::SeqCst);
        tail & self.closed_flag() == 0
            && self.position(head).wrapping_add(self.one_lap) == self.position(tail)
    }

    /// Lowers the putters' flag: nobody is queued. Call with their queue locked.
    pub(super) fn unflag_putters(&self) {
        self.head.fetch_and(!self.putters_flag(), Ordering::Relaxed);
    }

    /// The tail's position: every put ever claimed. Acquire: a caller that
    /// counts a put here sees what happened before it.
    pub(super) fn tail_position(&self) -> usize {
        self.position(self.tail.load(Ordering::Acquire))
    }

    /// How many items are queued (crossbeam's snapshot: head between two equal tails).
    pub(super) fn len(&self) -> usize {
        loop {
            let tail = self.tail.load(Ordering::SeqCst);
            let head = self.head.load(Ordering::SeqCst);
            if self.position(self.tail.load(Ordering::SeqCst)) == self.position(tail) {
                return self.distance(self.position(head), self.position(tail));
            }
        }
    }

    /// A word's flag that the blocking layer keeps for its own waiters (the
    /// task counter's `JOINERS`): the same bit as `CLOSED`, free in that word.
    pub(super) fn spare_flag(&self) -> usize {
        self.mark
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        /// The items from `next` to `end`. If dropping one panics, the guard's
        /// own drop, run by the unwinding, drops the rest (a second panic
        /// aborts, as in `Vec`).
        struct Items<'a, T> {
            ring: &'a Ring<T>,
            next: usize,
            end: usize,
        }
        impl<T> Items<'_, T> {
            fn drop_rest(&mut self) {
                while self.next != self.end {
                    let slot = &self.ring.slots[self.next & (self.ring.mark - 1)];
                    self.next = self.ring.next(self.next);
                    // SAFETY: every position from head to tail holds an item
                    // (`&mut self`: no put or get is under way), dropped once:
                    // `next` moves past it first.
                    slot.value
                        .with_mut(|cell| unsafe { (*cell).assume_init_drop() });
                }
            }
        }
        impl<T> Drop for Items<'_, T> {
            fn drop(&mut self) {
                self.drop_rest();
            }
        }
        let mut items = Items {
            ring: self,
            next: self.position(self.head.load(Ordering::Relaxed)),
            end: self.position(self.tail.load(Ordering::Relaxed)),
        };
        items.drop_rest();
    }
}
