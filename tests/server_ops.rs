//! The server as deployed and embedded: the `serve` command (settings from the environment,
//! LAN URLs, graceful stop on SIGTERM/Ctrl-C), migration from the old backend's folder, the
//! embeddable handle sharing the caller's store, and concurrent writers to one user.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use common::*;
use keystroke_workbench::api::ApiConfig;
use keystroke_workbench::capture::{KeyEvent, Sample};
use keystroke_workbench::detect::DetectorParams;
use keystroke_workbench::store::UserId;

fn signal(child: &Child, name: &str) {
    // The shell's own `kill`: no procps needed.
    let status = Command::new("sh")
        .args(["-c", &format!("kill -{name} {}", child.id())])
        .status()
        .unwrap();
    assert!(status.success());
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "serve did not stop");
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn serve_finishes_the_request_in_flight_on_sigterm_then_exits() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr, mut stderr) = spawn_serve(dir.path(), &[("MIN_SAMPLES", "3")]);
    let phrase = [
        ".", "t", "i", "e", "5", "R", "o", "a", "n", "l", "Shift", "Enter",
    ];
    let body = sample_body("alice@example.com", events(&phrase, |_| (90.0, 180.0))).to_string();
    let (head, tail) = body.as_bytes().split_at(body.len() / 2);

    // Start a /train, send half its body, stop the server, then send the rest.
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST /train HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(head).unwrap();
    thread::sleep(Duration::from_millis(300));
    signal(&child.0, "TERM");
    thread::sleep(Duration::from_millis(300));
    stream.write_all(tail).unwrap();
    let reply = read_reply(&mut stream).expect("the request in flight is answered");
    assert_eq!(reply.status, 200);
    // The fallback name MIN_SAMPLES was read.
    assert_eq!(reply.json()["message"], "Need 3 samples to train model");

    assert!(wait_exit(&mut child.0).success());
    let mut log = String::new();
    stderr.read_to_string(&mut log).unwrap();
    assert!(log.contains("POST /train 200"), "{log}");
    assert!(log.contains("user=alice@example.com"), "{log}");
    assert!(log.contains("stopped after"), "{log}");
    // The log names users, never keys or timings.
    assert!(
        !log.contains("\"key\"") && !log.contains("timestamp"),
        "{log}"
    );
    assert!(TcpStream::connect(addr).is_err(), "the port is closed");
}

#[test]
fn serve_stops_on_ctrl_c_and_reports_bad_settings() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr, _stderr) = spawn_serve(dir.path(), &[]);
    assert_eq!(get(addr, "/health").status, 200);
    signal(&child.0, "INT");
    assert!(wait_exit(&mut child.0).success());

    let output = Command::new(env!("CARGO_BIN_EXE_keystroke-workbench"))
        .args(["serve", "--port", "0"])
        .env("KW_CONTAMINATION", "lots")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("KW_CONTAMINATION=\"lots\" is invalid"),
        "{stderr}"
    );
}

#[test]
fn a_flask_era_folder_is_served_and_its_users_enrol_again() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The old backend's files: features in seconds, its own metadata, a pickle. The pickle is
    // a FIFO: opening it would block this test forever.
    std::fs::write(
        d.join("carol_features.npy"),
        b"\x93NUMPY old rows in seconds",
    )
    .unwrap();
    std::fs::write(
        d.join("carol_metadata.json"),
        br#"{"user_id": "carol", "samples_count": 7, "feature_length": 31}"#,
    )
    .unwrap();
    let fifo = d.join("carol.joblib");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let (mut child, addr, mut stderr) = spawn_serve(d, &[]);

    let info = get(addr, "/user/carol/info");
    assert_eq!(info.status, 200);
    let body = info.json();
    assert_eq!(body["needs_reenrolment"], true);
    assert_eq!(body["training_samples"], 0);
    assert_eq!(body["has_trained_model"], false);
    let predict = post(addr, "/predict", &sample_body("carol", genuine(0)));
    assert_eq!(predict.status, 404);
    assert_eq!(predict.json()["needs_reenrolment"], true);

    let train = post(addr, "/train", &sample_body("carol", genuine(0)));
    assert_eq!(train.status, 200, "{}", train.text());
    assert_eq!(
        train.json()["samples_count"],
        1,
        "old rows are never trained from"
    );
    let body = get(addr, "/user/carol/info").json();
    assert_eq!(body["needs_reenrolment"], false);
    assert_eq!(body["training_samples"], 1);
    for old in ["carol_features.npy", "carol_metadata.json", "carol.joblib"] {
        assert!(d.join("legacy/carol").join(old).exists(), "{old} archived");
    }
    signal(&child.0, "TERM");
    assert!(wait_exit(&mut child.0).success());
    let mut log = String::new();
    stderr.read_to_string(&mut log).unwrap();
    assert!(
        log.contains("1 user(s) were enrolled by the old backend and must enrol again"),
        "{log}"
    );
    assert!(log.contains(": carol"), "{log}");
}

fn store_sample(variant: usize) -> Sample {
    let events: Vec<KeyEvent> = serde_json::from_value(genuine(variant)).unwrap();
    Sample::from_events(events).unwrap()
}

