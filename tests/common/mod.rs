//! Shared by the server tests: a raw HTTP/1.1 client (so tests control every byte), a server on
//! 127.0.0.1 port 0 over a temporary store, and keystroke samples.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use keystroke_workbench::api::{Api, ApiConfig};
use keystroke_workbench::server::{ServerConfig, ServerError, ServerHandle, TlsFiles};
use keystroke_workbench::store::Store;
use serde_json::{Value, json};

/// An HTTP answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {}: body is not JSON ({e}): {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `error` message of an error answer (which must be a JSON object with one).
    pub fn error(&self) -> String {
        self.json()["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no \"error\" string in {}", self.text()))
            .to_string()
    }
}

/// Writes `raw` on a new connection and reads the answer (the request should close).
pub fn send_raw(addr: SocketAddr, raw: &[u8]) -> Reply {
    try_send_raw(addr, raw).expect("an HTTP answer")
}

/// [`send_raw`], or `None` when the server cannot be reached or does not answer.
pub fn try_send_raw(addr: SocketAddr, raw: &[u8]) -> Option<Reply> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    // The server may answer (413) before reading everything: a failed write is not an error.
    let _ = stream.write_all(raw);
    read_reply(&mut stream)
}

/// Reads one answer from `stream`.
pub fn read_reply(stream: &mut impl Read) -> Option<Reply> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = find(&buffer, b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buffer[..head_end].to_vec()).expect("ASCII head");
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Reply {
        status,
        headers,
        body,
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A request with a `Content-Length` body on its own connection.
pub fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    send_raw(addr, &raw_request(addr, method, target, headers, body))
}

/// The bytes of a [`request`].
pub fn raw_request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut raw = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        raw.push_str(&format!("{name}: {value}\r\n"));
    }
    raw.push_str("\r\n");
    let mut raw = raw.into_bytes();
    raw.extend_from_slice(body);
    raw
}

pub fn get(addr: SocketAddr, target: &str) -> Reply {
    request(addr, "GET", target, &[], b"")
}

pub fn post(addr: SocketAddr, target: &str, body: &Value) -> Reply {
    request(addr, "POST", target, &[], body.to_string().as_bytes())
}

/// A server on 127.0.0.1, any free port, over `store` (HTTPS with `tls`).
pub fn serve_store(
    store: Arc<Store>,
    config: ApiConfig,
    tls: Option<TlsFiles>,
) -> Result<ServerHandle, ServerError> {
    ServerHandle::start(
        Arc::new(Api::new(store, config)),
        &ServerConfig {
            host: "127.0.0.1".into(),
            port: 0,
            workers: 4,
            request_timeout: Duration::from_secs(10),
            tls,
            ..ServerConfig::default()
        },
    )
}

/// A server on 127.0.0.1 (port 0) over a temporary store.
pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub store: Arc<Store>,
    pub server: ServerHandle,
}

impl TestServer {
    pub fn start() -> TestServer {
        Self::with_config(ApiConfig::default())
    }

    pub fn with_config(config: ApiConfig) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        Self::in_dir(dir, config)
    }

    pub fn in_dir(dir: tempfile::TempDir, config: ApiConfig) -> TestServer {
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let server = serve_store(Arc::clone(&store), config, None).unwrap();
        TestServer { dir, store, server }
    }

    /// Stops this server and starts a fresh one on the same folder (a restart).
    #[allow(dead_code)]
    pub fn restart(self, config: ApiConfig) -> TestServer {
        let TestServer { dir, server, .. } = self;
        drop(server);
        TestServer::in_dir(dir, config)
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// Every file under the store folder with its bytes, except the audit log (which records
    /// refused /train calls too) and the throttle log with its lock (written in the
    /// background; [`TestServer::throttle_log`] reads it).
    pub fn files(&self) -> BTreeMap<String, Vec<u8>> {
        let mut files = files_under(self.dir.path());
        files.remove(keystroke_workbench::api::AUDIT_FILE);
        files.remove(keystroke_workbench::store::THROTTLE_LOG);
        files.remove(".locks/.throttle.lock");
        files
    }

    /// The throttle log's text (empty when there is none).
    #[allow(dead_code)]
    pub fn throttle_log(&self) -> String {
        fs::read_to_string(
            self.dir
                .path()
                .join(keystroke_workbench::store::THROTTLE_LOG),
        )
        .unwrap_or_default()
    }
}

