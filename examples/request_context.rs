//! Flask's request context and `g.conn` on threadkit: a `LocalStack` holds each
//! thread's current request, a `Local` each thread's database connection, opened
//! on first use.
//!
//! Flask's development server (`app.run(threaded=True)`) runs every request on a
//! thread of its own. Before calling the view, Flask pushes a request context on
//! a werkzeug `LocalStack`, and `flask.request`, anywhere in the call stack, is
//! the top of that stack for the current thread (the seeds' article on
//! werkzeug's `Local` and `LocalStack`). The seeds' answer on per-request
//! connections keeps one on `g`, opened on first use by
//! `if "conn" not in g: g.conn = make_connection()` and closed in
//! `teardown_request`. Here:
//!
//! - **The request context.** `serve`, on the request's thread, pushes the
//!   request with `LocalStack::push_scoped` and calls the view. The view calls a
//!   service, the service calls the `query` helper, and none of them is passed
//!   the request: they read it with `LocalStack::top` (Flask's `request`) or
//!   borrow it with `LocalStack::with_top`. Four requests are in flight at once,
//!   and each thread sees its own.
//! - **`g.conn`.** `query` gets the thread's connection with `Local::get_or`,
//!   which opens it on the request's first query and returns the same one
//!   afterwards; a request that runs no query opens none.
//! - **Teardown.** A connection is closed (its `Drop`) when its thread exits,
//!   before that thread's [`JoinHandle::join`](std::thread::JoinHandle::join)
//!   returns: the server checks it after every join, and at the end that as many
//!   connections were closed as opened. (Join explicitly: the implicit join at
//!   the end of `std::thread::scope` may return before the threads' thread-local
//!   destructors ran.)
//! - **A view that panics.** The guard of `push_scoped` pops the context while
//!   the panic unwinds; the server turns the panic into a 500, as Flask turns an
//!   exception into one, and the connection is closed like the others.
//!
//! One thread per request makes thread exit the end of the request. A server
//! that reuses threads would keep a thread's connection from one request to the
//! next: close it at the end of each request instead, for example by taking it
//! out of a `Local<RefCell<Option<Connection>>>` (Flask's `g.pop("conn")`).
//!
//! Run with `cargo run --release --example request_context`; it takes a few
//! milliseconds. The requests run at once, so each thread logs what happens and
//! the log is printed by request once every thread has been joined.
//!
//! Under `--cfg loom` (threadkit's model-checking build) constructors are not
//! `const` and a `static` cannot hold a threadkit object: there this example is
//! an empty program.

fn main() {
    #[cfg(not(loom))]
    server::run();
}

#[cfg(not(loom))]
mod server {
    use std::cell::Cell;
    use std::panic::{self, AssertUnwindSafe};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::thread;

    use threadkit::{Barrier, Local, LocalRef, LocalStack, Lock};

    /// What Flask's request context holds, as far as the views care.
    #[derive(Clone, Debug)]
    struct RequestContext {
        id: u32,
        path: String,
        user: Option<String>,
    }

    /// werkzeug's `_request_ctx_stack`: each thread's current request.
    static REQUEST: LocalStack<RequestContext> = LocalStack::new();

    /// `g.conn`: each thread's database connection, opened on first use.
    static CONN: Local<Connection> = Local::new();

    static OPENED: AtomicUsize = AtomicUsize::new(0);
    static CLOSED: AtomicUsize = AtomicUsize::new(0);
    /// The requests whose connection is open.
    static OPEN: Lock<Vec<u32>> = Lock::new(Vec::new());
    /// What happened, by request id.
    static LOG: Lock<Vec<(u32, String)>> = Lock::new(Vec::new());

    fn log(request: u32, line: impl Into<String>) {
        LOG.lock().push((request, line.into()));
    }

    /// A database connection: opening and closing are what the example counts.
    struct Connection {
        request: u32,
        queries: Cell<u32>,
    }

    impl Connection {
        fn open() -> Connection {
            let request = current_request().id;
            OPENED.fetch_add(1, Ordering::SeqCst);
            OPEN.lock().push(request);
            log(request, "   connection opened (the request's first query)");
            Connection {
                request,
                queries: Cell::new(0),
            }
        }
    }

    impl Drop for Connection {
        /// Runs when the thread exits (threadkit drops the thread's `Local` values).
        fn drop(&mut self) {
            OPEN.lock().retain(|&request| request != self.request);
            CLOSED.fetch_add(1, Ordering::SeqCst);
            let queries = match self.queries.get() {
                1 => "1 query".to_owned(),
                n => format!("{n} queries"),
            };
            log(
                self.request,
                format!("   connection closed after {queries}: its thread exited"),
            );
        }
    }

    /// Flask's `request`: the top of this thread's stack.
    fn current_request() -> RequestContext {
        REQUEST.top().expect("working outside of request context")
    }

