//! One client connection, from its first byte to its close.
//!
//! Rewritten by keystroke-workbench (see PATCHES.md). The published `ClientConnection` read a
//! body on the worker that handled the request and wrote the answer from that worker, so a
//! client sending slowly (chunked, `Expect: 100-continue`, `Connection: upgrade`) or never
//! reading its answers held a worker for the whole socket timeout. Here the connection's own
//! thread does all of its I/O: it waits for a request (closing an idle keep-alive connection),
//! receives its head and body within one deadline, answers it with the server's handler (see
//! `handler.rs`) or queues it and waits for a worker's answer (written into memory either
//! way), and writes that answer within another deadline. One request per connection is in
//! flight at a time, so pipelining is bounded too.

use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chunked_transfer::Decoder;

use crate::common::{HTTPVersion, Header, Method};
use crate::handler::Handling;
use crate::limits::{Limits, Refusal};
use crate::util::refined_tcp_stream::Stream;
use crate::util::MessagesQueue;
use crate::{Message, Request};

/// Longest request or header line accepted, in bytes.
const MAX_HEADER_LINE: usize = 8192;

/// Most headers accepted in one request.
const MAX_HEADERS: usize = 100;

/// How often a connection waiting for its next request checks whether the server is closing.
const CLOSE_POLL: Duration = Duration::from_millis(500);

/// How long a connection closed with unread data from the client keeps reading (and dropping)
/// it, so the answer already sent is not destroyed by a reset.
const LINGER: Duration = Duration::from_secs(2);

/// The most a lingering close reads.
const LINGER_BYTES: u64 = 1 << 20;

/// What every connection thread shares with the server.
#[derive(Clone)]
pub(crate) struct Shared {
    pub limits: Arc<Limits>,
    pub messages: Arc<MessagesQueue<Message>>,
    /// Requests whose first byte has arrived but which are not queued (or, with a handler,
    /// not answered) yet.
    pub reading: Arc<AtomicUsize>,
    /// Set when the server is dropped.
    pub close: Arc<AtomicBool>,
    /// Answers requests on this thread, when set; else they are queued for the workers.
    pub handling: Option<Arc<Handling>>,
}

/// Counts a request as being read while it lives; dropped once the request is queued (or
/// answered by the handler), so a stopping server never sees a moment where a request is
/// neither being read nor queued.
struct Reading(Arc<AtomicUsize>);

impl Reading {
    fn start(counter: &Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Reading(Arc::clone(counter))
    }
}

impl Drop for Reading {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The socket with one deadline for every read and write: no call may block past it (give or
/// take [`TIMEOUT_SLACK`]), and none starts after it, so a client trickling one byte at a time
/// cannot stretch a request past it. The socket timeouts are set only when the one already set
/// could overshoot the deadline — a call that times out early is retried with the time left —
/// so a request usually costs no `setsockopt` at all.
struct Timed {
    stream: Stream,
    deadline: Instant,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
}

/// How far past its deadline a read or write may block, so that a timeout set for an earlier
/// deadline of the same length can be kept.
const TIMEOUT_SLACK: Duration = Duration::from_millis(50);

impl Timed {
    fn new(stream: Stream, deadline: Instant) -> Timed {
        Timed {
            stream,
            deadline,
            read_timeout: None,
            write_timeout: None,
        }
    }

    fn left(&self) -> io::Result<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(io::Error::new(ErrorKind::TimedOut, "deadline passed"))
        } else {
            Ok(left.max(Duration::from_millis(1)))
        }
    }

    /// Runs `call` (a read or a write) until it returns something other than a timeout, or
    /// the deadline passes; `set` arms the socket's timeout when `armed` could overshoot it.
    fn until_deadline<T>(
        &mut self,
        armed: fn(&mut Timed) -> &mut Option<Duration>,
        set: fn(&Stream, Option<Duration>) -> io::Result<()>,
        mut call: impl FnMut(&mut Stream) -> io::Result<T>,
    ) -> io::Result<T> {
        loop {
            let left = self.left()?;
            if armed(self).is_none_or(|a| a > left + TIMEOUT_SLACK) {
                set(&self.stream, Some(left))?;
                *armed(self) = Some(left);
            }
            match call(&mut self.stream) {
                Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {
                    if Instant::now() >= self.deadline {
                        return Err(io::Error::new(ErrorKind::TimedOut, e));
                    }
                    // Woken early by a timeout set for less than the time left.
                    *armed(self) = None;
                }
                other => return other,
            }
        }
    }
}

impl Read for Timed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.until_deadline(
            |t| &mut t.read_timeout,
            |s, d| s.set_read_timeout(d),
            |s| s.read(buf),
        )
    }
}

