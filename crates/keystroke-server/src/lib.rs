//! Keystroke Workbench's embedded HTTP server: the REST API of `spec/api.md` ([`api`], plain
//! functions over the core's store and verification path) and the transport, tiny_http in front
//! of it (this module), with TLS. It depends on `keystroke-core`; nothing in the core depends on
//! it.
//!
//! The transport: tiny_http in front of [`api`]. Each connection has its own thread,
//! which receives a request whole (bounded in size and time), calls [`Api::handle`] and writes
//! the JSON answer — at most [`ServerConfig::workers`] requests at a time — so a slow client or
//! a slow /train on one connection never holds up a /predict on another, and a request costs
//! no hand-off between threads.

pub mod api;
mod fd_limit;
mod listener;
pub mod page;
mod stats;
mod tls;
mod urls;

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use chrono::Local;
use thiserror::Error;

use crate::api::{Api, Request, Response};
pub use stats::{Counts, RECENT_REQUESTS, RequestRecord, ServerStats};
pub use tls::{SelfSigned, TlsError, TlsFiles, self_signed};
pub use urls::{lan_ips, reachable_urls};

/// How long a stopping server waits for requests still being received.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How often failed-attempt counts are written in the background (the bound is
/// 100 ms; a lockout itself is written at once).
const THROTTLE_FLUSH: Duration = Duration::from_millis(50);

/// Largest request body accepted (413 above).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Transport settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Address to listen on (`0.0.0.0` = every interface).
    pub host: String,
    /// Port (0 = any free port).
    pub port: u16,
    /// Requests answered at a time (each on its connection's thread); more wait for a place.
    pub workers: usize,
    /// Open connections at most (`None`: derived from the open-file limit); one more is
    /// answered 503 and closed.
    pub max_connections: Option<usize>,
    /// A keep-alive connection with no new request for this long is closed.
    pub idle_timeout: Duration,
    /// Time for one request — head and body — to arrive once it has started (408 after it).
    pub request_timeout: Duration,
    /// Time for the client to take an answer; a client that does not read is dropped.
    pub write_timeout: Duration,
    /// Serve HTTPS with this certificate and key instead of HTTP.
    pub tls: Option<TlsFiles>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            host: "0.0.0.0".into(),
            port: 5000,
            workers: default_workers(),
            max_connections: None,
            idle_timeout: Duration::from_secs(20),
            request_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            tls: None,
        }
    }
}

/// Requests answered at a time by default: 16 per core, at least 32. Far more than the cores,
/// since a request spends much of its time waiting for the disk (a /train for its fsyncs, which
/// group commit shares between the requests waiting together); still a bound on the memory and
/// threads that a burst of requests on many connections can take.
pub fn default_workers() -> usize {
    thread::available_parallelism().map_or(32, |n| (16 * n.get()).max(32))
}

/// The server could not start.
#[derive(Debug, Error)]
pub enum ServerError {
    /// Binding the address failed.
    #[error("cannot listen on {host}:{port}: {source}")]
    Bind {
        /// Host.
        host: String,
        /// Port.
        port: u16,
        /// Cause.
        source: io::Error,
    },
    /// The TLS certificate or key.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// Another start-up failure.
    #[error("cannot start the HTTP server: {0}")]
    Start(String),
}

/// A running server. Stopping (explicitly or by dropping the handle) finishes the requests
/// already received, then closes the port.
#[must_use = "dropping the handle stops the server"]
pub struct ServerHandle {
    api: Arc<Api>,
    addr: SocketAddr,
    tls: bool,
    /// `None` once stopped.
    http: Option<tiny_http::Server>,
    flusher: Option<JoinHandle<()>>,
    stopping: Arc<AtomicBool>,
    stats: Arc<ServerStats>,
    max_connections: usize,
}

impl ServerConfig {
    /// What each connection may cost, for the patched tiny_http.
    fn limits(&self, max_connections: usize) -> tiny_http::Limits {
        tiny_http::Limits {
            max_connections,
            idle_timeout: self.idle_timeout,
            request_timeout: self.request_timeout,
            write_timeout: self.write_timeout,
            max_body_bytes: MAX_BODY_BYTES,
            busy_body: Response::error(503, "the server is busy: too many open connections")
                .body_bytes(),
            ..tiny_http::Limits::default()
        }
    }
}

