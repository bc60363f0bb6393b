//! The server stays up as a deployment needs it to: a real `serve` process left idle, flooded
//! with connections under a small file limit, held by slow and pipelining clients, and on a
//! store that stops taking writes. These tests share one binary so the long idle one runs
//! beside the others; the ones that load the machine take turns.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::{
    Reply, genuine, imposter, post, read_reply, sample_body, spawn_serve, spawn_serve_command,
};
use serde_json::Value;

/// Tests that load the machine (and so would disturb each other's latencies) take turns.
static LOUD: Mutex<()> = Mutex::new(());

fn loud() -> std::sync::MutexGuard<'static, ()> {
    LOUD.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Collects a child's log in the background (an undrained pipe would block the server).
fn drain(stderr: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut log = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            log.push_str(&line);
            log.push('\n');
        }
        log
    })
}

fn enrol(addr: SocketAddr, user: &str, n: usize) {
    for i in 0..n {
        let reply = post(addr, "/train", &sample_body(user, genuine(i)));
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
}

fn predict(addr: SocketAddr, user: &str, events: Value) -> Reply {
    post(addr, "/predict", &sample_body(user, events))
}

/// Raises this process's soft open-file limit to its hard one (the clients need many).
fn raise_own_file_limit() -> u64 {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let raised = Rlimit {
        current: limit.maximum,
        maximum: limit.maximum,
    };
    setrlimit(Resource::Nofile, raised).unwrap();
    limit.maximum.unwrap_or(u64::MAX)
}

#[test]
fn a_server_left_idle_for_75_seconds_still_answers() {
    let dir = tempfile::tempdir().unwrap();
    let (_serve, addr, stderr) = spawn_serve(dir.path(), &[("KW_LOG", "warn")]);
    let log = drain(stderr);
    enrol(addr, "alice", 5);
    // A keep-alive connection left open over the quiet time is closed by the server.
    let mut idle = TcpStream::connect(addr).unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(read_reply(&mut idle).unwrap().status, 200);
    thread::sleep(Duration::from_secs(75));
    assert!(
        read_reply(&mut idle).is_none(),
        "an idle keep-alive connection is closed after the idle timeout"
    );
    assert_eq!(common::get(addr, "/health").status, 200);
    let reply = post(addr, "/train", &sample_body("alice", genuine(50)));
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["samples_count"], 6);
    let reply = predict(addr, "alice", genuine(51));
    assert_eq!(reply.status, 200, "{}", reply.text());
    drop(_serve);
    let log = log.join().unwrap();
    assert!(!log.contains("Error accepting"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn a_thousand_connections_under_256_file_handles_leave_it_answering() {
    let _turn = loud();
    assert!(
        raise_own_file_limit() >= 2200,
        "the test's clients need handles"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_keystroke-workbench"));
    // SAFETY: the closure makes one system call (setrlimit) and allocates nothing, as
    // pre_exec requires of code running between fork and exec.
    unsafe {
        command.pre_exec(|| {
            let limit = rustix::process::Rlimit {
                current: Some(256),
                maximum: Some(256),
            };
            rustix::process::setrlimit(rustix::process::Resource::Nofile, limit)
                .map_err(std::io::Error::from)
        });
    }
    let (serve, addr, stderr) = spawn_serve_command(command, dir.path(), &[], "http://");
    let log = drain(stderr);
    enrol(addr, "alice", 5);

    let mut held = Vec::new();
    for i in 0..1000 {
        match TcpStream::connect(addr) {
            Ok(stream) => held.push(stream),
            Err(e) => panic!("connection {i}: {e}"),
        }
    }
    // While they are held, a newcomer is answered at once: served, or refused 503 with JSON.
    let started = Instant::now();
    let reply = common::try_send_raw(addr, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    if let Some(reply) = &reply {
        assert!(matches!(reply.status, 200 | 503), "{}", reply.text());
        if reply.status == 503 {
            assert!(reply.json()["error"].as_str().unwrap().contains("busy"));
        }
    }
    assert!(started.elapsed() < Duration::from_secs(2));
    drop(held);

    let closed = Instant::now();
    let answered = loop {
        let reply = common::try_send_raw(addr, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
        if reply.is_some_and(|r| r.status == 200) {
            break closed.elapsed();
        }
        assert!(
            closed.elapsed() < Duration::from_secs(5),
            "no answer 5 s after the connections closed"
        );
        thread::sleep(Duration::from_millis(20));
    };
    eprintln!("answered {answered:?} after 1,000 connections closed");
    assert!(answered < Duration::from_secs(1), "{answered:?}");
    let reply = predict(addr, "alice", genuine(60));
    assert_eq!(reply.status, 200, "{}", reply.text());
    drop(serve);
    let log = log.join().unwrap();
    assert!(!log.contains("panicked"), "{log}");
}

/// A client trickling a request at one byte a second until `stop`.
fn trickle(addr: SocketAddr, head: String, stop: &AtomicBool) {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return;
    };
    let _ = stream.write_all(head.as_bytes());
    while !stop.load(Ordering::Relaxed) {
        if stream.write_all(b"a").is_err() {
            return;
        }
        thread::sleep(Duration::from_secs(1));
    }
}

/// A client that sends 1,500 requests on one connection and never reads an answer.
fn pipeline_without_reading(addr: SocketAddr, body: &[u8], stop: &AtomicBool) {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return;
    };
    let mut request = format!(
        "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    for _ in 0..1500 {
        if stop.load(Ordering::Relaxed) || stream.write_all(&request).is_err() {
            return;
        }
    }
    while !stop.load(Ordering::Relaxed) {
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sixteen_slow_clients_leave_predict_fast() {
    let _turn = loud();
    let dir = tempfile::tempdir().unwrap();
    let (serve, addr, stderr) =
        spawn_serve(dir.path(), &[("KW_LOG", "warn"), ("KW_MAX_FAILURES", "0")]);
    let log = drain(stderr);
    enrol(addr, "alice", 5);
    let body = serde_json::to_vec(&sample_body("alice", genuine(70))).unwrap();
    let stop = AtomicBool::new(false);
    let latencies = thread::scope(|scope| {
        for _ in 0..4 {
            let chunked =
                "POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n";
            let expect = "POST /predict HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1000\r\n\r\n";
            let upgrade = "POST /predict HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\nContent-Length: 1000\r\n\r\n";
            let stop = &stop;
            let body = &body;
            scope.spawn(move || trickle(addr, chunked.into(), stop));
            scope.spawn(move || trickle(addr, expect.into(), stop));
            scope.spawn(move || trickle(addr, upgrade.into(), stop));
            scope.spawn(move || pipeline_without_reading(addr, body, stop));
        }
        // Let the slow clients take hold, then measure another client's /predict.
        thread::sleep(Duration::from_millis(500));
        let mut stream = TcpStream::connect(addr).unwrap();
        let mut latencies = Vec::new();
        for i in 0..400 {
            // A new variant each time, so every attempt is scored (a repeat is a replay).
            let body = serde_json::to_vec(&sample_body("alice", genuine(1000 + i))).unwrap();
            let mut request = format!(
                "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes();
            request.extend_from_slice(&body);
            let started = Instant::now();
            stream.write_all(&request).unwrap();
            let reply = read_reply(&mut stream).expect("an answer");
            latencies.push(started.elapsed());
            assert_eq!(reply.status, 200, "{}", reply.text());
        }
        stop.store(true, Ordering::Relaxed);
        latencies
    });
    let mut sorted = latencies.clone();
    sorted.sort();
    let p99 = sorted[sorted.len() * 99 / 100];
    let median = sorted[sorted.len() / 2];
    eprintln!("/predict beside 16 slow clients: median {median:?}, p99 {p99:?}");
    assert!(p99 < Duration::from_millis(50), "p99 {p99:?}");
    drop(serve);
    let log = log.join().unwrap();
    assert!(!log.contains("panicked"), "{log}");
}

/// A tmpfs mounted on a folder for the test, unmounted when dropped.
struct Mount(std::path::PathBuf);

impl Mount {
    /// `None` when this machine does not let the test mount (not root): the test then says so
    /// and fails in CI, where it must run.
    fn tmpfs(dir: &Path, size: &str) -> Option<Mount> {
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must be able to mount a tmpfs (run as root)"
            );
            eprintln!("SKIPPED: cannot mount a tmpfs here (not root?)");
            return None;
        }
        Some(Mount(dir.to_path_buf()))
    }

    fn remount(&self, mode: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(status.success(), "remount {mode}");
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Attempts against a store that cannot be written: none is scored, every one is refused 503
/// with JSON, and /health says why.
fn assert_fails_closed(addr: SocketAddr) {
    let mut scored = 0;
    let mut refused = 0;
    for _ in 0..30 {
        let reply = predict(addr, "alice", imposter());
        match reply.status {
            200 => scored += 1,
            503 => {
                assert!(reply.error().contains("unavailable"), "{}", reply.text());
                refused += 1;
            }
            other => panic!("{other}: {}", reply.text()),
        }
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(scored, 0, "{scored} attempts were scored");
    assert_eq!(refused, 30);
    let reply = predict(addr, "alice", genuine(80));
    assert_eq!(reply.status, 503, "the right attempt is not scored either");
    let health = common::get(addr, "/health").json();
    assert_eq!(health["status"], "degraded", "{health}");
    assert!(health["reason"].as_str().is_some(), "{health}");
}

#[test]
fn a_read_only_store_locks_out_instead_of_accepting() {
    let _turn = loud();
    let dir = tempfile::tempdir().unwrap();
    let Some(mount) = Mount::tmpfs(dir.path(), "16m") else {
        return;
    };
    // No free-space reserve: the small tmpfs is what is tested.
    let env = [
        ("KW_LOG", "warn"),
        ("KW_LOCKOUT_SECONDS", "1"),
        ("KW_MIN_FREE_MB", "0"),
    ];
    let (serve, addr, _) = spawn_serve(dir.path(), &env);
    enrol(addr, "alice", 20);
    assert_eq!(common::get(addr, "/health").json()["status"], "healthy");
    // The volume comes back read-only (a remount needs no file open for writing, so the
    // server restarts onto it, as after a reboot that found the disk damaged).
    drop(serve);
    mount.remount("ro");
    let (serve, addr, stderr) = spawn_serve(dir.path(), &env);
    let log = drain(stderr);
    assert_fails_closed(addr);
    // Once the store takes writes again the counts are saved and service resumes (after the
    // one-second lockout the failures earned).
    mount.remount("rw");
    let deadline = Instant::now() + Duration::from_secs(10);
    // A fresh sample each try, as a client typing again would send.
    for variant in 81.. {
        let reply = predict(addr, "alice", genuine(variant));
        if reply.status == 200 {
            assert_eq!(reply.json()["authenticated"], true, "{}", reply.text());
            break;
        }
        assert!(matches!(reply.status, 429 | 503), "{}", reply.text());
        assert!(Instant::now() < deadline, "no recovery: {}", reply.text());
        thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(common::get(addr, "/health").json()["status"], "healthy");
    drop(serve);
    let log = log.join().unwrap();
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn a_full_store_locks_out_instead_of_accepting() {
    let _turn = loud();
    let dir = tempfile::tempdir().unwrap();
    let Some(_mount) = Mount::tmpfs(dir.path(), "4m") else {
        return;
    };
    let (serve, addr, stderr) =
        spawn_serve(dir.path(), &[("KW_LOG", "warn"), ("KW_MIN_FREE_MB", "0")]);
    let log = drain(stderr);
    enrol(addr, "alice", 20);
    // Fill the file system (a root writer may use the reserved blocks too).
    let filler = dir.path().join("filler");
    let mut file = std::fs::File::create(&filler).unwrap();
    let block = vec![0u8; 64 * 1024];
    while file
        .write_all(&block)
        .and_then(|()| file.sync_all())
        .is_ok()
    {}
    assert_fails_closed(addr);
    drop(serve);
    let log = log.join().unwrap();
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn an_empty_api_token_is_a_start_up_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_keystroke-workbench"))
        .args(["serve", "--host", "127.0.0.1", "--port", "0", "--models"])
        .arg(dir.path())
        .env("KW_API_TOKEN", "")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("KW_API_TOKEN is set but empty"), "{stderr}");
}
