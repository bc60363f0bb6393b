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