impl ServerHandle {
    /// Starts serving `api` (whose store the caller may share) on `config.host:config.port`.
    pub fn start(api: Arc<Api>, config: &ServerConfig) -> Result<ServerHandle, ServerError> {
        let ssl = config.tls.as_ref().map(TlsFiles::load).transpose()?;
        let open_files = fd_limit::raise_open_files_limit();
        let max_connections = config
            .max_connections
            .unwrap_or_else(|| fd_limit::default_max_connections(open_files));
        let socket =
            listener::bind(&config.host, config.port).map_err(|source| ServerError::Bind {
                host: config.host.clone(),
                port: config.port,
                source,
            })?;
        let addr = socket
            .local_addr()
            .map_err(|e| ServerError::Start(e.to_string()))?;
        let limits = config.limits(max_connections);
        let stats = Arc::new(ServerStats::default());
        let handler: tiny_http::Handler = {
            let api = Arc::clone(&api);
            let stats = Arc::clone(&stats);
            Arc::new(move |request| serve(&api, &stats, request))
        };
        let http = tiny_http::Server::from_listener_with_handler(
            socket,
            ssl,
            limits,
            handler,
            config.workers,
        )
        .map_err(|e| match &config.tls {
            Some(files) => ServerError::Tls(files.invalid(e.to_string())),
            None => ServerError::Start(e.to_string()),
        })?;
        let stopping = Arc::new(AtomicBool::new(false));
        let flusher = {
            let stopping = Arc::clone(&stopping);
            let api = Arc::clone(&api);
            thread::Builder::new()
                .name("throttle-flush".into())
                .spawn(move || flush_throttle_until(&api, &stopping))
                .map_err(|e| ServerError::Start(format!("cannot start the flush thread: {e}")))?
        };
        Ok(ServerHandle {
            api,
            addr,
            tls: config.tls.is_some(),
            http: Some(http),
            flusher: Some(flusher),
            stopping,
            stats,
            max_connections,
        })
    }

    /// The API it serves.
    pub fn api(&self) -> &Arc<Api> {
        &self.api
    }

    /// The bound address (with the real port when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URLs clients can use: loopback and each LAN address for a wildcard host.
    pub fn urls(&self) -> Vec<String> {
        reachable_urls(self.addr, if self.tls { "https" } else { "http" })
    }

    /// Counters and recent requests.
    pub fn stats(&self) -> &Arc<ServerStats> {
        &self.stats
    }

    /// The connection cap in force.
    pub fn max_connections(&self) -> usize {
        self.max_connections
    }

    /// Open client connections.
    pub fn open_connections(&self) -> usize {
        self.http.as_ref().map_or(0, |h| h.open_connections())
    }

    /// False once the listening socket has failed for good (a transient accept error never
    /// clears it): the process should exit so a supervisor restarts it.
    pub fn is_listening(&self) -> bool {
        self.http.as_ref().is_some_and(|h| h.is_listening())
    }

    /// Stops: takes no new request, finishes those already received (waiting up to
    /// [`SHUTDOWN_GRACE`] for one still arriving), writes the last failed-attempt counts,
    /// closes the port.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let Some(http) = self.http.take() else {
            return;
        };
        http.stop_taking_requests();
        let deadline = Instant::now() + SHUTDOWN_GRACE;
        while http.requests_being_read() > 0 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        self.stopping.store(true, Ordering::SeqCst);
        if let Some(flusher) = self.flusher.take()
            && flusher.join().is_err()
        {
            log::error!("the throttle flush thread panicked");
        }
        // tiny_http's accept thread closes the port a moment after this.
        drop(http);
        wait_until_closed(self.addr);
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Waits (up to a second) until nothing accepts connections on `addr` any more, so a stopped
/// server's port is free when `stop` returns.
fn wait_until_closed(addr: SocketAddr) {
    let mut probe = addr;
    if probe.ip().is_unspecified() {
        probe.set_ip(if addr.is_ipv4() {
            Ipv4Addr::LOCALHOST.into()
        } else {
            Ipv6Addr::LOCALHOST.into()
        });
    }
    let deadline = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline
        && TcpStream::connect_timeout(&probe, Duration::from_millis(100)).is_ok()
    {
        thread::sleep(Duration::from_millis(1));
    }
}

