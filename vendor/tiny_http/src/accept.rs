//! The accept loop (patched in by keystroke-workbench, see PATCHES.md).
//!
//! The published loop ended on the first accept error, so a listener whose `accept()` timed
//! out (timeouts set on the listening socket), or a moment without file handles, left the
//! process alive and deaf for good. This one survives every transient error — logged once per
//! burst, with a short back-off — and ends only when the listening socket itself is broken,
//! which the server reports through `Server::is_listening`. It also bounds the open
//! connections: one over the limit is answered 503 and closed.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crate::client::{self, Shared};
use crate::connection::{Connection, Listener};
use crate::util::refined_tcp_stream::Stream;
use crate::util::TaskPool;
use crate::Message;

#[cfg(not(any(feature = "ssl-openssl", feature = "ssl-rustls")))]
pub(crate) type SslContext = ();
#[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
pub(crate) type SslContext = crate::ssl::SslContextImpl;

/// First pause after a failed accept; it doubles while the failures go on.
const FIRST_BACKOFF: Duration = Duration::from_millis(5);

/// Longest pause between accept attempts.
const MAX_BACKOFF: Duration = Duration::from_millis(200);

/// Connections over the limit whose 503 is being delivered at once; beyond these, one is
/// closed with its 503 written but without lingering.
const MAX_REFUSING: usize = 64;

pub(crate) struct AcceptLoop {
    pub listener: Listener,
    pub ssl: Option<SslContext>,
    pub shared: Shared,
    /// Open connections (each counted until its thread ends).
    pub open: Arc<AtomicUsize>,
    /// Cleared when the listening socket fails for good.
    pub listening: Arc<AtomicBool>,
}

/// Counts one unit of `counter` while it lives.
struct Counted(Arc<AtomicUsize>);

impl Counted {
    fn new(counter: &Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Counted(Arc::clone(counter))
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// An accept error that goes away by itself: out of file handles or buffers, a signal, or a
/// connection that failed before it was taken (Linux passes pending network errors of the new
/// socket to `accept()`). Anything else means the listening socket is unusable.
pub(crate) fn is_transient(error: &io::Error) -> bool {
    #[cfg(unix)]
    if let Some(code) = error.raw_os_error() {
        return !matches!(
            code,
            libc::EBADF | libc::EINVAL | libc::ENOTSOCK | libc::EFAULT
        );
    }
    !matches!(error.kind(), io::ErrorKind::InvalidInput)
}

impl AcceptLoop {
    pub(crate) fn run(self) {
        let pool = TaskPool::new();
        let refusing = Arc::new(AtomicUsize::new(0));
        let mut backoff = FIRST_BACKOFF;
        let mut failures = 0u64;
        log::debug!("Running accept thread");
        while !self.shared.close.load(Ordering::Relaxed) {
            let (connection, remote_addr) = match self.listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if is_transient(&e) => {
                    if failures == 0 {
                        log::warn!("cannot accept a connection: {e}; retrying");
                    }
                    failures += 1;
                    thread::sleep(backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
                Err(e) => {
                    log::error!("the listening socket failed, no more connections: {e}");
                    self.listening.store(false, Ordering::SeqCst);
                    self.shared.messages.push(Message::Error(e));
                    break;
                }
            };
            if failures > 0 {
                log::warn!("accepting connections again after {failures} failed attempt(s)");
                failures = 0;
                backoff = FIRST_BACKOFF;
            }
            if self.shared.close.load(Ordering::Relaxed) {
                break;
            }
            connection.set_nodelay();
            if self.open.load(Ordering::SeqCst) >= self.shared.limits.max_connections {
                self.refuse(&pool, &refusing, connection);
                continue;
            }
            let counted = Counted::new(&self.open);
            let Some(stream) = self.secure(connection) else {
                continue;
            };
            let secure = self.ssl.is_some();
            let shared = self.shared.clone();
            let mut task = Some((counted, stream));
            let spawned = pool.spawn(Box::new(move || {
                if let Some((_counted, stream)) = task.take() {
                    client::serve(stream, remote_addr, secure, &shared);
                }
            }));
            if let Err(e) = spawned {
                log::warn!("cannot start a thread for a connection, closing it: {e}");
            }
        }
        log::debug!("Terminating accept thread");
    }

    /// The connection's stream, through TLS when the server has it (the handshake itself
    /// happens on the connection's thread, at its first read).
    fn secure(&self, connection: Connection) -> Option<Stream> {
        match &self.ssl {
            None => Some(Stream::from(connection)),
            #[cfg(any(feature = "ssl-openssl", feature = "ssl-rustls"))]
            Some(ssl) => match ssl.accept(connection) {
                Ok(stream) => Some(stream.into()),
                Err(e) => {
                    log::debug!("cannot start TLS on a connection: {e}");
                    None
                }
            },
            #[cfg(not(any(feature = "ssl-openssl", feature = "ssl-rustls")))]
            Some(()) => Some(Stream::from(connection)),
        }
    }

    /// Answers a connection over the limit 503 and closes it, on a thread of its own while
    /// few are doing so (so the answer can linger), else at once.
    fn refuse(&self, pool: &TaskPool, refusing: &Arc<AtomicUsize>, connection: Connection) {
        let Some(stream) = self.secure(connection) else {
            return;
        };
        let limits = Arc::clone(&self.shared.limits);
        if refusing.load(Ordering::SeqCst) >= MAX_REFUSING {
            client::refuse_busy(stream, &limits, false);
            return;
        }
        let counted = Counted::new(refusing);
        let mut task = Some((counted, stream));
        let spawned = pool.spawn(Box::new(move || {
            if let Some((_counted, stream)) = task.take() {
                client::refuse_busy(stream, &limits, true);
            }
        }));
        if let Err(e) = spawned {
            log::warn!("cannot start a thread to refuse a connection: {e}");
        }
    }
}