impl Write for Timed {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.until_deadline(
            |t| &mut t.write_timeout,
            |s, d| s.set_write_timeout(d),
            |s| s.write(buf),
        )
    }

    fn flush(&mut self) -> io::Result<()> {
        // A TLS stream writes what it buffered here.
        self.until_deadline(
            |t| &mut t.write_timeout,
            |s, d| s.set_write_timeout(d),
            |s| s.flush(),
        )
    }
}

/// Where a worker writes its answer: memory, handed to the connection thread when dropped.
pub(crate) struct AnswerSink {
    buffer: Vec<u8>,
    to_connection: SyncSender<Vec<u8>>,
}

impl Write for AnswerSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for AnswerSink {
    fn drop(&mut self) {
        // The connection may be gone (closed by the server, or its thread gave up).
        let _ = self.to_connection.try_send(std::mem::take(&mut self.buffer));
    }
}

/// A request head that could not be read: answered (if `status` is set) and the connection
/// closed.
struct HeadError {
    status: Option<u16>,
    message: &'static str,
}

impl HeadError {
    fn answer(status: u16, message: &'static str) -> Self {
        HeadError {
            status: Some(status),
            message,
        }
    }

    fn io(e: io::Error) -> Self {
        match e.kind() {
            ErrorKind::TimedOut => HeadError::answer(408, "the request did not arrive in time"),
            ErrorKind::InvalidInput | ErrorKind::InvalidData => {
                HeadError::answer(400, "malformed request head")
            }
            _ => HeadError {
                status: None,
                message: "",
            },
        }
    }
}

struct Head {
    method: Method,
    path: String,
    version: HTTPVersion,
    headers: Vec<Header>,
}

impl Head {
    fn header(&self, name: &'static str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.field.equiv(name))
            .map(|h| h.value.as_str())
    }

    /// Whether the client asked to keep the connection open after this request.
    fn keeps_alive(&self) -> bool {
        let connection = self.header("Connection").map(str::to_ascii_lowercase);
        match connection {
            Some(value) if value.contains("close") => false,
            Some(value) if self.version == HTTPVersion(1, 0) => value.contains("keep-alive"),
            None => self.version != HTTPVersion(1, 0),
            Some(_) => true,
        }
    }

    fn upgrade(&self) -> bool {
        self.header("Connection")
            .is_some_and(|v| v.to_ascii_lowercase().contains("upgrade"))
    }
}

/// Serves one connection until the client closes it, it idles out, it breaks a limit, or the
/// server closes.
pub(crate) fn serve(
    stream: Stream,
    remote_addr: Option<SocketAddr>,
    secure: bool,
    shared: &Shared,
) {
    let limits = &shared.limits;
    let mut reader = BufReader::with_capacity(
        16 * 1024,
        Timed::new(stream, Instant::now()),
    );
    let mut served = 0;
    let linger = loop {
        if !wait_for_request(&mut reader, shared) {
            break false;
        }
        reader.get_mut().deadline = Instant::now() + limits.request_timeout;
        let reading = Reading::start(&shared.reading);
        let head = match read_head(&mut reader) {
            Ok(head) => head,
            Err(HeadError {
                status: Some(status),
                message,
            }) => {
                drop(reading);
                reader.get_mut().deadline = Instant::now() + limits.write_timeout;
                let _ = write_error(reader.get_mut(), status, message, HTTPVersion(1, 1));
                break true;
            }
            Err(_) => break false,
        };
        let refusal = if head.upgrade() {
            Some(Refusal::Upgrade)
        } else {
            read_body_refusal(&head, limits)
        };
        let (body, refusal) = match refusal {
            Some(refusal) => (Vec::new(), Some(refusal)),
            None => match read_body(&mut reader, &head, limits) {
                Ok(body) => (body, None),
                Err(refusal) => (Vec::new(), Some(refusal)),
            },
        };
        served += 1;
        let keep_alive = head.keeps_alive()
            && refusal.is_none()
            && served < limits.max_requests_per_connection;
        let (to_connection, answer) = mpsc::sync_channel(1);
        let request = Request::received(
            secure,
            head.method,
            head.path,
            head.version,
            head.headers,
            remote_addr,
            body,
            refusal,
            !keep_alive,
            AnswerSink {
                buffer: Vec::new(),
                to_connection,
            },
        );
        let answer = match &shared.handling {
            Some(handling) => {
                handling.run(request);
                drop(reading);
                match answer.try_recv() {
                    Ok(bytes) => bytes,
                    Err(_) => break false,
                }
            }
            None => {
                shared.messages.push(request.into());
                drop(reading);
                let Some(answer) = wait_for_answer(&answer, shared) else {
                    break false;
                };
                answer
            }
        };
        reader.get_mut().deadline = Instant::now() + limits.write_timeout;
        let written = reader
            .get_mut()
            .write_all(&answer)
            .and_then(|()| reader.get_mut().flush());
        if written.is_err() {
            break false;
        }
        if !keep_alive {
            break refusal.is_some();
        }
    };
    close(reader, linger);
}