/// Writes changed failed-attempt counts every [`THROTTLE_FLUSH`] until the server stops, then
/// once more. A failure is logged by the API, which refuses attempts until a flush succeeds.
fn flush_throttle_until(api: &Api, stopping: &AtomicBool) {
    loop {
        let stop = stopping.load(Ordering::SeqCst);
        // Errors are logged and answered (503) by the API; the next round retries.
        let _ = api.flush_throttle();
        if stop {
            return;
        }
        thread::sleep(THROTTLE_FLUSH);
    }
}

/// Answers one request and records it.
fn serve(api: &Api, stats: &ServerStats, mut request: tiny_http::Request) {
    let started = Instant::now();
    let arrived = Local::now().naive_local();
    let method = request.method().as_str().to_string();
    let target = request.url().to_string();
    let client = request.remote_addr().map(|a| a.ip().to_string());
    let response = match read_body(&mut request) {
        Ok(body) => {
            let header = |name: &'static str| {
                request
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv(name))
                    .map(|h| h.value.as_str())
            };
            let request = Request {
                method: &method,
                target: &target,
                body: &body,
                authorization: header("Authorization"),
                origin: header("Origin"),
                host: header("Host"),
                enrolment_code: header("X-Enrolment-Code"),
                client: client.as_deref(),
            };
            // A bug must still get a JSON answer (the contract's errors all have one).
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                api.handle(&request, arrived)
            }))
            .unwrap_or_else(|_| Response::error(500, "internal error: the request failed"))
        }
        Err(refused) => refused,
    };
    let status = response.status;
    let user = response.user.clone();
    if status >= 500
        && let Some(message) = response.body.get("error")
    {
        log::error!("{method} {} failed: {message}", loggable(&target));
    }
    if let Err(e) = request.respond(encode(&response)) {
        log::debug!(
            "{method} {}: cannot write the answer: {e}",
            loggable(&target)
        );
    }
    let latency = started.elapsed();
    let path = loggable(&target);
    log::info!(
        target: "http",
        "{method} {path} {status} {:.2}ms user={}",
        latency.as_secs_f64() * 1e3,
        user.as_ref().map_or("-", |u| u.as_str())
    );
    stats.record(RequestRecord {
        at: arrived,
        method,
        path,
        status,
        latency,
        user,
    });
}

/// The request body, which the connection has already received; or the answer to a request
/// whose body it refused.
fn read_body(request: &mut tiny_http::Request) -> Result<Vec<u8>, Response> {
    use tiny_http::Refusal;
    match request.refusal() {
        None => {}
        Some(Refusal::TooLarge) => {
            return Err(Response::error(
                413,
                format!("request body is larger than {MAX_BODY_BYTES} bytes"),
            ));
        }
        Some(Refusal::TimedOut) => {
            return Err(Response::error(408, "request body did not arrive in time"));
        }
        Some(Refusal::Malformed) => {
            return Err(Response::error(
                400,
                "cannot read request body: its length or chunked framing is broken",
            ));
        }
        Some(Refusal::Upgrade) => {
            return Err(Response::error(
                400,
                "Connection: upgrade is not supported: send plain HTTP/1.1 requests",
            ));
        }
    }
    let mut body = Vec::with_capacity(request.body_length().unwrap_or(0));
    request
        .as_reader()
        .read_to_end(&mut body)
        .map_err(|e| Response::error(400, format!("cannot read request body: {e}")))?;
    Ok(body)
}

fn encode(response: &Response) -> tiny_http::Response<io::Cursor<Vec<u8>>> {
    let header = |name: &str, value: &str| {
        tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes())
            .expect("header names and values are ASCII")
    };
    response.headers.iter().fold(
        tiny_http::Response::from_data(response.body_bytes())
            .with_status_code(response.status)
            .with_header(header("Content-Type", response.content_type())),
        |r, (name, value)| r.with_header(header(name, value)),
    )
}

/// The path without its query, shortened, for the log (queries may carry anything).
fn loggable(target: &str) -> String {
    crate::api::target_path(target)
        .chars()
        .take(160)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}
