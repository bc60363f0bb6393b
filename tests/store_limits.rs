//! The store's limits over real HTTP, on a real `serve`: the per-user and user-count quotas, the
//! free-space reserve, a full disk (a 1 MiB tmpfs mounted for the test; needs root), and a
//! damaged user — every other user is still served, the damaged one is told what to run, and
//! `store check --repair` fixes it.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use keystroke_workbench::store::{Store, UserId};
use serde_json::json;

fn train(addr: std::net::SocketAddr, user: &str, variant: usize) -> Reply {
    post(addr, "/train", &sample_body(user, genuine(variant)))
}

#[test]
fn the_sample_quota_refuses_with_a_json_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let (_serve, addr, _log) = spawn_serve(dir.path(), &[("KW_MAX_SAMPLES_PER_USER", "3")]);
    for i in 0..3 {
        assert_eq!(train(addr, "alice", i).status, 200);
    }
    let refused = train(addr, "alice", 3);
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert!(
        refused.error().contains("KW_MAX_SAMPLES_PER_USER"),
        "{}",
        refused.error()
    );
    assert_eq!(get(addr, "/user/alice/info").json()["training_samples"], 3);
    assert_eq!(
        train(addr, "bob", 0).status,
        200,
        "other users are not limited"
    );
}

#[test]
fn the_user_quota_refuses_new_users_only() {
    let dir = tempfile::tempdir().unwrap();
    let (_serve, addr, _log) = spawn_serve(dir.path(), &[("KW_MAX_USERS", "2")]);
    assert_eq!(train(addr, "alice", 0).status, 200);
    assert_eq!(train(addr, "bob", 0).status, 200);
    let refused = train(addr, "carol", 0);
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert!(
        refused.error().contains("KW_MAX_USERS"),
        "{}",
        refused.error()
    );
    assert!(!dir.path().join("carol_metadata.json").exists());
    assert_eq!(
        train(addr, "alice", 1).status,
        200,
        "known users still train"
    );
}

#[test]
fn below_the_free_space_reserve_train_is_507_and_predict_and_info_work() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (_serve, addr, _log) = spawn_serve(dir.path(), &[]);
        for i in 0..5 {
            assert_eq!(train(addr, "alice", i).status, 200);
        }
    }
    // More than any disk here has free.
    let (_serve, addr, _log) = spawn_serve(dir.path(), &[("KW_MIN_FREE_MB", "1000000000")]);
    let before = files_under(dir.path());
    let refused = train(addr, "alice", 5);
    assert_eq!(refused.status, 507, "{}", refused.text());
    assert!(
        refused.error().contains("KW_MIN_FREE_MB"),
        "{}",
        refused.error()
    );
    let info = get(addr, "/user/alice/info");
    assert_eq!(info.status, 200);
    assert_eq!(info.json()["training_samples"], 5);
    let predict = post(addr, "/predict", &sample_body("alice", genuine(50)));
    assert_eq!(predict.status, 200, "{}", predict.text());
    let mut after = files_under(dir.path());
    after.remove("audit.jsonl");
    let mut before = before;
    before.remove("audit.jsonl");
    assert_eq!(after, before, "nothing stored");
}

/// A tmpfs of `size` mounted on a fresh folder, unmounted on drop.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mounting a tmpfs failed: the disk-full test needs root (CI runs as root)"
        );
        Tmpfs(dir)
    }

    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

#[test]
fn a_full_disk_is_507_and_tears_nothing() {
    let disk = Tmpfs::mount("256k");
    let models = disk.path().join("models");
    let (_serve, addr, _log) = spawn_serve(
        &models,
        &[
            ("KW_LOG", "off"),
            ("KW_MIN_FREE_MB", "0"),
            ("KW_MIN_SAMPLES", "100000"),
        ],
    );
    let mut acknowledged = std::collections::BTreeMap::<String, usize>::new();
    let mut full = 0;
    for i in 0..2000 {
        let user = format!("u{}", i % 7);
        let reply = train(addr, &user, i);
        match reply.status {
            200 => *acknowledged.entry(user).or_default() += 1,
            507 => {
                assert!(reply.error().contains("disk is full"), "{}", reply.error());
                assert!(
                    !reply.error().contains(disk.path().to_str().unwrap()),
                    "{}",
                    reply.error()
                );
                full += 1;
                if full == 20 {
                    break;
                }
            }
            other => panic!("{user}: {other}: {}", reply.text()),
        }
    }
    assert_eq!(full, 20, "the disk filled up");
    let refused = train(addr, "newcomer", 9999);
    assert_eq!(refused.status, 507, "{}", refused.text());
    let left: Vec<String> = std::fs::read_dir(&models)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("newcomer"))
        .collect();
    assert!(
        left.is_empty(),
        "a refused first sample leaves no file: {left:?}"
    );
    let info = get(addr, "/user/u0/info");
    assert_eq!(info.status, 200);
    assert_eq!(info.json()["training_samples"], acknowledged["u0"]);
    let store = Store::open(&models).unwrap();
    for (user, count) in &acknowledged {
        let id = UserId::parse(user).unwrap();
        let metadata = store.metadata(&id).unwrap().unwrap();
        assert_eq!(metadata.samples, *count, "{user}");
        assert_eq!(store.samples(&id, &metadata).unwrap().len(), *count);
        assert_eq!(store.features(&id, &metadata).unwrap().nrows(), *count);
    }
    let (clean, report) = store_check(&models, false);
    assert!(clean, "{report}");
}

