//! Criterion benchmarks of `Local` and `LocalStack` against the
//! `thread_local` crate's `ThreadLocal` (`thread_local`) and std's
//! `thread_local!` (`std`).
//!
//! Run with `cargo bench --bench local`. No group depends on the regime
//! (`THREADKIT_BENCH_REGIME`, see `benches/common/mod.rs`): they all run in the
//! `idle` regime only, under their plain names, as the single-thread groups of
//! `benches/lock.rs` do. What one criterion iteration is, per group:
//!
//! - `local/get_or-hit`: on a slot this thread has already initialised, one
//!   `get_or(|| Cell::new(0))` and an increment of the `Cell<u64>` it returns
//!   (the new count goes to `black_box`). The `Local` and the `ThreadLocal`
//!   live on the stack and are passed through `black_box`; std's is a
//!   `static` with `const { Cell::new(0) }`, reached by `with` (a
//!   `black_box(&KEY)` would turn its TLS access into an indirect call).
//! - `local/stack-push-pop`: one `LocalStack::push` and one `pop` (the stack
//!   stays one entry deep at most, its `Vec` already allocated), against the
//!   same two operations on a `thread_local!` `RefCell<Vec<u64>>` (`std`,
//!   two `with` + `borrow_mut`) and on a `ThreadLocal<RefCell<Vec<u64>>>`
//!   (`thread_local`).
//! - `local/first-access`: the first `get_or` of a new thread (plus the
//!   increment), timed inside the thread between two `Instant::now()`s (so
//!   each figure includes one clock read, about 20 ns) and summed over the
//!   threads; spawning and joining the threads is outside the clock. It
//!   includes the per-thread registration of each: threadkit's slot and
//!   exit hook, the crate's thread id and guard. threadkit's `Local` is a
//!   long-lived `static` (its table and bucket exist; the value is created,
//!   since the previous thread's was dropped at its exit). The `ThreadLocal`
//!   is a fresh `ThreadLocal::with_capacity(8)` per thread, made outside the
//!   clock: a long-lived one would hand the new thread the value of the
//!   exited thread whose id it reuses (no creation at all), and the capacity
//!   spares the timed part the bucket's allocation. std's is a lazily
//!   initialised `thread_local!` `Cell<u64>` (no destructor to register). Each
//!   thread checks, outside the clock, that its value was created (count 1).
//! - `local/thread-exit`: the cost of a thread's exit: the time from the last
//!   instruction of a thread's closure (an `Instant::now()` it returns) to its
//!   `join` returning in the spawning thread, summed over the threads. It
//!   covers std's thread teardown, the TLS destructors (threadkit's exit hook,
//!   which drops the thread's values, and the crate's thread-id guard), the
//!   kernel's exit and the joiner's wake-up, so `none` (a thread that used
//!   no `Local`) is the baseline to subtract. Before that instant the thread
//!   did `get_or` + increment on K = 1 (`threadkit-1`, `thread_local-1`) or
//!   K = 8 (`-8`) distinct long-lived (`static`) containers. threadkit drops
//!   the K values at exit (a `Cell<u64>` has no destructor of its own: this is
//!   the hooks' own cost); `ThreadLocal` drops nothing (the next thread that
//!   reuses the id finds the old values), only frees the id. The joiner's
//!   wake-up dominates the figures and varies with the machine's load.

mod common;

// The benchmarks keep threadkit objects in `static`s, which need `Local::new`
// to be `const`: it is not under `--cfg loom`, where this file builds empty.
#[cfg(not(loom))]
mod bench {
    use std::cell::{Cell, RefCell};
    use std::hint::black_box;
    use std::sync::Arc;
    use std::thread;
    use std::time::{Duration, Instant};

    use criterion::{Criterion, Throughput, criterion_group};
    use thread_local::ThreadLocal;
    use threadkit::{Local, LocalStack};

    use super::common::{self, single_thread_groups};

    thread_local! {
        /// `get_or-hit`'s std peer.
        static STD_HIT: Cell<u64> = const { Cell::new(0) };
        /// `stack-push-pop`'s std peer.
        static STD_STACK: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
        /// `first-access`'s std peer: initialised lazily, on the first `with`.
        #[allow(clippy::missing_const_for_thread_local)]
        static STD_FIRST: Cell<u64> = Cell::new(0);
    }

    /// The work done on a value in every group: an increment, returning the new
    /// count.
    #[inline(always)]
    fn bump(value: &Cell<u64>) -> u64 {
        let count = value.get() + 1;
        value.set(count);
        count
    }

    // ---------------------------------------------------------------------------
    // get_or on an initialised slot
    // ---------------------------------------------------------------------------

    fn get_or_hit(c: &mut Criterion) {
        if !single_thread_groups() {
            return;
        }
        let mut group = c.benchmark_group("local/get_or-hit");
        group.throughput(Throughput::Elements(1));

        let local = Local::<Cell<u64>>::new();
        local.get_or(|| Cell::new(0));
        group.bench_function("threadkit", |b| {
            b.iter(|| bump(&black_box(&local).get_or(|| Cell::new(0))));
        });

        let local = ThreadLocal::<Cell<u64>>::new();
        local.get_or(|| Cell::new(0));
        group.bench_function("thread_local", |b| {
            b.iter(|| bump(black_box(&local).get_or(|| Cell::new(0))));
        });

        group.bench_function("std", |b| {
            b.iter(|| STD_HIT.with(bump));
        });

        group.finish();
    }

    // ---------------------------------------------------------------------------
    // LocalStack push + pop
    // ---------------------------------------------------------------------------