/// Waits for the first byte of the next request; false when the connection should close
/// instead (the client closed it, it stayed idle too long, or the server is closing).
fn wait_for_request(reader: &mut BufReader<Timed>, shared: &Shared) -> bool {
    if !reader.buffer().is_empty() {
        return !shared.close.load(Ordering::Relaxed);
    }
    let idle_until = Instant::now() + shared.limits.idle_timeout;
    loop {
        if shared.close.load(Ordering::Relaxed) {
            return false;
        }
        let now = Instant::now();
        if now >= idle_until {
            return false;
        }
        reader.get_mut().deadline = (now + CLOSE_POLL).min(idle_until);
        match reader.fill_buf() {
            Ok(bytes) => return !bytes.is_empty(),
            Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::Interrupted) => {}
            Err(_) => return false,
        }
    }
}

/// The worker's answer; `None` if the server closed before one came.
fn wait_for_answer(answer: &mpsc::Receiver<Vec<u8>>, shared: &Shared) -> Option<Vec<u8>> {
    loop {
        match answer.recv_timeout(CLOSE_POLL) {
            Ok(bytes) => return Some(bytes),
            Err(RecvTimeoutError::Timeout) if !shared.close.load(Ordering::Relaxed) => {}
            Err(_) => return None,
        }
    }
}

fn read_line(reader: &mut BufReader<Timed>) -> Result<String, HeadError> {
    let mut line = Vec::new();
    loop {
        let available = reader.fill_buf().map_err(HeadError::io)?;
        if available.is_empty() {
            return Err(HeadError::io(io::Error::new(
                ErrorKind::UnexpectedEof,
                "closed mid-request",
            )));
        }
        let (taken, done) = match available.iter().position(|&b| b == b'\n') {
            Some(at) => (at + 1, true),
            None => (available.len(), false),
        };
        line.extend_from_slice(&available[..taken]);
        reader.consume(taken);
        if line.len() > MAX_HEADER_LINE {
            return Err(HeadError::answer(431, "a request or header line is too long"));
        }
        if done {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return String::from_utf8(line)
                .ok()
                .filter(|l| l.is_ascii())
                .ok_or(HeadError::answer(400, "the request head is not ASCII"));
        }
    }
}

fn read_head(reader: &mut BufReader<Timed>) -> Result<Head, HeadError> {
    let line = read_line(reader)?;
    let (method, path, version) = parse_request_line(line.trim())
        .ok_or(HeadError::answer(400, "malformed request line"))?;
    if version > (1, 1) {
        return Err(HeadError::answer(
            505,
            "this server supports HTTP versions 1.0 and 1.1",
        ));
    }
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader)?;
        if line.is_empty() {
            break;
        }
        if headers.len() >= MAX_HEADERS {
            return Err(HeadError::answer(431, "too many headers"));
        }
        let header = Header::from_str(line.trim())
            .map_err(|()| HeadError::answer(400, "malformed header"))?;
        headers.push(header);
    }
    let head = Head {
        method,
        path,
        version,
        headers,
    };
    match head.header("Expect") {
        None => {}
        Some(v) if v.eq_ignore_ascii_case("100-continue") => {}
        Some(_) => return Err(HeadError::answer(417, "unsupported Expect header")),
    }
    Ok(head)
}

/// A refusal known from the head alone: a body declared too large, or framing this server
/// does not read. Framing that two parsers could read differently (a request smuggled inside
/// another) is refused: `Content-Length` beside `Transfer-Encoding`, either one twice, a
/// length that is not plain digits, a coding other than `chunked`.
fn read_body_refusal(head: &Head, limits: &Limits) -> Option<Refusal> {
    let all = |name: &'static str| -> Vec<&str> {
        head.headers
            .iter()
            .filter(|h| h.field.equiv(name))
            .map(|h| h.value.as_str().trim())
            .collect()
    };
    let encodings = all("Transfer-Encoding");
    let lengths = all("Content-Length");
    match (encodings.as_slice(), lengths.as_slice()) {
        ([], []) => None,
        ([encoding], []) => (!encoding.eq_ignore_ascii_case("chunked")).then_some(Refusal::Malformed),
        ([], [length]) => match parse_length(length) {
            None => Some(Refusal::Malformed),
            Some(n) if n > limits.max_body_bytes as u64 => Some(Refusal::TooLarge),
            Some(_) => None,
        },
        _ => Some(Refusal::Malformed),
    }
}