#[test]
fn a_damaged_user_is_500_naming_the_repair_while_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (_serve, addr, _log) = spawn_serve(dir.path(), &[]);
        for i in 0..5 {
            assert_eq!(train(addr, "alice", i).status, 200);
            assert_eq!(train(addr, "bob", 100 + i).status, 200);
        }
    }
    // Bob's features file loses its second half.
    let bob = dir.path().join("bob_features.npy");
    let bytes = std::fs::read(&bob).unwrap();
    std::fs::write(&bob, &bytes[..bytes.len() / 2]).unwrap();

    let (_serve, addr, _log) = spawn_serve(dir.path(), &[]);
    let damaged = train(addr, "bob", 200);
    assert_eq!(damaged.status, 500, "{}", damaged.text());
    let error = damaged.error();
    assert!(error.contains("store check --repair"), "{error}");
    assert!(
        !error.contains(dir.path().to_str().unwrap()) && !error.contains("bob_features"),
        "{error}"
    );
    assert_eq!(train(addr, "alice", 5).status, 200, "alice is served");
    assert_eq!(get(addr, "/user/alice/info").json()["training_samples"], 6);
    let predict = post(addr, "/predict", &sample_body("alice", genuine(70)));
    assert_eq!(predict.status, 200);

    let (clean, report) = store_check(dir.path(), false);
    assert!(!clean, "{report}");
    assert!(
        report.contains("damaged: user 'bob'") && report.contains("bob_features.npy"),
        "{report}"
    );
    let (_, repair) = store_check(dir.path(), true);
    assert!(
        repair.contains("moved") && repair.contains("quarantine"),
        "{repair}"
    );
    let (clean, report) = store_check(dir.path(), false);
    assert!(clean, "{report}");
    // Bob's files are kept in quarantine, and bob can enrol again.
    let quarantined = files_under(&dir.path().join("quarantine"));
    assert!(
        quarantined.keys().any(|k| k.ends_with("/bob_features.npy")),
        "{quarantined:?}"
    );
    assert_eq!(train(addr, "bob", 300).json()["samples_count"], json!(1));
}

#[test]
fn repair_truncates_a_torn_tail_to_the_last_committed_sample() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (_serve, addr, _log) = spawn_serve(dir.path(), &[]);
        for i in 0..3 {
            assert_eq!(train(addr, "alice", i).status, 200);
        }
    }
    let path = dir.path().join("alice_samples.jsonl");
    let committed = std::fs::read(&path).unwrap();
    let mut torn = committed.clone();
    torn.extend_from_slice(b"{\"added_at\":");
    std::fs::write(&path, &torn).unwrap();
    let (clean, report) = store_check(dir.path(), false);
    assert!(clean, "a torn tail is uncommitted, not damage: {report}");
    assert!(
        report.contains("uncommitted") && report.contains("alice_samples.jsonl"),
        "{report}"
    );
    let (_, repair) = store_check(dir.path(), true);
    assert!(repair.contains("truncated"), "{repair}");
    assert_eq!(std::fs::read(&path).unwrap(), committed);
    let (_, report) = store_check(dir.path(), false);
    assert!(
        report.contains("clean: 1 users checked, 0 findings"),
        "{report}"
    );
}

#[test]
fn a_damaged_throttle_log_refuses_attempts_until_repaired_and_keeps_the_counts() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join(keystroke_workbench::store::THROTTLE_LOG);
    {
        let (_serve, addr, _log) = spawn_serve(dir.path(), &[]);
        for i in 0..5 {
            assert_eq!(train(addr, "alice", i).status, 200);
        }
        for _ in 0..2 {
            let reply = post(addr, "/predict", &sample_body("alice", imposter()));
            assert_eq!(reply.json()["authenticated"], false, "{}", reply.text());
        }
        let counted = wait_for_throttle(
            dir.path(),
            "alice",
            std::time::Duration::from_secs(5),
            |s| s.consecutive_failures == 2,
        );
        assert_eq!(counted.consecutive_failures, 2);
    }
    let mut bytes = std::fs::read(&log).unwrap();
    bytes.extend_from_slice(b"{\"user\": \"bob\", \"state\": garbage}\n");
    std::fs::write(&log, &bytes).unwrap();

    let (clean, report) = store_check(dir.path(), false);
    assert!(!clean, "{report}");
    assert!(report.contains("throttle.log"), "{report}");
    {
        let (_serve, addr, _log) = spawn_serve(dir.path(), &[]);
        let refused = post(addr, "/predict", &sample_body("alice", genuine(900)));
        assert_eq!(refused.status, 503, "fails closed: {}", refused.text());
        let error = refused.error();
        assert!(!error.contains(dir.path().to_str().unwrap()), "{error}");
        let health = get(addr, "/health").json();
        assert_eq!(health["status"], "degraded", "{health}");
        let reason = health["reason"].as_str().unwrap();
        assert!(reason.contains("store check --repair"), "{reason}");
    }
    let (_, repair) = store_check(dir.path(), true);
    assert!(repair.contains("rewrote"), "{repair}");
    let (clean, report) = store_check(dir.path(), false);
    assert!(clean, "{report}");
    let store = Store::open(dir.path()).unwrap();
    let alice = store.throttle(&UserId::parse("alice").unwrap()).unwrap();
    assert_eq!(
        alice.consecutive_failures, 2,
        "the readable counts survive repair"
    );
    let quarantined =
        std::fs::read_dir(dir.path().join(keystroke_workbench::store::QUARANTINE_DIR))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path()
            .join(keystroke_workbench::store::THROTTLE_LOG);
    assert_eq!(
        std::fs::read(quarantined).unwrap(),
        bytes,
        "the damaged log is kept"
    );
    let (_serve, addr, _log) = spawn_serve(dir.path(), &[]);
    let reply = post(addr, "/predict", &sample_body("alice", genuine(901)));
    assert_eq!(reply.status, 200, "{}", reply.text());
}
