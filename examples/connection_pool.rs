//! A database connection pool on a [`BoundedQueue`]: the seeds' `ResourcePool`
//! (a Flask + SQLAlchemy threading guide), where a `Lock` around a list, a
//! `Semaphore` counting the free entries and an `Event` for readiness become one
//! queue of idle connections.
//!
//! - **Borrow**: [`BoundedQueue::get_for`] takes an idle connection, waiting at
//!   most a timeout for one to come back. When every connection stays lent out,
//!   the caller gets [`GetTimeoutError::Timeout`]: the pool is exhausted, an error
//!   to report (HTTP 503), not a thread blocked for ever.
//! - **Give back**: a [`PooledConnection`] guard puts its connection back into the
//!   queue when dropped, so no code path can forget it (Python needs
//!   `try`/`finally` for that). The queue's capacity is the pool's size and only
//!   that many connections exist, so the put never waits.
//! - **Shut down**: [`BoundedQueue::close_and_take`] closes the pool and hands
//!   back every idle connection at once, to be closed now; a borrower waiting in
//!   `get_for` wakes with [`GetTimeoutError::Closed`]. A connection still lent out
//!   is closed when its guard drops: the put fails with [`Closed`], which hands the
//!   connection back instead of dropping it.
//!
//! The pool needs no `Event` for readiness: it is filled before any thread can
//! see it. It never calls `task_done`: a pool has no use for `join`.
//!
//! Run with `cargo run --release --example connection_pool`. It takes a few
//! milliseconds: queries sleep 0.2 ms as simulated work, the exhausted pool waits
//! out a 20 ms timeout, and threads are ordered with events, never with timing.
//! Which connection serves which query varies from run to run; the counts do not.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::thread;
use std::time::Duration;

use threadkit::{BoundedQueue, Closed, Event, GetTimeoutError};

/// A database connection, as far as the pool is concerned.
#[derive(Debug)]
struct Connection {
    id: usize,
    queries: u32,
}

impl Connection {
    fn open(id: usize) -> Connection {
        Connection { id, queries: 0 }
    }

    fn execute(&mut self, _sql: &str) {
        thread::sleep(Duration::from_micros(200)); // the database's work, simulated
        self.queries += 1;
    }

    fn close(self, why: &str) {
        println!(
            "     connection {} closed ({why}) after {} queries",
            self.id, self.queries
        );
    }
}

/// Why [`Pool::get`] gave no connection.
#[derive(Debug, PartialEq, Eq)]
enum PoolError {
    /// Every connection stayed lent out for the whole timeout.
    Exhausted(Duration),
    /// The pool is shut down.
    ShutDown,
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PoolError::Exhausted(timeout) => {
                write!(
                    f,
                    "pool exhausted: no connection came back within {timeout:?}"
                )
            }
            PoolError::ShutDown => f.write_str("the pool is shut down"),
        }
    }
}

impl std::error::Error for PoolError {}

struct Pool {
    idle: BoundedQueue<Connection>,
}

impl Pool {
    /// Opens `size` connections.
    fn new(size: usize) -> Pool {
        let idle = BoundedQueue::new(size);
        for id in 1..=size {
            idle.try_put(Connection::open(id))
                .expect("room for every connection");
        }
        Pool { idle }
    }

    /// Borrows an idle connection, waiting at most `timeout` for one.
    fn get(&self, timeout: Duration) -> Result<PooledConnection<'_>, PoolError> {
        match self.idle.get_for(timeout) {
            Ok(connection) => Ok(PooledConnection {
                pool: self,
                connection: Some(connection),
            }),
            Err(GetTimeoutError::Timeout) => Err(PoolError::Exhausted(timeout)),
            Err(GetTimeoutError::Closed) => Err(PoolError::ShutDown),
        }
    }

    /// Closes the pool and every idle connection; connections still lent out
    /// are closed as they come back.
    fn shut_down(&self) {
        for connection in self.idle.close_and_take() {
            connection.close("idle at shutdown");
        }
    }
}

/// A borrowed connection; dropping it gives the connection back.
#[must_use = "dropping the guard gives the connection back at once"]
struct PooledConnection<'a> {
    pool: &'a Pool,
    connection: Option<Connection>, // `None` only inside `drop`
}