/// A `Content-Length` value: ASCII digits only (no sign, no spaces inside).
fn parse_length(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// Receives the body (after `100 Continue` when the client waits for it), at most
/// `limits.max_body_bytes`, before the request's deadline.
fn read_body(
    reader: &mut BufReader<Timed>,
    head: &Head,
    limits: &Limits,
) -> Result<Vec<u8>, Refusal> {
    let chunked = head.header("Transfer-Encoding").is_some();
    let length = head
        .header("Content-Length")
        .and_then(|v| parse_length(v.trim()))
        .map(|n| n as usize);
    // The chunked decoder reports a read that timed out as a framing error: the deadline
    // tells which it was.
    let deadline = reader.get_ref().deadline;
    let refusal_of = |e: io::Error| {
        if Instant::now() >= deadline {
            Refusal::TimedOut
        } else {
            refusal_of(&e)
        }
    };
    if !chunked && length.unwrap_or(0) == 0 {
        return Ok(Vec::new());
    }
    if head.header("Expect").is_some() {
        let go_on = format!("HTTP/{}.{} 100 Continue\r\n\r\n", head.version.0, head.version.1);
        reader
            .get_mut()
            .write_all(go_on.as_bytes())
            .and_then(|()| reader.get_mut().flush())
            .map_err(refusal_of)?;
    }
    let mut body = Vec::new();
    if chunked {
        Decoder::new(reader.by_ref())
            .take(limits.max_body_bytes as u64 + 1)
            .read_to_end(&mut body)
            .map_err(refusal_of)?;
        if body.len() > limits.max_body_bytes {
            return Err(Refusal::TooLarge);
        }
    } else {
        body.resize(length.unwrap_or(0), 0);
        reader.read_exact(&mut body).map_err(refusal_of)?;
    }
    Ok(body)
}

fn refusal_of(e: &io::Error) -> Refusal {
    match e.kind() {
        ErrorKind::TimedOut => Refusal::TimedOut,
        _ => Refusal::Malformed,
    }
}

/// Writes a JSON error answer straight to the client (for requests no worker will see).
fn write_error<W: Write>(
    writer: &mut W,
    status: u16,
    message: &str,
    version: HTTPVersion,
) -> io::Result<()> {
    let body = format!("{{\"error\": \"{message}\"}}");
    let reason = crate::common::StatusCode(status).default_reason_phrase();
    write!(
        writer,
        "HTTP/{}.{} {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        version.0,
        version.1,
        body.len()
    )?;
    writer.flush()
}

/// The 503 for a connection over the limit; the answer is written without waiting (a fresh
/// socket's buffer takes it) and the socket closed after a short linger.
pub(crate) fn refuse_busy(stream: Stream, limits: &Limits, linger: bool) {
    let mut timed = Timed::new(stream, Instant::now() + Duration::from_millis(200));
    let body = &limits.busy_body;
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = timed
        .write_all(head.as_bytes())
        .and_then(|()| timed.write_all(body))
        .and_then(|()| timed.flush());
    close(BufReader::with_capacity(4096, timed), linger);
}

/// Closes the connection; with `linger`, first stops sending and reads what the client still
/// sends for a moment, so it receives the answer instead of a reset.
fn close(mut reader: BufReader<Timed>, linger: bool) {
    let _ = reader.get_mut().stream.shutdown(Shutdown::Write);
    if linger {
        reader.get_mut().deadline = Instant::now() + LINGER;
        let _ = io::copy(&mut reader.by_ref().take(LINGER_BYTES), &mut io::sink());
    }
    let _ = reader.get_mut().stream.shutdown(Shutdown::Both);
}

/// Parses a "HTTP/1.1" string.
fn parse_http_version(version: &str) -> Option<HTTPVersion> {
    let (major, minor) = match version {
        "HTTP/0.9" => (0, 9),
        "HTTP/1.0" => (1, 0),
        "HTTP/1.1" => (1, 1),
        "HTTP/2.0" => (2, 0),
        "HTTP/3.0" => (3, 0),
        _ => return None,
    };
    Some(HTTPVersion(major, minor))
}

/// Parses the request line of the request, e.g. `GET / HTTP/1.1`.
fn parse_request_line(line: &str) -> Option<(Method, String, HTTPVersion)> {
    let mut parts = line.split(' ');
    let method = parts.next()?.parse().ok()?;
    let path = parts.next()?.to_owned();
    let version = parse_http_version(parts.next()?)?;
    Some((method, path, version))
}

#[cfg(test)]
mod test {
    #[test]
    fn test_parse_request_line() {
        let (method, path, ver) = super::parse_request_line("GET /hello HTTP/1.1").unwrap();

        assert!(method == crate::Method::Get);
        assert!(path == "/hello");
        assert!(ver == crate::common::HTTPVersion(1, 1));

        assert!(super::parse_request_line("GET /hello").is_none());
        assert!(super::parse_request_line("qsd qsd qsd").is_none());
    }
}
