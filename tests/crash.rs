//! Crash safety of the real server process: `serve` under a /train loop (plus a /predict loop
//! whose genuine attempts update the template, `KW_TEMPLATE_UPDATE`, and whose impostor attempts
//! append to the throttle log) is killed with SIGKILL at random moments, `KW_CRASH_ROUNDS` times
//! (default 50), and restarted on the same folder. After each restart:
//! - no temporary file is left in the store;
//! - every file parses: metadata, features, samples, model, the throttle log, template updates, each
//!   audit line;
//! - each user's `samples_count` equals the /train calls answered 200. A call cut off by the kill
//!   is resent after the restart, as a client would: a 200 means it had not been stored, and
//!   "duplicate sample" means it had been (and was then answered, so it counts).
//!
//! `scripts/crash-test [ROUNDS]` runs it alone with a release build.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::*;
use keystroke_workbench::store::{Store, UserId};
use rand::{RngExt, SeedableRng};
use serde_json::Value;

const TRAINERS: usize = 4;
const UPDATE_WINDOW: usize = 5;

/// A trainer's view of its user: samples acknowledged, and the one cut off by a kill.
#[derive(Default)]
struct Trainer {
    next_variant: usize,
    acknowledged: usize,
    in_flight: Option<usize>,
}

/// Sends fresh samples until the server stops answering; checks each answer's count.
fn train_until_killed(addr: SocketAddr, user: &str, state: &Mutex<Trainer>) {
    loop {
        let variant = {
            let mut state = state.lock().unwrap();
            state.next_variant += 1;
            state.in_flight = Some(state.next_variant);
            state.next_variant
        };
        let Some(reply) = post_train(addr, user, variant) else {
            return; // killed: `in_flight` stays set
        };
        assert_eq!(reply.status, 200, "{user}: {}", reply.text());
        let mut state = state.lock().unwrap();
        state.in_flight = None;
        state.acknowledged += 1;
        assert_eq!(
            reply.json()["samples_count"],
            state.acknowledged,
            "{user}: the count answered"
        );
    }
}

/// Genuine and impostor attempts in turn on an enrolled user until the server stops answering.
fn predict_until_killed(addr: SocketAddr, stop: &AtomicBool, round: usize) {
    for k in 0.. {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let attempt = if k % 2 == 0 {
            genuine(1000 + round * 1000 + k)
        } else {
            events(&PHRASE, |i| {
                (
                    300.0 + 40.0 * i as f64 + (round * 1000 + k) as f64 * 1e-3,
                    900.0,
                )
            })
        };
        let body = sample_body("p", attempt).to_string();
        let raw = raw_request(addr, "POST", "/predict", &[], body.as_bytes());
        match try_send_raw(addr, &raw) {
            None => return,
            Some(reply) => assert!(
                matches!(reply.status, 200 | 429),
                "/predict: {} {}",
                reply.status,
                reply.text()
            ),
        }
    }
}

/// Resends a sample cut off by the kill; it counts if it is stored now or was stored before.
/// Returns whether it had been stored before the kill.
fn reconcile(addr: SocketAddr, user: &str, state: &mut Trainer) -> bool {
    let Some(variant) = state.in_flight.take() else {
        return false;
    };
    let reply = post_train(addr, user, variant).expect("the restarted server answers");
    let expected = state.acknowledged + 1;
    state.acknowledged = expected;
    match reply.status {
        200 => assert_eq!(reply.json()["samples_count"], expected, "{user}"),
        400 => assert_eq!(
            reply.error(),
            format!("duplicate sample: its timings are identical to stored sample {expected}"),
            "{user}"
        ),
        other => panic!("{user}: resend answered {other}: {}", reply.text()),
    }
    reply.status == 400
}

fn temp_files(dir: &Path) -> Vec<String> {
    files_under(dir)
        .into_keys()
        .filter(|name| name.split('/').any(|part| part.starts_with(".tmp-")))
        .collect()
}