    fn stack_push_pop(c: &mut Criterion) {
        if !single_thread_groups() {
            return;
        }
        let mut group = c.benchmark_group("local/stack-push-pop");
        group.throughput(Throughput::Elements(1));

        let stack = LocalStack::<u64>::new();
        stack.push(0);
        assert_eq!(stack.pop(), Some(0));
        group.bench_function("threadkit", |b| {
            b.iter(|| {
                let stack = black_box(&stack);
                stack.push(black_box(1));
                stack.pop()
            });
        });

        STD_STACK.with(|stack| stack.borrow_mut().reserve(1));
        group.bench_function("std", |b| {
            b.iter(|| {
                STD_STACK.with(|stack| stack.borrow_mut().push(black_box(1)));
                STD_STACK.with(|stack| stack.borrow_mut().pop())
            });
        });

        let stack = ThreadLocal::<RefCell<Vec<u64>>>::new();
        stack.get_or_default().borrow_mut().reserve(1);
        group.bench_function("thread_local", |b| {
            b.iter(|| {
                let stack = black_box(&stack);
                stack.get_or_default().borrow_mut().push(black_box(1));
                stack.get_or_default().borrow_mut().pop()
            });
        });

        group.finish();
    }

    // ---------------------------------------------------------------------------
    // First access in a new thread
    // ---------------------------------------------------------------------------

    /// Runs `iters` threads one after the other, each running `body` (which
    /// returns the time it measured itself), and sums the times.
    fn sum_over_threads(
        iters: u64,
        body: impl Fn() -> Duration + Send + Clone + 'static,
    ) -> Duration {
        (0..iters)
            .map(|_| {
                thread::spawn(body.clone())
                    .join()
                    .expect("a bench thread panicked")
            })
            .sum()
    }

    static FIRST_LOCAL: Local<Cell<u64>> = Local::new();

    fn first_access(c: &mut Criterion) {
        if !single_thread_groups() {
            return;
        }
        let mut group = c.benchmark_group("local/first-access");
        group.throughput(Throughput::Elements(1));

        group.bench_function("threadkit", |b| {
            b.iter_custom(|iters| {
                sum_over_threads(iters, || {
                    let started = Instant::now();
                    let count = bump(&FIRST_LOCAL.get_or(|| Cell::new(0)));
                    let elapsed = started.elapsed();
                    assert_eq!(count, 1, "the thread found an old value");
                    elapsed
                })
            });
        });

        group.bench_function("thread_local", |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        let local = Arc::new(ThreadLocal::<Cell<u64>>::with_capacity(8));
                        sum_over_threads(1, move || {
                            let started = Instant::now();
                            let count = bump(local.get_or(|| Cell::new(0)));
                            let elapsed = started.elapsed();
                            assert_eq!(count, 1, "the thread found an old value");
                            elapsed
                        })
                    })
                    .sum::<Duration>()
            });
        });

        group.bench_function("std", |b| {
            b.iter_custom(|iters| {
                sum_over_threads(iters, || {
                    let started = Instant::now();
                    let count = STD_FIRST.with(bump);
                    let elapsed = started.elapsed();
                    assert_eq!(count, 1, "the thread found an old value");
                    elapsed
                })
            });
        });

        group.finish();
    }

    // ---------------------------------------------------------------------------
    // Thread exit
    // ---------------------------------------------------------------------------

    static EXIT_LOCALS: [Local<Cell<u64>>; 8] = [const { Local::new() }; 8];
    static EXIT_THREAD_LOCALS: [ThreadLocal<Cell<u64>>; 8] = [const { ThreadLocal::new() }; 8];

    /// Runs `iters` threads one after the other; each runs `work` and returns the
    /// instant it finished. Sums, over the threads, the time from that instant to
    /// `join` returning.
    fn exit_times(iters: u64, work: fn()) -> Duration {
        (0..iters)
            .map(|_| {
                let done = thread::spawn(move || {
                    work();
                    Instant::now()
                })
                .join()
                .expect("a bench thread panicked");
                done.elapsed()
            })
            .sum()
    }

    fn thread_exit(c: &mut Criterion) {
        if !single_thread_groups() {
            return;
        }
        let mut group = c.benchmark_group("local/thread-exit");
        group.throughput(Throughput::Elements(1));

        group.bench_function("none", |b| {
            b.iter_custom(|iters| {
                exit_times(iters, || {
                    black_box(bump(&Cell::new(0)));
                })
            });
        });

        fn threadkit<const K: usize>() {
            for local in &EXIT_LOCALS[..K] {
                black_box(bump(&local.get_or(|| Cell::new(0))));
            }
        }
        fn thread_local<const K: usize>() {
            for local in &EXIT_THREAD_LOCALS[..K] {
                black_box(bump(local.get_or(|| Cell::new(0))));
            }
        }
        group.bench_function("threadkit-1", |b| {
            b.iter_custom(|iters| exit_times(iters, threadkit::<1>));
        });
        group.bench_function("thread_local-1", |b| {
            b.iter_custom(|iters| exit_times(iters, thread_local::<1>));
        });
        group.bench_function("threadkit-8", |b| {
            b.iter_custom(|iters| exit_times(iters, threadkit::<8>));
        });
        group.bench_function("thread_local-8", |b| {
            b.iter_custom(|iters| exit_times(iters, thread_local::<8>));
        });

        group.finish();
    }

    criterion_group! {
        name = benches;
        config = common::config();
        targets = get_or_hit, stack_push_pop, first_access, thread_exit
    }

    pub fn main() {
        common::main(benches);
    }
}

fn main() {
    #[cfg(not(loom))]
    bench::main();
}
