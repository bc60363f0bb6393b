//! Load generator for the HTTP API: keep-alive connections on loopback, bounded in requests and
//! time, reporting throughput and p50/p99 latency per endpoint and connection count.
//!
//! ```text
//! cargo run --release --example loadgen -- [--connections 1,16,64] [--seconds 3]
//!     [--max-requests 200000] [--endpoints predict,predict-half,train]
//!     [--commit group,immediate] [--addr 127.0.0.1:5000 [--tls-ca cert.pem]]
//! ```
//!
//! `predict-half` sends an impostor's typing every other attempt (to measure a server whose
//! failed attempts are counted: run it with `KW_MAX_FAILURES` raised so none locks out).
//! With `--tls-ca` the connections to `--addr` use HTTPS, trusting that certificate for the
//! name `localhost`. Every row also gives the share of attempts accepted.
//!
//! Without `--addr` it starts the server in this process on 127.0.0.1 (port 0) over a fresh
//! temporary store for each `--commit` mode in turn — `group` (writers share fsyncs, the
//! default; `group=US` batches for at most US microseconds) and `immediate` (each writer
//! fsyncs its own files, as before group commit) — with
//! request logging and throttling off (every /predict carries a fresh sample, so none is
//! refused as a replay). `/predict` goes to 64 enrolled users (20 samples
//! each, isolation forest); `/train` enrols fresh users, 10 samples each (the model is trained
//! from the 5th on), every write durable (fsync).

use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

mod support;

use keystroke_workbench::api::{Api, ApiConfig};
use keystroke_workbench::auth::Throttle;
use keystroke_workbench::server::{ServerConfig, ServerHandle, default_workers};
use keystroke_workbench::store::{Committer, DEFAULT_MAX_WAIT, Store};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::json;
use support::{ReadWrite, exchange_on, http_post, impostor_sample, sample};

const PREDICT_USERS: usize = 64;

struct Options {
    connections: Vec<usize>,
    seconds: f64,
    max_requests: usize,
    endpoints: Vec<String>,
    commits: Vec<String>,
    addr: Option<SocketAddr>,
    tls: Option<Arc<rustls::ClientConfig>>,
}

/// A client trusting the PEM certificate at `path`.
fn trusting(path: &str) -> Arc<rustls::ClientConfig> {
    let pem = std::fs::read(path).expect("--tls-ca: readable PEM");
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        roots.add(cert.expect("a PEM certificate")).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// A keep-alive connection, plain or TLS.
fn connect(addr: SocketAddr, tls: Option<&Arc<rustls::ClientConfig>>) -> Box<dyn ReadWrite> {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).unwrap();
    match tls {
        None => Box::new(stream),
        Some(config) => {
            let name = ServerName::try_from("localhost").unwrap();
            let connection = rustls::ClientConnection::new(Arc::clone(config), name).unwrap();
            Box::new(rustls::StreamOwned::new(connection, stream))
        }
    }
}

fn options() -> Options {
    let mut o = Options {
        connections: vec![1, 16, 64],
        seconds: 3.0,
        max_requests: 200_000,
        endpoints: vec!["predict".into(), "train".into()],
        commits: vec!["group".into()],
        addr: None,
        tls: None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let value = pair.get(1).map(String::as_str).unwrap_or_default();
        match pair[0].as_str() {
            "--connections" => {
                o.connections = value.split(',').map(|v| v.parse().unwrap()).collect()
            }
            "--seconds" => o.seconds = value.parse().unwrap(),
            "--max-requests" => o.max_requests = value.parse().unwrap(),
            "--endpoints" => o.endpoints = value.split(',').map(String::from).collect(),
            "--commit" => o.commits = value.split(',').map(String::from).collect(),
            "--addr" => o.addr = Some(value.parse().expect("HOST:PORT")),
            "--tls-ca" => o.tls = Some(trusting(value)),
            other => panic!("unknown option {other}"),
        }
    }
    if let Some(addr) = o.addr {
        assert!(addr.ip().is_loopback(), "loopback only");
    }
    o
}

struct Cell {
    requests: usize,
    accepted: usize,
    elapsed: Duration,
    latencies_us: Vec<u32>,
}