/// Every file of every user parses and agrees with the acknowledged counts.
fn check_store(dir: &Path, expected: &BTreeMap<String, usize>) {
    let store = Store::open(dir).unwrap();
    for (user, &count) in expected {
        let id = UserId::parse(user).unwrap();
        let Some(metadata) = store.metadata(&id).unwrap() else {
            assert_eq!(count, 0, "{user} has no metadata");
            continue;
        };
        assert_eq!(metadata.samples, count, "{user}: samples committed");
        assert_eq!(store.features(&id, &metadata).unwrap().nrows(), count);
        assert_eq!(store.samples(&id, &metadata).unwrap().len(), count);
        if count >= 5 {
            let model = store.model(&id, &metadata).unwrap().expect("a model");
            assert_eq!(model.trained_on_samples, count, "{user}: model is current");
        }
    }
    let p = UserId::parse("p").unwrap();
    store.throttle(&p).unwrap();
    let metadata = store.metadata(&p).unwrap().expect("p is enrolled");
    let updates = store.updates(&p, &metadata).unwrap();
    assert!(
        updates.nrows() <= UPDATE_WINDOW,
        "{} updates",
        updates.nrows()
    );
    let model = store.model(&p, &metadata).unwrap().expect("p's model");
    assert!(model.trained_on_updates <= UPDATE_WINDOW);
    assert_eq!(model.trained_on_samples, 5);
    if let Ok(audit) = std::fs::read_to_string(dir.join("audit.jsonl")) {
        for (i, line) in audit.lines().enumerate() {
            serde_json::from_str::<Value>(line)
                .unwrap_or_else(|e| panic!("audit line {}: {e}: {line:?}", i + 1));
        }
    }
}

#[test]
fn kill_9_under_a_train_loop_loses_nothing() {
    let rounds: usize = std::env::var("KW_CRASH_ROUNDS").map_or(50, |v| v.parse().unwrap());
    let seed: u64 = std::env::var("KW_CRASH_SEED")
        .map_or_else(|_| rand::rng().random(), |v| v.parse().unwrap());
    println!("KW_CRASH_SEED={seed} KW_CRASH_ROUNDS={rounds}");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let window = UPDATE_WINDOW.to_string();
    // The trainers type p's phrase much as p does, so the cohort guard would refuse p's
    // updates: it is off, for the update path's writes to be killed in flight too.
    let env = [
        ("KW_LOG", "warn"),
        ("KW_TEMPLATE_UPDATE", window.as_str()),
        ("KW_UPDATE_COHORT", "false"),
    ];

    let trainers: Vec<(String, Arc<Mutex<Trainer>>)> = (0..TRAINERS)
        .map(|i| (format!("t{i}"), Arc::default()))
        .collect();
    let (mut serve, mut addr, _) = spawn_serve(dir.path(), &env);
    for variant in 0..5 {
        let reply = post(addr, "/train", &sample_body("p", genuine(variant)));
        assert_eq!(reply.status, 200, "{}", reply.text());
    }

    let (mut interrupted, mut stored_before_kill, mut temps_at_kill) = (0, 0, 0);
    for round in 0..rounds {
        let stop = Arc::new(AtomicBool::new(false));
        let mut clients: Vec<_> = trainers
            .iter()
            .map(|(user, state)| {
                let (user, state) = (user.clone(), Arc::clone(state));
                thread::spawn(move || train_until_killed(addr, &user, &state))
            })
            .collect();
        let predict_stop = Arc::clone(&stop);
        clients.push(thread::spawn(move || {
            predict_until_killed(addr, &predict_stop, round)
        }));

        thread::sleep(Duration::from_millis(rng.random_range(20..400)));
        serve.0.kill().unwrap();
        serve.0.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        for client in clients {
            client.join().expect("a client thread failed");
        }
        temps_at_kill += usize::from(!temp_files(dir.path()).is_empty());

        (serve, addr, _) = spawn_serve(dir.path(), &env);
        let left = temp_files(dir.path());
        assert!(left.is_empty(), "round {round}: left behind {left:?}");
        let mut expected = BTreeMap::new();
        for (user, state) in &trainers {
            let mut state = state.lock().unwrap();
            interrupted += usize::from(state.in_flight.is_some());
            stored_before_kill += usize::from(reconcile(addr, user, &mut state));
            let info = get(addr, &format!("/user/{user}/info")).json();
            assert_eq!(
                info["training_samples"], state.acknowledged,
                "round {round}: {user}"
            );
            expected.insert(user.clone(), state.acknowledged);
        }
        check_store(dir.path(), &expected);
    }
    let total: usize = trainers
        .iter()
        .map(|(_, s)| s.lock().unwrap().acknowledged)
        .sum();
    println!(
        "{rounds} kills: {total} samples acknowledged; {interrupted} /train calls cut off, \
         {stored_before_kill} of them stored before the kill; temporary files present at \
         {temps_at_kill} kills, none after any restart"
    );
    assert!(total > rounds, "the loop made progress");
    let store = Store::open(dir.path()).unwrap();
    let p = UserId::parse("p").unwrap();
    let metadata = store.metadata(&p).unwrap().unwrap();
    let updates = store.updates(&p, &metadata).unwrap().nrows();
    println!("p's template holds {updates} accepted attempts");
    assert!(updates > 0, "the template update path ran");
}