    /// The seeds' `get_conn()`: `if "conn" not in g: g.conn = make_connection()`.
    fn get_conn() -> LocalRef<'static, Connection> {
        CONN.get_or(Connection::open)
    }

    /// The database helper, at the bottom of the call stack: it reads the user
    /// from the request context and runs the query on the request's connection.
    fn query(table: &str) -> usize {
        let conn = get_conn();
        conn.queries.set(conn.queries.get() + 1);
        REQUEST.with_top(|request| {
            let request = request.expect("working outside of request context");
            // Four requests are in flight, and this thread sees its own.
            let thread = format!("request-{}", request.id);
            assert_eq!(thread::current().name(), Some(thread.as_str()));
            let user = request.user.as_deref().unwrap_or("");
            log(
                request.id,
                format!("   SELECT * FROM {table} WHERE user = '{user}'"),
            );
            match (table, user) {
                ("orders", "alice") => 3,
                ("invoices", "alice") => 2,
                ("sessions", "bob") => 2,
                _ => 0,
            }
        })
    }

    /// The service layer, between the views and the database.
    fn order_summary() -> (usize, usize) {
        (query("orders"), query("invoices"))
    }

    fn active_sessions() -> usize {
        query("sessions")
    }

    /// The view: dispatches on the path of the current request.
    fn view() -> String {
        match current_request().path.as_str() {
            "/orders" => {
                let (orders, invoices) = order_summary();
                format!("{orders} orders, {invoices} invoices")
            }
            "/profile" => format!("{} sessions", active_sessions()),
            "/report" => {
                query("sales");
                panic!("report template missing");
            }
            _ => "ok".to_owned(),
        }
    }

    /// The server's work on the request's thread: push the context, run the view,
    /// answer 500 if it panics (Flask's `full_dispatch_request`).
    fn serve(request: RequestContext, in_flight: &Barrier) -> u16 {
        let id = request.id;
        let user = request.user.as_deref().unwrap_or("anonymous");
        log(id, format!("#{id} GET {} as {user}", request.path));
        let response = panic::catch_unwind(AssertUnwindSafe(|| {
            let _context = REQUEST.push_scoped(request);
            in_flight.wait().expect("nobody breaks it"); // every request is in flight
            view()
        }));
        // Whatever the view did, its context is gone: the guard popped it, also
        // while the panic unwound.
        assert!(REQUEST.is_empty());
        match response {
            Ok(body) => {
                log(id, format!("   200 OK: {body}"));
                200
            }
            Err(panic) => {
                let message = panic.downcast_ref::<&str>().copied().unwrap_or("?");
                log(
                    id,
                    format!(
                        "   500: the view panicked ({message}); the unwinding popped its context"
                    ),
                );
                500
            }
        }
    }

    pub fn run() {
        let requests = [
            (1, "/orders", Some("alice")),
            (2, "/health", None),
            (3, "/profile", Some("bob")),
            (4, "/report", Some("carol")),
        ];
        println!(
            "{} requests, one thread each (Flask's development server), all in flight at once.\n\
             Each pushes its context with REQUEST.push_scoped(); the db helper, three calls deep,\n\
             reads it with REQUEST.with_top() and gets the connection with CONN.get_or(open).\n",
            requests.len()
        );
        // The report's panic becomes a 500 (below): keep its message out of the output.
        let default_hook = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() != Some(&"report template missing") {
                default_hook(info);
            }
        }));

        let in_flight = Arc::new(Barrier::new(requests.len()));
        let threads: Vec<_> = requests
            .into_iter()
            .map(|(id, path, user)| {
                let request = RequestContext {
                    id,
                    path: path.to_owned(),
                    user: user.map(str::to_owned),
                };
                let in_flight = Arc::clone(&in_flight);
                let thread = thread::Builder::new()
                    .name(format!("request-{id}"))
                    .spawn(move || serve(request, &in_flight))
                    .expect("spawn a request thread");
                (id, thread)
            })
            .collect();
        let mut statuses = Vec::new();
        for (id, thread) in threads {
            statuses.push(thread.join().expect("serve turns a panic into a 500"));
            // The thread has exited, and its connection went with it.
            assert!(
                !OPEN.lock().contains(&id),
                "request {id}'s connection outlived its thread"
            );
        }

        let mut log = LOG.lock().clone();
        log.sort_by_key(|(request, _)| *request); // stable: each request's lines keep their order
        for (_, line) in &log {
            println!("{line}");
        }
        assert_eq!(statuses, [200, 200, 200, 500]);
        assert!(REQUEST.top().is_none()); // the main thread is outside any request

        let (opened, closed) = (OPENED.load(Ordering::SeqCst), CLOSED.load(Ordering::SeqCst));
        assert_eq!((opened, closed), (3, 3));
        println!(
            "\n{opened} connections opened (none for /health), {closed} closed, each before its \
             thread's\nJoinHandle::join() returned: none outlived its thread."
        );
    }
}