#[test]
fn the_embedded_server_uses_what_its_caller_trains_and_stops_on_drop() {
    let server = TestServer::start();
    let addr = server.addr();
    let alice = UserId::parse("alice").unwrap();
    let now = NaiveDate::from_ymd_opt(2026, 11, 21)
        .unwrap()
        .and_hms_opt(9, 0, 0)
        .unwrap();
    // The caller (the GUI) enrols through the shared store, without training.
    for i in 0..6 {
        server
            .store
            .with_user(&alice, |w| w.add_sample(&store_sample(i), None, now))
            .unwrap();
    }
    assert_eq!(
        post(addr, "/predict", &sample_body("alice", genuine(1))).status,
        404
    );
    let info = get(addr, "/user/alice/info").json();
    assert_eq!(info["training_samples"], 6);
    assert_eq!(info["has_trained_model"], false);
    // It trains a scaled-Manhattan model; the next request uses it, no restart.
    server
        .store
        .with_user(&alice, |w| {
            w.train(
                &"manhattan-scaled"
                    .parse::<keystroke_workbench::detect::DetectorKind>()
                    .unwrap()
                    .default_params(),
                now,
            )
        })
        .unwrap();
    let reply = post(addr, "/predict", &sample_body("alice", genuine(1)));
    assert_eq!(reply.status, 200);
    assert_eq!(
        get(addr, "/user/alice/info").json()["detector"],
        "manhattan-scaled"
    );
    // Then the default detector.
    server
        .store
        .with_user(&alice, |w| w.train(&DetectorParams::default(), now))
        .unwrap();
    assert_eq!(
        get(addr, "/user/alice/info").json()["detector"],
        keystroke_workbench::detect::DEFAULT_DETECTOR.id()
    );

    let port = addr.port();
    drop(server);
    assert!(
        TcpStream::connect(addr).is_err(),
        "stopped and joined on drop"
    );
    // The port can be bound again at once (the bind retries while it is released).
    let again = TestServer::start();
    drop(again);
    let listener = keystroke_workbench::server::ServerHandle::start(
        Arc::new(keystroke_workbench::api::Api::new(
            Arc::new(
                keystroke_workbench::store::Store::open(tempfile::tempdir().unwrap().path())
                    .unwrap(),
            ),
            ApiConfig::default(),
        )),
        &keystroke_workbench::server::ServerConfig {
            host: "127.0.0.1".into(),
            port,
            workers: 2,
            request_timeout: Duration::from_secs(5),
            tls: None,
            ..keystroke_workbench::server::ServerConfig::default()
        },
    );
    assert!(
        listener.is_ok(),
        "rebinding port {port}: {:?}",
        listener.err()
    );
}

#[test]
fn thirty_two_concurrent_trainers_lose_no_sample() {
    // Throttling off: this is about concurrent writers, and predictions may fail.
    let server = Arc::new(TestServer::with_config(ApiConfig {
        throttle: keystroke_workbench::auth::Throttle {
            max_failures: 0,
            ..Default::default()
        },
        ..ApiConfig::default()
    }));
    let addr = server.addr();
    let trainers: Vec<_> = (0..32)
        .map(|t| {
            thread::spawn(move || {
                (0..10)
                    .map(|i| {
                        let reply =
                            post(addr, "/train", &sample_body("shared", genuine(t * 10 + i)));
                        assert_eq!(reply.status, 200, "{}", reply.text());
                        reply.json()["samples_count"].as_u64().unwrap()
                    })
                    .collect::<Vec<u64>>()
            })
        })
        .collect();
    let predictors: Vec<_> = (0..4)
        .map(|p| {
            thread::spawn(move || {
                let mut trained = false;
                let mut answered = 0;
                for i in 0..40 {
                    let reply = post(
                        addr,
                        "/predict",
                        &sample_body("shared", genuine(10_000 + 100 * p + i)),
                    );
                    match reply.status {
                        200 => trained = true,
                        404 => assert!(!trained, "a trained model went missing"),
                        other => panic!("/predict answered {other}: {}", reply.text()),
                    }
                    answered += 1;
                    thread::sleep(Duration::from_millis(5));
                }
                answered
            })
        })
        .collect();
    let mut counts: Vec<u64> = trainers
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    for p in predictors {
        assert_eq!(p.join().unwrap(), 40);
    }
    counts.sort_unstable();
    assert_eq!(
        counts,
        (1..=320).collect::<Vec<u64>>(),
        "each call saw its own count"
    );
    let info = get(addr, "/user/shared/info").json();
    assert_eq!(info["training_samples"], 320);
    let npy = std::fs::read(server.dir.path().join("shared_features.npy")).unwrap();
    let header = String::from_utf8_lossy(&npy[10..npy.len().min(128)]);
    assert!(header.contains("'shape': (320, 22)"), "{header}");
}

#[test]
fn a_train_in_progress_does_not_hold_up_predict() {
    let server = TestServer::start();
    let addr = server.addr();
    for i in 0..5 {
        assert_eq!(
            post(addr, "/train", &sample_body("alice", genuine(i))).status,
            200
        );
    }
    // Three /train requests stall half-way through their bodies.
    let phrase = [
        ".", "t", "i", "e", "5", "R", "o", "a", "n", "l", "Shift", "Enter",
    ];
    let body = sample_body("bob", events(&phrase, |_| (90.0, 180.0))).to_string();
    let stalled: Vec<TcpStream> = (0..3)
        .map(|_| {
            let mut stream = TcpStream::connect(addr).unwrap();
            write!(
                stream,
                "POST /train HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .unwrap();
            stream
                .write_all(&body.as_bytes()[..body.len() / 2])
                .unwrap();
            stream
        })
        .collect();
    thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let reply = post(addr, "/predict", &sample_body("alice", genuine(2)));
    assert_eq!(reply.status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    drop(stalled);
}
