//! The command line, run as a process.

use std::process::Command;

fn workbench(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_keystroke-workbench"))
        .args(args)
        .output()
        .expect("the binary runs")
}

#[test]
fn eval_json_has_the_documented_shape() {
    let out = workbench(&["eval", "--detector", "manhattan-scaled", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["dataset"], "cmu");
    let detector = &report["detectors"][0];
    assert_eq!(detector["name"], "manhattan-scaled");
    for key in ["eer_mean", "eer_sd", "zero_miss_far_mean", "seconds"] {
        assert!(detector[key].is_f64(), "{key} missing in {detector}");
    }
    assert_eq!(
        (detector["eer_mean"].as_f64().unwrap() * 1e4).round(),
        962.0
    );
}

#[test]
fn eval_with_five_training_samples_and_seeds() {
    let out = workbench(&[
        "eval",
        "--detector",
        "isolation-forest",
        "--train-samples",
        "5",
        "--seeds",
        "2",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["train_samples"], 5);
    assert_eq!(report["seeds"], 2);
    let eer = report["detectors"][0]["eer_mean"].as_f64().unwrap();
    // scikit-learn's isolation forest gets 0.333 from 5 samples: it barely works.
    assert!((0.25..0.42).contains(&eer), "{eer}");
}

#[test]
fn eval_table_lists_every_detector() {
    let out = workbench(&["eval"]);
    assert!(out.status.success());
    let table = String::from_utf8(out.stdout).unwrap();
    for label in [
        "Isolation forest",
        "Manhattan (scaled)",
        "Nearest neighbour (Mahalanobis)",
        "Euclidean",
    ] {
        assert!(table.contains(label), "{label} missing:\n{table}");
    }
}

#[test]
fn unknown_detector_is_a_clear_error() {
    let out = workbench(&["eval", "--detector", "svm"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("unknown detector \"svm\"; known: isolation-forest"),
        "{err}"
    );
}

#[test]
fn missing_benchmark_file_is_a_clear_error() {
    let out = workbench(&["eval", "--cmu", "/nonexistent/data.csv"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("cannot read CMU benchmark /nonexistent/data.csv"),
        "{err}"
    );
}

#[test]
fn mahalanobis_from_one_sample_is_refused_with_the_reason() {
    let out = workbench(&["eval", "--detector", "mahalanobis", "--train-samples", "1"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("Mahalanobis needs at least 2 training samples, got 1"),
        "{err}"
    );
}

#[test]
fn sessions_import_export_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let sessions = dir.path().join("sessions");
    let out = workbench(&[
        "cmu-sessions",
        "--subjects",
        "s002,s003",
        "--reps",
        "6",
        "--out",
        sessions.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = workbench(&[
        "import",
        sessions.join("s002.json").to_str().unwrap(),
        sessions.join("s003.json").to_str().unwrap(),
        "--models",
        store.to_str().unwrap(),
        "--train",
        "manhattan-scaled",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("s002: 6 samples imported") && stdout.contains("manhattan-scaled trained"),
        "{stdout}"
    );
    let exported = dir.path().join("s003-again.json");
    let out = workbench(&[
        "export",
        "s003",
        "--models",
        store.to_str().unwrap(),
        "--out",
        exported.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let original: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sessions.join("s003.json")).unwrap()).unwrap();
    let again: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&exported).unwrap()).unwrap();
    assert_eq!(original, again, "export gives back what was imported");

    let out = workbench(&[
        "import",
        exported.to_str().unwrap(),
        "--models",
        store.to_str().unwrap(),
        "--user",
        "../x",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("only A-Z a-z 0-9"));
}

#[test]
fn no_command_without_a_display_says_how_to_go_on() {
    let out = Command::new(env!("CARGO_BIN_EXE_keystroke-workbench"))
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("keystroke-workbench serve") && stderr.contains("keystroke-workbench eval"),
        "{stderr}"
    );
}