impl Deref for PooledConnection<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.connection.as_ref().expect("taken only in drop")
    }
}

impl DerefMut for PooledConnection<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.connection.as_mut().expect("taken only in drop")
    }
}

impl Drop for PooledConnection<'_> {
    fn drop(&mut self) {
        let connection = self.connection.take().expect("dropped once");
        // Never waits: there is a free slot for every connection lent out.
        if let Err(Closed(connection)) = self.pool.idle.put(connection) {
            connection.close("returned after shutdown");
        }
    }
}

fn main() {
    const SIZE: usize = 2;
    const WORKERS: u32 = 4;
    const QUERIES: u32 = 3;
    let pool = Pool::new(SIZE);
    println!("A pool of {SIZE} connections on a BoundedQueue<Connection>\n");

    println!("1. {WORKERS} workers run {QUERIES} queries each, borrowing a connection per query");
    thread::scope(|s| {
        for worker in 0..WORKERS {
            let pool = &pool;
            s.spawn(move || {
                for n in 0..QUERIES {
                    let mut connection = pool.get(Duration::from_secs(5)).expect("served");
                    connection.execute(&format!(
                        "UPDATE jobs SET done = {n} WHERE worker = {worker}"
                    ));
                } // the guard gives the connection back here
            });
        }
    });
    // A look at the idle connections: take them all without waiting, put them back.
    let mut idle: Vec<Connection> = pool.idle.try_iter().collect();
    idle.sort_by_key(|connection| connection.id);
    let served: u32 = idle.iter().map(|connection| connection.queries).sum();
    assert_eq!(idle.len(), SIZE);
    assert_eq!(served, WORKERS * QUERIES);
    let split: Vec<String> = idle
        .iter()
        .map(|connection| format!("{} on connection {}", connection.queries, connection.id))
        .collect();
    println!(
        "   → BoundedQueue::get_for() to borrow, put() when the guard drops: {served} queries \
         ({}), every connection back idle\n",
        split.join(", ")
    );
    for connection in idle {
        pool.idle
            .try_put(connection)
            .expect("room for every connection");
    }

    println!("2. Every connection lent out: what the next caller sees");
    let first = pool.get(Duration::ZERO).expect("idle");
    let second = pool.get(Duration::ZERO).expect("idle");
    let refused = pool.get(Duration::from_millis(20)).map(|_| ()).unwrap_err();
    assert_eq!(refused, PoolError::Exhausted(Duration::from_millis(20)));
    println!("   → get_for(20 ms) returned GetTimeoutError::Timeout: {refused}");
    let returned = first.id;
    let waiter = thread::scope(|s| {
        let waiter = s.spawn(|| pool.get(Duration::from_secs(5)).map(|c| c.id));
        drop(first); // returned while the waiter may already be parked in get_for
        waiter.join().unwrap()
    });
    assert_eq!(waiter, Ok(returned));
    println!(
        "   → a caller waiting in get_for(5 s) got connection {returned} as soon as it came back\n"
    );
    drop(second);

    println!("3. Shutdown while a worker still holds a connection");
    let (holding, finish) = (Event::new(), Event::new());
    thread::scope(|s| {
        s.spawn(|| {
            let mut connection = pool.get(Duration::from_secs(5)).expect("served");
            connection.execute("SELECT 1");
            holding.set();
            finish.wait(); // a long transaction, still running at shutdown
            connection.execute("COMMIT");
        }); // the guard's put fails with Closed(connection): it is closed here
        holding.wait();
        println!("   → BoundedQueue::close_and_take() hands back the idle connections:");
        pool.shut_down();
        let late = pool.get(Duration::from_secs(5)).map(|_| ()).unwrap_err();
        assert_eq!(late, PoolError::ShutDown);
        println!("   → get_for(5 s) after shutdown: GetTimeoutError::Closed at once: {late}");
        println!("   → the worker finishes; its guard's put() returns Err(Closed(connection)):");
        finish.set();
    });
    assert!(pool.idle.is_empty() && pool.idle.is_closed());
    println!("\nPool shut down: every connection closed once.");
}
