//! Requests answered on their connection's own thread (patched in by keystroke-workbench, see
//! PATCHES.md).
//!
//! With a queue, each request crosses threads twice — the connection thread hands it to a
//! worker, the worker hands the answer back — which costs two wake-ups per request. A server
//! built with a [`Handler`] instead calls it on the connection's thread, once the request has
//! been received whole, and at most `max_at_once` of them at a time (so a burst of slow
//! requests on many connections cannot run more than that many handlers together).

use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use crate::Request;

/// Answers one request (by `Request::respond`; a request dropped unanswered gets a 500).
pub type Handler = Arc<dyn Fn(Request) + Send + Sync>;

/// The handler and the places to run it.
pub(crate) struct Handling {
    handler: Handler,
    free: Mutex<usize>,
    freed: Condvar,
}

impl Handling {
    pub(crate) fn new(handler: Handler, max_at_once: usize) -> Handling {
        Handling {
            handler,
            free: Mutex::new(max_at_once.max(1)),
            freed: Condvar::new(),
        }
    }

    /// Runs the handler on `request` once a place is free. A panicking handler answers 500
    /// (the request is dropped unanswered) and leaves the server running.
    pub(crate) fn run(&self, request: Request) {
        let _place = self.take_place();
        if panic::catch_unwind(AssertUnwindSafe(|| (self.handler)(request))).is_err() {
            log::error!("a request handler panicked; the request was answered 500");
        }
    }

    fn take_place(&self) -> Place<'_> {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(PoisonError::into_inner);
        }
        *free -= 1;
        Place(self)
    }
}

/// A place taken; given back when dropped.
struct Place<'a>(&'a Handling);

impl Drop for Place<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        self.0.freed.notify_one();
    }
}