fn run_cell(
    addr: SocketAddr,
    endpoint: &str,
    connections: usize,
    o: &Options,
    round: usize,
) -> Cell {
    let per_connection = o.max_requests.div_ceil(connections);
    let deadline = Duration::from_secs_f64(o.seconds);
    let started = Instant::now();
    let threads: Vec<_> = (0..connections)
        .map(|c| {
            let endpoint = endpoint.to_string();
            let tls = o.tls.clone();
            thread::Builder::new()
                .name(format!("loadgen-{c}"))
                .spawn(move || {
                    let mut stream = connect(addr, tls.as_ref());
                    let mut buffer = Vec::new();
                    let mut latencies = Vec::new();
                    let mut accepted = 0;
                    let begin = Instant::now();
                    for i in 0..per_connection {
                        if begin.elapsed() >= deadline {
                            break;
                        }
                        let request = if endpoint.starts_with("predict") {
                            let user = format!("user{}", (c + i) % PREDICT_USERS);
                            // A fresh variant every time: a repeat would be refused as a replay.
                            let variant = 1_000 + round * 10_000_000 + c * per_connection + i;
                            let typing = if endpoint == "predict-half" && i % 2 == 1 {
                                impostor_sample(variant)
                            } else {
                                sample(variant)
                            };
                            http_post(
                                "/predict",
                                &json!({"user_id": user, "keystroke_data": typing}),
                            )
                        } else {
                            let user = format!("r{round}-c{c}-u{}", i / 10);
                            http_post(
                                "/train",
                                &json!({"user_id": user, "keystroke_data": sample(i)}),
                            )
                        };
                        let sent = Instant::now();
                        let answer = exchange_on(&mut stream, &request, &mut buffer);
                        latencies.push(sent.elapsed().as_micros() as u32);
                        assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&buffer));
                        if find(&buffer, b"\"authenticated\":true") {
                            accepted += 1;
                        }
                        if answer.closes {
                            // The server closes a connection after 1,000 requests.
                            stream = connect(addr, tls.as_ref());
                        }
                    }
                    (latencies, accepted)
                })
                .unwrap()
        })
        .collect();
    let mut latencies_us = Vec::new();
    let mut accepted = 0;
    for thread in threads {
        let (latencies, taken) = thread.join().unwrap();
        latencies_us.extend(latencies);
        accepted += taken;
    }
    let elapsed = started.elapsed();
    latencies_us.sort_unstable();
    Cell {
        requests: latencies_us.len(),
        accepted,
        elapsed,
        latencies_us,
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn percentile_ms(sorted: &[u32], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

/// A server in this process over a fresh store in `dir`, committing as `commit` says.
fn start_server(dir: &std::path::Path, commit: &str) -> ServerHandle {
    let committer = match commit.split_once('=') {
        None if commit == "group" => Committer::batching(DEFAULT_MAX_WAIT),
        None if commit == "immediate" => Committer::immediate(),
        Some(("group", us)) => Committer::batching(Duration::from_micros(us.parse().unwrap())),
        _ => panic!("--commit {commit}: use group, group=MICROSECONDS or immediate"),
    };
    let store = Arc::new(Store::open_with(dir, committer).unwrap());
    // Throttling off: the generated attempts are not all genuine, and a lockout would answer
    // 429 instead of exercising /predict.
    let config = ApiConfig {
        throttle: Throttle {
            max_failures: 0,
            ..Throttle::default()
        },
        ..ApiConfig::default()
    };
    let api = Arc::new(Api::new(store, config));
    let config = ServerConfig {
        host: "127.0.0.1".into(),
        port: 0,
        workers: default_workers(),
        request_timeout: Duration::from_secs(30),
        tls: None,
        ..ServerConfig::default()
    };
    ServerHandle::start(api, &config).unwrap()
}

fn main() {
    let o = options();
    println!(
        "| commit | endpoint | connections | requests | req/s | p50 ms | p99 ms | accepted |\n|---|---|---:|---:|---:|---:|---:|---:|"
    );
    let commits = if o.addr.is_some() {
        vec!["(external)".to_string()]
    } else {
        o.commits.clone()
    };
    for (c, commit) in commits.iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let server = o.addr.is_none().then(|| start_server(dir.path(), commit));
        let addr = o
            .addr
            .unwrap_or_else(|| server.as_ref().expect("started").addr());
        if o.endpoints.iter().any(|e| e.starts_with("predict")) && (c == 0 || server.is_some()) {
            enrol_predict_users(addr, o.tls.as_ref());
        }
        for (round, endpoint) in o.endpoints.iter().enumerate() {
            for &connections in &o.connections {
                let round = (c * 100 + round) * 1000 + connections;
                let cell = run_cell(addr, endpoint, connections, &o, round);
                println!(
                    "| {commit} | /{endpoint} | {connections} | {} | {:.0} | {:.3} | {:.3} | {:.1} % |",
                    cell.requests,
                    cell.requests as f64 / cell.elapsed.as_secs_f64(),
                    percentile_ms(&cell.latencies_us, 0.50),
                    percentile_ms(&cell.latencies_us, 0.99),
                    100.0 * cell.accepted as f64 / cell.requests as f64,
                );
            }
        }
    }
}

/// Enrols the users /predict goes to, 20 samples each.
fn enrol_predict_users(addr: SocketAddr, tls: Option<&Arc<rustls::ClientConfig>>) {
    let mut stream = connect(addr, tls);
    let mut buffer = Vec::new();
    for u in 0..PREDICT_USERS {
        for i in 0..20 {
            let body = json!({"user_id": format!("user{u}"), "keystroke_data": sample(i)});
            let answer = exchange_on(&mut stream, &http_post("/train", &body), &mut buffer);
            assert_eq!(answer.status, 200);
            if answer.closes {
                stream = connect(addr, tls);
            }
        }
    }
}
