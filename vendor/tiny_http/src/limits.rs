//! Patched in (keystroke-workbench, see PATCHES.md): what one connection may cost the server.

use std::time::Duration;

/// Bounds on connections, enforced by the connection's own thread so that no client can hold a
/// worker: a request reaches the queue only once its head and body have been received, and a
/// worker's answer is written to the socket by the connection thread, not the worker.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Open connections at most; a connection beyond them is answered 503 with `busy_body`
    /// and closed at once.
    pub max_connections: usize,
    /// A keep-alive connection with no new request for this long is closed.
    pub idle_timeout: Duration,
    /// Time allowed to receive one request — request line, headers and body — once its first
    /// byte has arrived; a request still incomplete then is refused as timed out.
    pub request_timeout: Duration,
    /// Time allowed for the client to take one answer; a client that does not read its
    /// answers is dropped after it.
    pub write_timeout: Duration,
    /// Largest body read (whatever its framing); a larger one is refused unread.
    pub max_body_bytes: usize,
    /// Requests served on one connection before it is closed (bounds pipelining and keeps a
    /// connection from being held forever).
    pub max_requests_per_connection: usize,
    /// The JSON body of the 503 sent to a connection over `max_connections`.
    pub busy_body: Vec<u8>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            idle_timeout: Duration::from_secs(20),
            request_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            max_body_bytes: 64 * 1024,
            max_requests_per_connection: 1000,
            busy_body: br#"{"error": "the server is busy: too many open connections"}"#.to_vec(),
        }
    }
}

/// Why a request was handed to the workers without its body: the worker answers with the
/// matching error and the connection is closed after the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The body is larger than [`Limits::max_body_bytes`] (declared or while reading).
    TooLarge,
    /// The request was not received within [`Limits::request_timeout`].
    TimedOut,
    /// The body's framing is broken (bad chunk, connection closed early, bad `Content-Length`).
    Malformed,
    /// `Connection: upgrade` (protocol switching is not supported).
    Upgrade,
}
