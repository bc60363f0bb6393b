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
        err.contains("unknown detector \"svm\"; known: fusion, isolation-forest"),
        "{err}"
    );
}

#[test]
fn missing_benchmark_file_is_a_clear_error() {
    let out = workbench(&["eval", "--cmu", "/nonexistent/data.csv"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("cannot read data set /nonexistent/data.csv"),
        "{err}"
    );
}

fn json_of(args: &[&str]) -> serde_json::Value {
    let out = workbench(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn eval_on_a_bundled_set_marks_the_default_detector() {
    let report = json_of(&[
        "eval",
        "--set",
        "meu-mobile",
        "--train-samples",
        "5",
        "--json",
    ]);
    assert_eq!(report["dataset"], "meu-mobile");
    assert_eq!(report["subjects"], 56);
    assert_eq!(report["train_samples"], 5);
    assert_eq!(report["split"]["reps"]["genuine_from"], 25);
    let detectors = report["detectors"].as_array().unwrap();
    let defaults: Vec<&serde_json::Value> =
        detectors.iter().filter(|d| d["default"] == true).collect();
    assert_eq!(defaults.len(), 1, "{detectors:?}");
    assert_eq!(
        defaults[0]["name"],
        keystroke_workbench::detect::DEFAULT_DETECTOR.id()
    );
    let unknown = workbench(&["eval", "--set", "dsn"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("cmu, meu-mobile, keypad"));
}

/// `--guard-percentile` compares template-update guards: a stricter one takes fewer of the
/// genuine attempts and no more impostor probes than the product's.
#[test]
fn eval_compares_update_guards() {
    let update = |extra: &[&str]| {
        let mut args = vec![
            "eval",
            "--set",
            "keypad",
            "--train-samples",
            "5",
            "--protocol",
            "update",
            "--detector",
            "fusion",
            "--json",
        ];
        args.extend_from_slice(extra);
        let report = json_of(&args);
        let detector = report["detectors"][0].clone();
        (report["guard_percentile"].as_f64().unwrap(), detector)
    };
    let (product, at_product) = update(&[]);
    assert_eq!(product, keystroke_workbench::detect::UPDATE_GUARD_PERCENT);
    let (strict, at_strict) = update(&["--guard-percentile", "70"]);
    assert_eq!(strict, 70.0);
    let taken = |d: &serde_json::Value| d["updates_taken_mean"].as_f64().unwrap();
    let probes = |d: &serde_json::Value| d["impostor_updates_mean"].as_f64().unwrap();
    assert!(
        taken(&at_strict) < taken(&at_product),
        "{at_strict} {at_product}"
    );
    assert!(
        probes(&at_strict) <= probes(&at_product),
        "{at_strict} {at_product}"
    );
    for (args, says) in [
        (
            &["eval", "--set", "keypad", "--guard-percentile", "70"][..],
            "--protocol update only",
        ),
        (
            &["eval", "--protocol", "update", "--guard-percentile", "101"][..],
            "not a percentile from 0 to 100",
        ),
    ] {
        let out = workbench(args);
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{stderr}");
    }
}

/// The keypad set's raw events, converted by `eval` through the product's sample path, rate
/// the detectors as its independently converted CMU-layout file does.
#[test]
fn eval_on_raw_events_matches_the_converted_file() {
    let raw = json_of(&[
        "eval",
        "--raw-events",
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/sample_sessions/keypad/keypad_raw_events.csv"
        ),
        "--subject-column",
        "user",
        "--repetition-column",
        "session",
        "--key-column",
        "keyname",
        "--down-column",
        "timepress",
        "--up-column",
        "timerelease",
        "--train-samples",
        "5",
        "--genuine-from",
        "11",
        "--detector",
        "manhattan-scaled",
        "--json",
    ]);
    let csv = json_of(&[
        "eval",
        "--set",
        "keypad",
        "--train-samples",
        "5",
        "--detector",
        "manhattan-scaled",
        "--json",
    ]);
    assert_eq!(raw["subjects"], 30);
    assert_eq!(raw["skipped"].as_array().unwrap().len(), 0);
    let eer = |r: &serde_json::Value| r["detectors"][0]["eer_mean"].as_f64().unwrap();
    assert!(
        (eer(&raw) - eer(&csv)).abs() < 0.002,
        "{} vs {}",
        eer(&raw),
        eer(&csv)
    );
}

#[test]
fn eval_on_any_csv_trains_on_half_and_names_bad_columns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.csv");
    let mut text = String::from("subject,sessionIndex,rep,H.a,DD.a.b,UD.a.b,H.b\n");
    for (s, base) in [("p1", 0.10), ("p2", 0.20), ("p3", 0.30)] {
        for rep in 1..=8 {
            let v = base + 0.001 * f64::from(rep);
            text.push_str(&format!("{s},1,{rep},{v},{},{},{v}\n", 2.0 * v, v));
        }
    }
    std::fs::write(&path, text).unwrap();
    let report = json_of(&[
        "eval",
        "--data",
        path.to_str().unwrap(),
        "--detector",
        "manhattan",
        "--impostor-reps",
        "3",
        "--json",
    ]);
    assert_eq!(report["train_samples"], 4);
    assert_eq!(report["impostor_reps"], 3);
    assert_eq!(report["detectors"][0]["eer_mean"], 0.0);

    let out = workbench(&["eval", "--raw-events", path.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 1: no column \"repetition\""), "{err}");
}

/// `docs/detectors.md` is what `eval --suite` writes today: no number in it was typed by hand
/// or left behind by an older detector.
#[test]
fn the_detector_report_in_docs_is_current() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("detectors.md");
    let out = workbench(&["eval", "--suite", "--out", out_path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("3 data sets"), "{summary}");
    let written = std::fs::read_to_string(&out_path).unwrap();
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/detectors.md")).unwrap();
    assert!(
        written == committed,
        "docs/detectors.md is stale: rerun `cargo run --release -- eval --suite`"
    );
    for set in ["`cmu`", "`meu-mobile`", "`keypad`"] {
        assert!(written.contains(set), "{set} missing");
    }
    // The default beats the isolation forest (the old default) on every set, at 5 samples and
    // at full enrolment: `| set | N | default | best | best EER | default − best | forest |`.
    let section = written
        .split("## The default against the best")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("the default's section");
    let rows: Vec<Vec<&str>> = section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| l.split('|').map(str::trim).collect())
        .collect();
    assert_eq!(rows.len(), 6, "{section}");
    for row in rows {
        let (default, forest): (f64, f64) = (row[3].parse().unwrap(), row[7].parse().unwrap());
        assert!(default < forest, "{row:?}");
    }
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

/// `verify` judges a session file's samples through the same path as the server's /predict:
/// the same verdicts and scores for the same stored model, a replay caught, and lockouts stored
/// where the server sees them.
#[test]
fn verify_gives_the_servers_verdicts_and_its_lockouts_count() {
    use keystroke_workbench::api::{Api, ApiConfig, Request};
    use keystroke_workbench::auth::Throttle;
    use keystroke_workbench::store::Store;
    use serde_json::{Value, json};
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let sessions = dir.path().join("sessions");
    let path = |p: &std::path::Path| p.to_str().unwrap().to_string();
    let ok = |out: std::process::Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    ok(workbench(&[
        "cmu-sessions",
        "--subjects",
        "s002,s003",
        "--reps",
        "16",
        "--out",
        &path(&sessions),
    ]));
    let session = |name: &str| -> Value {
        serde_json::from_slice(&std::fs::read(sessions.join(name)).unwrap()).unwrap()
    };
    let (s002, s003) = (session("s002.json"), session("s003.json"));
    let write = |name: &str, samples: Vec<Value>| {
        let mut file = s002.clone();
        file["samples"] = Value::Array(samples);
        let target = dir.path().join(name);
        std::fs::write(&target, file.to_string()).unwrap();
        path(&target)
    };
    let reps = |file: &Value, range: std::ops::Range<usize>| -> Vec<Value> {
        file["samples"].as_array().unwrap()[range].to_vec()
    };
    let enrolment = write("enrol.json", reps(&s002, 0..10));
    ok(workbench(&[
        "import",
        &enrolment,
        "--models",
        &path(&store),
        "--train",
        "tempo-tolerant",
    ]));

    // Genuine attempts, a replay of the first, impostors (s003 typing three times slower; at
    // its own pace s003 often passes as s002 on 10 samples).
    let slow = |mut sample: Value| {
        for event in sample["keystroke_data"].as_array_mut().unwrap() {
            event["timestamp"] = json!(event["timestamp"].as_f64().unwrap() * 3.0);
        }
        sample
    };
    let mut attempts = reps(&s002, 10..13);
    attempts.push(attempts[0].clone());
    attempts.extend(reps(&s003, 0..3).into_iter().map(slow));
    let attempts_file = write("attempts.json", attempts.clone());
    let out = ok(workbench(&[
        "verify",
        &attempts_file,
        "--models",
        &path(&store),
        "--json",
        "--no-throttle",
    ]));
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), attempts.len(), "{out}");
    assert_eq!(
        lines[3]["reason"],
        "Replayed sample: identical timings were seen before"
    );
    assert!(
        lines[..3].iter().any(|l| l["authenticated"] == true),
        "{out}"
    );
    assert!(
        lines[4..].iter().any(|l| l["authenticated"] == false),
        "{out}"
    );

    // The server's /predict on the same store answers the same.
    let api = Api::new(
        Arc::new(Store::open(&store).unwrap()),
        ApiConfig {
            throttle: Throttle {
                max_failures: 0,
                ..Throttle::default()
            },
            ..ApiConfig::default()
        },
    );
    let now = chrono::Local::now().naive_local();
    let predict = |api: &Api, attempt: &Value| {
        let body = json!({"user_id": "s002", "keystroke_data": attempt["keystroke_data"]});
        let body = body.to_string();
        api.handle(
            &Request {
                method: "POST",
                target: "/predict",
                body: body.as_bytes(),
                authorization: None,
                origin: None,
                client: None,
                ..Request::default()
            },
            now,
        )
    };
    for (attempt, line) in attempts.iter().zip(&lines) {
        let reply = predict(&api, attempt);
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(
            (
                &reply.body["authenticated"],
                &reply.body["confidence_score"]
            ),
            (&line["authenticated"], &line["confidence_score"]),
            "{}",
            reply.body
        );
    }

    // Throttled (the default): five impostor attempts lock the user out, the sixth is not judged, and the lockout is stored where a server finds it.
    let imposters = write(
        "imposters.json",
        reps(&s003, 3..9).into_iter().map(slow).collect(),
    );
    let out = ok(workbench(&[
        "verify",
        &imposters,
        "--models",
        &path(&store),
    ]));
    let last = out.lines().last().unwrap();
    assert!(
        last.starts_with("attempt 6: not judged: too many failed attempts"),
        "{out}"
    );
    let server = Api::new(Arc::new(Store::open(&store).unwrap()), ApiConfig::default());
    let reply = predict(&server, &reps(&s002, 13..14)[0]);
    assert_eq!(reply.status, 429, "{}", reply.body);

    // Nothing to judge against is an error, not a quiet success (and no folder is created).
    let out = workbench(&[
        "verify",
        &attempts_file,
        "--models",
        &path(&store),
        "--user",
        "nobody",
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("has no trained model"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let typo = dir.path().join("no-such-store");
    let out = workbench(&["verify", &attempts_file, "--models", &path(&typo)]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no model store at"));
    assert!(!typo.exists());
}

/// `eval --store` evaluates a store's users against each other, and `--source` keeps only the
/// samples of one source (here: the collection page's, beside others sent over the API).
#[test]
fn eval_on_a_store_can_keep_one_source() {
    use keystroke_workbench::capture::{Capture, source};
    use keystroke_workbench::eval::CMU;
    use keystroke_workbench::session::SessionFile;
    use keystroke_workbench::store::{Store, UserId};

    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let store = Store::open(&models).unwrap();
    let cmu = CMU.load().unwrap();
    let now = chrono::Local::now().naive_local();
    let browser = Capture::of(source::BROWSER);
    for subject in ["s002", "s003", "s004"] {
        let path = dir.path().join(format!("{subject}.json"));
        SessionFile::from_cmu(&cmu, subject, 0..16)
            .unwrap()
            .write(&path)
            .unwrap();
        let (_, samples) = SessionFile::read(&path).unwrap();
        let user = UserId::parse(subject).unwrap();
        for (i, sample) in samples.iter().enumerate() {
            let capture = (i < 10).then_some(&browser);
            store
                .with_user(&user, |w| w.add_captured_sample(sample, capture, None, now))
                .unwrap();
        }
    }
    drop(store);
    let models = models.to_str().unwrap();
    let base = ["eval", "--store", models, "--phrase-of", "s002", "--json"];
    let all = json_of(&[&base[..], &["--detector", "manhattan-scaled"]].concat());
    assert_eq!(all["subjects"], 3);
    assert_eq!(all["train_samples"], 8);
    let browser_only = json_of(
        &[
            &base[..],
            &["--detector", "manhattan-scaled", "--source", "browser"],
        ]
        .concat(),
    );
    assert_eq!(browser_only["subjects"], 3);
    assert_eq!(browser_only["train_samples"], 5);
    let eer = browser_only["detectors"][0]["eer_mean"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&eer), "{browser_only}");
    // Too few samples of a source: a clear error, not an empty report.
    let out = workbench(&[&base[..], &["--source", "window"]].concat());
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("an evaluation needs 2 or more"), "{stderr}");
}
