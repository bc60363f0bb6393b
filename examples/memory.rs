//! Resident memory of a server holding many trained users.
//!
//! ```text
//! cargo run --release --example memory -- [--users 10000] [--cache-mb 256] [--dir DIR]
//! ```
//!
//! Enrols `--users` users (5 samples each, isolation forest trained on the 5th, every write
//! durable) in a child process, unless `--dir` already holds them; then starts the server in
//! this process on 127.0.0.1, sends one /predict for every user over HTTP, and reports the
//! resident set size (Linux `/proc/self/status`) before and after, per user, with the model
//! cache's own count.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod support;

use chrono::Local;
use keystroke_workbench::api::{Api, ApiConfig};
use keystroke_workbench::capture::{KeyEvent, Sample};
use keystroke_workbench::detect::DetectorParams;
use keystroke_workbench::server::{ServerConfig, ServerHandle};
use keystroke_workbench::store::{Store, UserId};
use keystroke_workbench::workers::parallel_map;
use serde_json::json;
use support::{exchange, http_post, sample};

fn user(i: usize) -> String {
    format!("user{i:05}@example.com")
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

fn build(dir: &Path, users: usize) {
    let store = Store::open(dir).unwrap();
    let params = DetectorParams::default();
    let samples: Vec<Sample> = (0..5)
        .map(|v| {
            Sample::from_events(serde_json::from_value::<Vec<KeyEvent>>(sample(v)).unwrap())
                .unwrap()
        })
        .collect();
    parallel_map(users, 8, "enrol", |i| {
        let id = UserId::parse(&user(i)).unwrap();
        for (n, sample) in samples.iter().enumerate() {
            let train = (n == 4).then_some(&params);
            store
                .with_user(&id, |w| {
                    w.add_sample(sample, train, Local::now().naive_local())
                })
                .unwrap();
        }
    });
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .map(|i| args[i + 1].clone())
    };
    if let Some(dir) = arg("--build") {
        build(Path::new(&dir), arg("--users").unwrap().parse().unwrap());
        return;
    }
    let users: usize = arg("--users").map_or(10_000, |v| v.parse().unwrap());
    let cache_mb: usize = arg("--cache-mb").map_or(256, |v| v.parse().unwrap());
    let temp = tempfile::tempdir().unwrap();
    let dir = arg("--dir").map_or_else(|| temp.path().to_path_buf(), PathBuf::from);
    let store = Store::open(&dir).unwrap();
    if store.users().unwrap().len() < users {
        let started = Instant::now();
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--build",
                dir.to_str().unwrap(),
                "--users",
                &users.to_string(),
            ])
            .status()
            .unwrap();
        assert!(status.success());
        eprintln!(
            "enrolled {users} users in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    let api = Arc::new(Api::new(
        Arc::new(Store::open(&dir).unwrap()),
        ApiConfig {
            model_cache_bytes: cache_mb << 20,
            ..ApiConfig::default()
        },
    ));
    let config = ServerConfig {
        host: "127.0.0.1".into(),
        port: 0,
        workers: 4,
        request_timeout: Duration::from_secs(30),
        tls: None,
        ..ServerConfig::default()
    };
    let server = ServerHandle::start(Arc::clone(&api), &config).unwrap();
    let before = rss_kib();
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream.set_nodelay(true).unwrap();
    let mut buffer = Vec::new();
    let started = Instant::now();
    let mut authenticated = 0;
    for i in 0..users {
        let body = json!({"user_id": user(i), "keystroke_data": sample(i % 5)});
        let status = exchange(&mut stream, &http_post("/predict", &body), &mut buffer);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&buffer));
        authenticated += usize::from(buffer.windows(20).any(|w| w == b"\"authenticated\":true"));
    }
    let elapsed = started.elapsed();
    let after = rss_kib();
    let (cached, cached_bytes) = api.models().usage();
    println!("users: {users}, model cache cap: {cache_mb} MiB");
    println!(
        "touched every user with /predict in {:.1} s ({authenticated} authenticated)",
        elapsed.as_secs_f64()
    );
    println!(
        "RSS before: {:.1} MiB, after: {:.1} MiB",
        before as f64 / 1024.0,
        after as f64 / 1024.0
    );
    println!(
        "growth per user: {:.1} KiB; whole RSS per user: {:.1} KiB",
        (after - before) as f64 / users as f64,
        after as f64 / users as f64
    );
    println!(
        "models cached: {cached} ({:.1} MiB by the cache's estimate, {:.1} KiB each)",
        cached_bytes as f64 / (1 << 20) as f64,
        cached_bytes as f64 / 1024.0 / cached.max(1) as f64
    );
}
