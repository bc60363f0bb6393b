//! Undoing an enrolment mistake from the command line while a `serve` answers for the same
//! store: `samples USER --exclude N` takes a sample out of use (kept on disk), the running
//! server's counts and model follow at once, `export` leaves it out, and `--restore N` puts it
//! back.

mod common;

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

fn workbench(models: &Path, args: &[&str]) -> (bool, String) {
    let output = Command::new(common::workbench_bin())
        .args(args)
        .arg("--models")
        .arg(models)
        .output()
        .expect("the binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn info(addr: std::net::SocketAddr) -> Value {
    let reply = common::get(addr, "/user/s002/info");
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()
}

/// The table row of sample `number`.
fn row(table: &str, number: usize) -> String {
    table
        .lines()
        .find(|line| line.split_whitespace().next() == Some(&number.to_string()))
        .unwrap_or_else(|| panic!("no row {number} in\n{table}"))
        .to_string()
}

#[test]
fn a_sample_excluded_from_the_cli_leaves_the_running_servers_model_and_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("store");
    let session = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_sessions/s002.json");
    let (ok, text) = workbench(
        &models,
        &[
            "import",
            session.to_str().unwrap(),
            "--train",
            "manhattan-scaled",
        ],
    );
    assert!(ok, "{text}");
    let (_serve, addr, _stderr) = common::spawn_serve(&models, &[]);
    assert_eq!(info(addr)["training_samples"], 20);

    let (ok, table) = workbench(&models, &["samples", "s002"]);
    assert!(ok, "{table}");
    assert!(
        table.contains("s002: 20 samples, 20 in use, model manhattan-scaled"),
        "{table}"
    );
    assert!(!row(&table, 3).contains("excluded"), "{table}");

    let (ok, text) = workbench(&models, &["samples", "s002", "--exclude", "3"]);
    assert!(ok, "{text}");
    assert!(
        text.contains("s002: sample 3 excluded; manhattan-scaled trained on 19"),
        "{text}"
    );
    assert!(row(&text, 3).contains("excluded"), "{text}");
    let after = info(addr);
    assert_eq!(after["training_samples"], 19, "{after}");
    assert_eq!(after["excluded_samples"], 1, "{after}");
    assert_eq!(after["has_trained_model"], true, "{after}");

    // A new sample counts toward the samples in use; the excluded one still is not.
    let file: Value = serde_json::from_slice(&std::fs::read(&session).unwrap()).unwrap();
    let mut events = file["samples"][0]["keystroke_data"].clone();
    for event in events.as_array_mut().unwrap() {
        let t = event["timestamp"].as_f64().unwrap();
        event["timestamp"] = json!(t * 1.01);
    }
    let reply = common::post(
        addr,
        "/train",
        &json!({"user_id": "s002", "keystroke_data": events}),
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["samples_count"], 20);
    assert_eq!(info(addr)["training_samples"], 20);

    let exported = dir.path().join("s002-out.json");
    let (ok, text) = workbench(
        &models,
        &["export", "s002", "--out", exported.to_str().unwrap()],
    );
    assert!(ok, "{text}");
    assert!(
        text.contains("20 samples written") && text.contains("(1 excluded left out)"),
        "{text}"
    );

    let (ok, text) = workbench(&models, &["samples", "s002", "--restore", "3"]);
    assert!(ok, "{text}");
    // (The server's /train retrained with its own detector.)
    assert!(
        text.contains("sample 3 restored; fusion trained on 21"),
        "{text}"
    );
    let restored = info(addr);
    assert_eq!(restored["training_samples"], 21, "{restored}");
    assert!(restored.get("excluded_samples").is_none(), "{restored}");

    // Mistyped numbers are named and change nothing.
    let (ok, text) = workbench(&models, &["samples", "s002", "--exclude", "99"]);
    assert!(
        !ok && text.contains("has no sample 99 (they have 21)"),
        "{text}"
    );
    let (ok, text) = workbench(&models, &["samples", "s002", "--exclude", "0"]);
    assert!(!ok && text.contains("numbered from 1"), "{text}");
    assert_eq!(info(addr)["training_samples"], 21);
    let (clean, report) = common::store_check(&models, false);
    assert!(clean, "{report}");
}
