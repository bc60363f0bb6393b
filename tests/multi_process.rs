//! Several programs on one store folder, as real processes: two `serve` and a loop of CLI
//! `import`s writing the same user and their own users at once; and `kill -9` of one of two
//! writing servers, round after round. Every call answered 200 is stored exactly once, nothing
//! else is, every file parses (`store check` reports it clean), and the servers, the samples file
//! and NumPy agree on the counts.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use common::*;
use keystroke_workbench::capture::KeyEvent;
use keystroke_workbench::session::SessionFile;
use keystroke_workbench::store::{Store, UserId};
use rand::{RngExt, SeedableRng};
use serde_json::Value;

const THREADS: usize = 8;
const PER_THREAD: usize = 4;
const SHARED: &str = "shared@lab.org";

/// What each user was acknowledged: the events of every sample answered 200 (or imported).
type Acknowledged = Mutex<BTreeMap<String, Vec<Value>>>;

fn acknowledge(acknowledged: &Acknowledged, user: String, events: Value) {
    acknowledged
        .lock()
        .unwrap()
        .entry(user)
        .or_default()
        .push(events);
}

/// Imports one sample of `user` through the command line.
fn import(models: &Path, sessions: &Path, user: &str, events: &Value, name: &str) {
    let events: Vec<KeyEvent> = serde_json::from_value(events.clone()).unwrap();
    let file = sessions.join(format!("{name}.json"));
    std::fs::write(
        &file,
        serde_json::to_vec(&SessionFile::new(user, [events])).unwrap(),
    )
    .unwrap();
    let output = Command::new(workbench_bin())
        .arg("import")
        .arg(&file)
        .arg("--models")
        .arg(models)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "import of {user}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Every user's stored samples are exactly the acknowledged ones, and the metadata, the samples
/// file's lines, NumPy's rows and every server's /info agree.
fn assert_stored_exactly(
    models: &Path,
    acknowledged: &BTreeMap<String, Vec<Value>>,
    servers: &[SocketAddr],
) {
    let store = Store::open(models).unwrap();
    let users: Vec<String> = store
        .users()
        .unwrap()
        .iter()
        .map(|u| u.to_string())
        .collect();
    let expected: Vec<&String> = acknowledged.keys().collect();
    assert_eq!(users.iter().collect::<Vec<_>>(), expected, "users stored");
    let mut features = Vec::new();
    for (user, sent) in acknowledged {
        let id = UserId::parse(user).unwrap();
        let metadata = store.metadata(&id).unwrap().expect("metadata");
        assert_eq!(metadata.samples, sent.len(), "{user}: samples committed");
        let mut stored: Vec<String> = store
            .samples(&id, &metadata)
            .unwrap()
            .iter()
            .map(|s| serde_json::to_value(&s.keystroke_data).unwrap().to_string())
            .collect();
        let mut sent: Vec<String> = sent.iter().map(Value::to_string).collect();
        stored.sort();
        sent.sort();
        assert_eq!(
            stored, sent,
            "{user}: each acknowledged sample once, nothing else"
        );
        let lines = std::fs::read_to_string(store.paths(&id).samples).unwrap();
        assert_eq!(
            lines.lines().count(),
            sent.len(),
            "{user}: samples.jsonl lines"
        );
        features.push(store.paths(&id).features);
        for addr in servers {
            let info = get(*addr, &format!("/user/{user}/info")).json();
            assert_eq!(
                info["training_samples"],
                sent.len(),
                "{user}: /info on {addr}"
            );
        }
    }
    let counts: Vec<usize> = acknowledged.values().map(Vec::len).collect();
    assert_eq!(numpy_rows(&features), counts, "np.load row counts");
    let (clean, report) = store_check(models, false);
    assert!(clean && report.contains("clean:"), "{report}");
}

#[test]
fn two_servers_and_an_import_loop_store_every_acknowledged_sample_once() {
    let dir = tempfile::tempdir().unwrap();
    let sessions = tempfile::tempdir().unwrap();
    let models = dir.path();
    let env = [("KW_LOG", "warn"), ("KW_MIN_SAMPLES", "3")];
    let (_a, addr_a, _log_a) = spawn_serve(models, &env);
    let (_b, addr_b, _log_b) = spawn_serve(models, &env);
    let acknowledged = Acknowledged::default();
    thread::scope(|scope| {
        for (program, target) in [Some(addr_a), Some(addr_b), None].into_iter().enumerate() {
            for t in 0..THREADS {
                let (acknowledged, sessions) = (&acknowledged, sessions.path());
                scope.spawn(move || {
                    for k in 0..PER_THREAD {
                        let user = if k % 2 == 0 {
                            SHARED.to_string()
                        } else {
                            format!("p{program}-t{t}")
                        };
                        let events = genuine(10_000 * (program + 1) + 100 * t + k);
                        match target {
                            Some(addr) => {
                                let reply =
                                    post(addr, "/train", &sample_body(&user, events.clone()));
                                assert_eq!(reply.status, 200, "{user} on {addr}: {}", reply.text());
                            }
                            None => import(models, sessions, &user, &events, &format!("{t}-{k}")),
                        }
                        acknowledge(acknowledged, user, events);
                    }
                });
            }
        }
    });
    let acknowledged = acknowledged.into_inner().unwrap();
    assert_eq!(acknowledged[SHARED].len(), 3 * THREADS * PER_THREAD / 2);
    assert_stored_exactly(models, &acknowledged, &[addr_a, addr_b]);
}

/// A client thread of the kill test: the user it trains and the server it sends to.
struct Writer {
    user: String,
    server: usize,
}

#[test]
fn kill_9_of_one_of_two_writing_servers_loses_nothing_acknowledged() {
    let rounds: usize = std::env::var("KW_MULTI_CRASH_ROUNDS").map_or(20, |v| v.parse().unwrap());
    let seed: u64 = std::env::var("KW_CRASH_SEED")
        .map_or_else(|_| rand::rng().random(), |v| v.parse().unwrap());
    println!("KW_CRASH_SEED={seed} KW_MULTI_CRASH_ROUNDS={rounds}");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let env = [("KW_LOG", "warn"), ("KW_MIN_SAMPLES", "3")];
    let mut servers: Vec<(Serve, SocketAddr)> = (0..2)
        .map(|_| {
            let (child, addr, _) = spawn_serve(dir.path(), &env);
            (child, addr)
        })
        .collect();
    // Both servers write the same three users.
    let writers: Vec<Writer> = (0..6)
        .map(|i| Writer {
            user: format!("u{}", i % 3),
            server: i / 3,
        })
        .collect();
    let acknowledged = Acknowledged::default();
    let next_variant = AtomicUsize::new(0);
    for round in 0..rounds {
        let victim = round % 2;
        let addrs = [servers[0].1, servers[1].1];
        let (killed, stop) = (AtomicBool::new(false), AtomicBool::new(false));
        let after_kill = AtomicUsize::new(0);
        let cut_off: Mutex<Vec<(String, Value)>> = Mutex::default();
        thread::scope(|scope| {
            for writer in &writers {
                let addr = addrs[writer.server];
                let (acknowledged, next_variant, cut_off) =
                    (&acknowledged, &next_variant, &cut_off);
                let (killed, stop, after_kill) = (&killed, &stop, &after_kill);
                scope.spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let variant = next_variant.fetch_add(1, Ordering::Relaxed);
                        let events = genuine(variant);
                        let Some(reply) = post_train(addr, &writer.user, variant) else {
                            cut_off.lock().unwrap().push((writer.user.clone(), events));
                            return; // its server was killed
                        };
                        assert_eq!(reply.status, 200, "{}: {}", writer.user, reply.text());
                        acknowledge(acknowledged, writer.user.clone(), events);
                        if killed.load(Ordering::Relaxed) {
                            after_kill.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
            thread::sleep(Duration::from_millis(rng.random_range(30..250)));
            let _ = servers[victim].0.0.kill();
            let _ = servers[victim].0.0.wait();
            killed.store(true, Ordering::Relaxed);
            thread::sleep(Duration::from_millis(150));
            stop.store(true, Ordering::Relaxed);
        });
        assert!(
            after_kill.load(Ordering::Relaxed) > 0,
            "round {round}: the other server carried on"
        );
        // A call cut off by the kill is resent to the survivor: "duplicate" means it had been
        // stored (and is then acknowledged).
        let survivor = addrs[1 - victim];
        for (user, events) in cut_off.into_inner().unwrap() {
            let reply = post(survivor, "/train", &sample_body(&user, events.clone()));
            let duplicate = reply.status == 400 && reply.error().starts_with("duplicate sample");
            assert!(
                reply.status == 200 || duplicate,
                "{user}: resend answered {}",
                reply.text()
            );
            acknowledge(&acknowledged, user, events);
        }
        let (clean, report) = store_check(dir.path(), false);
        assert!(clean, "round {round}: {report}");
        let (child, addr, _) = spawn_serve(dir.path(), &env);
        servers[victim] = (child, addr);
        let expected = acknowledged.lock().unwrap().clone();
        assert_stored_exactly(dir.path(), &expected, &[servers[0].1, servers[1].1]);
    }
}

/// `delete` from the command line while a `serve` on the same folder answers for the user:
/// the server then knows the user no more (its model cache notices), and the user can enrol
/// afresh through it.
#[test]
fn cli_delete_while_a_server_serves_the_user() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let (_serve, addr, _stderr) = spawn_serve(&models, &[]);
    for i in 0..5 {
        let reply = post(addr, "/train", &sample_body("alice", genuine(i)));
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    let predict = post(addr, "/predict", &sample_body("alice", genuine(9)));
    assert_eq!(predict.json()["authenticated"], true, "{}", predict.text());

    let out = Command::new(env!("CARGO_BIN_EXE_keystroke-workbench"))
        .args(["delete", "alice", "--yes", "--models"])
        .arg(&models)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "alice: deleted (5 samples)\n"
    );

    let info = get(addr, "/user/alice/info").json();
    assert_eq!(info["training_samples"], 0, "{info}");
    assert_eq!(info["has_trained_model"], false, "{info}");
    let predict = post(addr, "/predict", &sample_body("alice", genuine(10)));
    assert_eq!(predict.status, 404, "{}", predict.text());
    let again = post(addr, "/train", &sample_body("alice", genuine(11)));
    assert_eq!(again.json()["samples_count"], 1, "{}", again.text());
}