/// Waits (up to `limit`) until the failed-attempt state `user` has in the store at `dir`
/// satisfies `wanted` (the server writes counts in the background); returns the last state read.
#[allow(dead_code)]
pub fn wait_for_throttle(
    dir: &Path,
    user: &str,
    limit: std::time::Duration,
    wanted: impl Fn(&keystroke_workbench::store::ThrottleState) -> bool,
) -> keystroke_workbench::store::ThrottleState {
    let store = keystroke_workbench::store::Store::open(dir).unwrap();
    let user = keystroke_workbench::store::UserId::parse(user).unwrap();
    let deadline = std::time::Instant::now() + limit;
    loop {
        let state = store.throttle(&user).unwrap();
        if wanted(&state) || std::time::Instant::now() >= deadline {
            return state;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

pub fn files_under(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for entry in fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            for (inner, bytes) in files_under(&path) {
                files.insert(format!("{name}/{inner}"), bytes);
            }
        } else {
            files.insert(name, fs::read(&path).unwrap_or_default());
        }
    }
    files
}

/// Events of typing `keys` with per-key holds and gaps from `timing` (ms).
pub fn events(keys: &[&str], timing: impl Fn(usize) -> (f64, f64)) -> Value {
    let mut events = Vec::new();
    let mut t = 1000.0;
    for (i, key) in keys.iter().enumerate() {
        let (hold, gap) = timing(i);
        events.push(json!({"key": key, "event": "down", "timestamp": t}));
        events.push(json!({"key": key, "event": "up", "timestamp": t + hold}));
        t += gap;
    }
    Value::Array(events)
}

pub const PHRASE: [&str; 8] = ["p", "a", "s", "s", "w", "o", "r", "d"];

/// A genuine-looking typing of [`PHRASE`]: holds around 90 ms, gaps around 180 ms, varied by
/// `variant` (each variant's timings are distinct).
pub fn genuine(variant: usize) -> Value {
    // The last term makes every variant's timings distinct (a repeat would be a replay).
    events(&PHRASE, |i| {
        let wobble = ((variant * 7 + i * 13) % 11) as f64;
        (85.0 + wobble + variant as f64 * 1e-3, 175.0 + 1.5 * wobble)
    })
}

/// A very different typing of the same phrase: long holds and pauses.
pub fn imposter() -> Value {
    events(&PHRASE, |i| {
        (300.0 + 40.0 * i as f64, 900.0 + 120.0 * i as f64)
    })
}

pub fn sample_body(user: &str, events: Value) -> Value {
    json!({"user_id": user, "keystroke_data": events})
}

/// A `serve` child process, killed if a test ends without stopping it.
pub struct Serve(pub Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `keystroke-workbench serve` on an ephemeral port; returns the child and its address.
pub fn spawn_serve(
    models: &std::path::Path,
    env: &[(&str, &str)],
) -> (Serve, SocketAddr, BufReader<std::process::ChildStderr>) {
    spawn_serve_with_scheme(models, env, "http://")
}

/// [`spawn_serve`], reading the address from the first URL printed with `scheme`.
pub fn spawn_serve_with_scheme(
    models: &std::path::Path,
    env: &[(&str, &str)],
    scheme: &str,
) -> (Serve, SocketAddr, BufReader<std::process::ChildStderr>) {
    spawn_serve_command(
        Command::new(env!("CARGO_BIN_EXE_keystroke-workbench")),
        models,
        env,
        scheme,
    )
}

/// [`spawn_serve_with_scheme`] from a prepared command (e.g. with resource limits).
pub fn spawn_serve_command(
    mut command: Command,
    models: &std::path::Path,
    env: &[(&str, &str)],
    scheme: &str,
) -> (Serve, SocketAddr, BufReader<std::process::ChildStderr>) {
    command
        .args(["serve", "--host", "127.0.0.1", "--port", "0", "--models"])
        .arg(models)
        .env_remove("KW_API_TOKEN")
        .env("KW_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("spawn serve");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut addr = None;
    let mut line = String::new();
    while addr.is_none() && stdout.read_line(&mut line).unwrap() > 0 {
        if let Some(url) = line.trim().strip_prefix(scheme) {
            addr = Some(url.parse().expect("host:port"));
        }
        line.clear();
    }
    let stderr = BufReader::new(child.stderr.take().unwrap());
    (Serve(child), addr.expect("serve prints its URL"), stderr)
}

/// The path of the `keystroke-workbench` binary under test.
pub fn workbench_bin() -> &'static str {
    env!("CARGO_BIN_EXE_keystroke-workbench")
}

/// Runs a Python `script` (python3, or `KW_PYTHON`) with `args`; its standard output.
pub fn run_python(script: &str, args: &[std::path::PathBuf]) -> Vec<u8> {
    let python = std::env::var("KW_PYTHON").unwrap_or_else(|_| "python3".into());
    let output = Command::new(&python)
        .args(["-c", script])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python} (install python3 with numpy): {e}"));
    assert!(
        output.status.success(),
        "{python} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// Rows of each `.npy` file in `paths`, as NumPy's `np.load` reads them (python3 with numpy;
/// the README's test command installs it).
pub fn numpy_rows(paths: &[std::path::PathBuf]) -> Vec<usize> {
    let script = "import sys, numpy as np\n\
                  print(' '.join(str(np.load(p, allow_pickle=False).shape[0]) for p in sys.argv[1:]))";
    String::from_utf8(run_python(script, paths))
        .unwrap()
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect()
}

/// `keystroke-workbench store check` on `models` (with `--repair` when asked): its exit status
/// and standard output.
pub fn store_check(models: &Path, repair: bool) -> (bool, String) {
    let mut command = Command::new(workbench_bin());
    command.args(["store", "check", "--models"]).arg(models);
    if repair {
        command.arg("--repair");
    }
    let output = command.output().expect("run store check");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// A /train of [`genuine`]`(variant)` for `user`, or `None` when the server cannot be reached
/// or does not answer (a killed process).
pub fn post_train(addr: SocketAddr, user: &str, variant: usize) -> Option<Reply> {
    let body = sample_body(user, genuine(variant)).to_string();
    try_send_raw(
        addr,
        &raw_request(addr, "POST", "/train", &[], body.as_bytes()),
    )
}
