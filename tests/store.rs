//! The model store on real files: layout, atomicity, phrase binding, rejection of damaged files,
//! and a `.npy` that NumPy loads.

mod common;

use std::fs;
use std::path::Path;

use chrono::NaiveDate;
use keystroke_workbench::capture::{KeyAction, KeyEvent, Sample};
use keystroke_workbench::detect::{DetectorParams, Scorer, TempoTolerant};
use keystroke_workbench::store::{Store, StoreError, UserId};

fn now() -> chrono::NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 11, 21)
        .unwrap()
        .and_hms_micro_opt(10, 30, 0, 123456)
        .unwrap()
}

/// A typing of `keys`: key i goes down at 200·i + jitter and is held 80 + jitter ms.
fn sample(keys: &[&str], jitter: f64) -> Sample {
    let mut events = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let down = 200.0 * i as f64 + jitter * (i % 3) as f64;
        events.push(KeyEvent::new(*key, KeyAction::Down, down).unwrap());
        events.push(KeyEvent::new(*key, KeyAction::Up, down + 80.0 + jitter).unwrap());
    }
    Sample::from_events(events).unwrap()
}

fn user(id: &str) -> UserId {
    UserId::parse(id).unwrap()
}

fn enrol(store: &Store, id: &UserId, n: usize, train_from: usize) {
    enrol_with(store, id, n, train_from, &DetectorParams::default());
}

/// `n` samples of `id`'s, training `params` from the `train_from`-th on.
fn enrol_with(store: &Store, id: &UserId, n: usize, train_from: usize, params: &DetectorParams) {
    for i in 0..n {
        let train = (i + 1 >= train_from).then(|| params.clone());
        store
            .with_user(id, |w| {
                w.add_sample(
                    &sample(&["p", "a", "s", "s"], i as f64),
                    train.as_ref(),
                    now(),
                )
            })
            .unwrap();
    }
}

fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        // `.locks/` holds the writers' lock files, not data.
        .filter(|name| name != ".locks")
        .collect();
    names.sort();
    names
}

#[test]
fn enrols_an_email_user_with_the_spec_layout() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let alice = user("alice@example.com");
    enrol(&store, &alice, 5, 5);
    assert_eq!(
        file_names(dir.path()),
        [
            "alice@example.com.model.json",
            "alice@example.com_features.npy",
            "alice@example.com_metadata.json",
            "alice@example.com_samples.jsonl",
        ]
    );
    let metadata = store.metadata(&alice).unwrap().unwrap();
    assert_eq!(metadata.samples, 5);
    assert_eq!(metadata.feature_length, 10);
    assert_eq!(metadata.key_sequence, ["p", "a", "s", "s"]);
    assert_eq!(
        metadata.trained_at.map(|t| t.to_string()).as_deref(),
        Some("2026-11-21T10:30:00.123456")
    );
    assert_eq!(store.features(&alice, &metadata).unwrap().dim(), (5, 10));
    assert_eq!(store.samples(&alice, &metadata).unwrap().len(), 5);
    let model = store.model(&alice, &metadata).unwrap().unwrap();
    assert_eq!(model.trained_on_samples, 5);
    assert_eq!(store.users().unwrap(), [alice]);
}

#[test]
fn plus_addressed_ids_work() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let bob = user("bob+lab@uni.edu");
    enrol(&store, &bob, 2, 99);
    assert_eq!(store.metadata(&bob).unwrap().unwrap().samples, 2);
    assert!(dir.path().join("bob+lab@uni.edu_features.npy").exists());
}

#[test]
fn invalid_user_ids_are_refused_before_any_file_access() {
    let dir = tempfile::tempdir().unwrap();
    let long = "a".repeat(129);
    for id in ["../x", "a/b", "a\\b", "", long.as_str(), ".hidden"] {
        assert!(UserId::parse(id).is_err(), "{id:?} was accepted");
    }
    // Only a validated UserId reaches the store, so nothing was created.
    assert!(file_names(dir.path()).is_empty());
}

#[test]
fn unknown_user_has_no_metadata_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert!(store.metadata(&user("nobody")).unwrap().is_none());
    assert!(file_names(dir.path()).is_empty());
}

#[test]
fn a_sample_of_another_phrase_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let alice = user("alice");
    enrol(&store, &alice, 3, 99);
    let before: Vec<Vec<u8>> = file_names(dir.path())
        .iter()
        .map(|n| fs::read(dir.path().join(n)).unwrap())
        .collect();
    let err = store
        .with_user(&alice, |w| {
            w.add_sample(&sample(&["p", "a", "s"], 0.0), None, now())
        })
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "typed keys differ from the enrolled phrase: enrolled [p a s s], typed [p a s]"
    );
    let after: Vec<Vec<u8>> = file_names(dir.path())
        .iter()
        .map(|n| fs::read(dir.path().join(n)).unwrap())
        .collect();
    assert_eq!(before, after);
}

#[test]
fn a_failed_training_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let alice = user("alice");
    // Mahalanobis needs two samples: training on the first one fails, and it is not kept.
    let err = store
        .with_user(&alice, |w| {
            w.add_sample(
                &sample(&["a", "b"], 0.0),
                Some(&DetectorParams::new(
                    keystroke_workbench::detect::Mahalanobis,
                )),
                now(),
            )
        })
        .unwrap_err();
    assert!(matches!(err, StoreError::Fit { .. }), "{err}");
    assert!(file_names(dir.path()).is_empty());
}

#[test]
fn uncommitted_tails_are_ignored_and_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let alice = user("alice");
    enrol(&store, &alice, 2, 99);
    // A crash after the samples line was appended but before the metadata committed it.
    let samples = dir.path().join("alice_samples.jsonl");
    let mut bytes = fs::read(&samples).unwrap();
    bytes.extend_from_slice(b"{\"added_at\": \"half-writ");
    fs::write(&samples, &bytes).unwrap();
    let metadata = store.metadata(&alice).unwrap().unwrap();
    assert_eq!(store.samples(&alice, &metadata).unwrap().len(), 2);
    enrol(&store, &alice, 1, 99);
    let metadata = store.metadata(&alice).unwrap().unwrap();
    assert_eq!(store.samples(&alice, &metadata).unwrap().len(), 3);
    assert!(!fs::read_to_string(&samples).unwrap().contains("half-writ"));
}

#[test]
fn stale_temporary_files_are_removed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(".tmp-alice_metadata.json-1-1"), b"{").unwrap();
    Store::open(dir.path()).unwrap();
    assert!(file_names(dir.path()).is_empty());
}

#[test]
fn corrupt_metadata_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let alice = user("alice");
    enrol(&store, &alice, 1, 99);
    fs::write(
        dir.path().join("alice_metadata.json"),
        b"{\"format\": \"keystroke-workbench/metadata\", \"ver",
    )
    .unwrap();
    let err = store.metadata(&alice).unwrap_err().to_string();
    assert!(err.starts_with("user 'alice': "), "{err}");
    assert!(
        err.contains("alice_metadata.json is corrupt: EOF while parsing"),
        "{err}"
    );
}

#[test]
fn unknown_model_version_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let alice = user("alice");
    enrol(&store, &alice, 5, 5);
    let path = dir.path().join("alice.model.json");
    let text = fs::read_to_string(&path)
        .unwrap()
        .replacen("\"version\": 1", "\"version\": 7", 1);
    fs::write(&path, text).unwrap();
    let metadata = store.metadata(&alice).unwrap().unwrap();
    let err = store.model(&alice, &metadata).unwrap_err().to_string();
    assert!(
        err.ends_with("alice.model.json is version 7, this build reads 1–1"),
        "{err}"
    );
}

#[test]
fn tampered_model_is_rejected_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let alice = user("alice");
    enrol(&store, &alice, 5, 5);
    let path = dir.path().join("alice.model.json");
    let text = fs::read_to_string(&path)
        .unwrap()
        .replacen("\"spread\": [", "\"spread\": [99, ", 1);
    fs::write(&path, text).unwrap();
    let metadata = store.metadata(&alice).unwrap().unwrap();
    assert!(matches!(
        store.model(&alice, &metadata),
        Err(StoreError::Corrupt { .. })
    ));
}

#[test]
fn security_levels_given_to_the_isolation_forest_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (alice, bob) = (user("alice"), user("bob"));
    enrol(&store, &alice, 5, 5);
    let forest = keystroke_workbench::detect::IsolationForestParams::default();
    enrol_with(&store, &bob, 5, 1, &DetectorParams::new(forest));
    let read = |id: &str| -> serde_json::Value {
        serde_json::from_slice(&fs::read(dir.path().join(format!("{id}.model.json"))).unwrap())
            .unwrap()
    };
    let levels = read("alice")["levels"].clone();
    assert!(levels.is_object(), "the default detector keeps levels");
    let mut tampered = read("bob");
    assert!(tampered.get("levels").is_none());
    tampered["levels"] = levels;
    fs::write(
        dir.path().join("bob.model.json"),
        serde_json::to_vec(&tampered).unwrap(),
    )
    .unwrap();
    let metadata = store.metadata(&bob).unwrap().unwrap();
    let err = store.model(&bob, &metadata).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("gives security levels to the Isolation forest"),
        "{err}"
    );
}

/// A model file without levels (as written before them) gets, when read, the levels its own
/// training rows give — the samples in use and the template's updates — and keeps its one
/// threshold when the stored rows are not those it was trained on.
#[test]
fn a_model_without_levels_learns_them_from_its_own_rows_when_read() {
    use keystroke_workbench::features::Features;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let alice = user("alice");
    enrol(&store, &alice, 8, 5);
    store
        .with_user(&alice, |w| {
            w.set_excluded(2, true, None, 5, now())?;
            for jitter in [3.5, 4.5, 2.5] {
                let attempt = Features::of(&sample(&["p", "a", "s", "s"], jitter));
                assert!(w.add_update(&attempt, 20, now())?.is_some());
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
    let metadata = store.metadata(&alice).unwrap().unwrap();
    let written = store.model(&alice, &metadata).unwrap().unwrap();
    assert_eq!(written.trained_on_updates, 3);
    let levels = written.levels.expect("written with levels");
    let path = dir.path().join("alice.model.json");
    let mut file: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    file.as_object_mut().unwrap().remove("levels");
    fs::write(&path, serde_json::to_vec(&file).unwrap()).unwrap();
    assert!(
        store
            .model(&alice, &metadata)
            .unwrap()
            .unwrap()
            .levels
            .is_none()
    );
    let read = store.snapshot(&alice).unwrap().unwrap().model.unwrap();
    assert_eq!(read.levels, Some(levels), "the levels it was written with");

    // Another sample excluded by hand (the model was not trained without it): no levels.
    let meta_path = dir.path().join("alice_metadata.json");
    let text = fs::read_to_string(&meta_path).unwrap();
    assert!(text.contains("\"excluded\": [\n    2\n  ]"), "{text}");
    fs::write(&meta_path, text.replace("\n    2\n", "\n    3\n")).unwrap();
    let read = store.snapshot(&alice).unwrap().unwrap().model.unwrap();
    assert_eq!(read.levels, None, "one threshold, as before");
}

#[test]
fn truncated_features_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let alice = user("alice");
    enrol(&store, &alice, 3, 99);
    let path = dir.path().join("alice_features.npy");
    let bytes = fs::read(&path).unwrap();
    fs::write(&path, &bytes[..bytes.len() - 8]).unwrap();
    let metadata = store.metadata(&alice).unwrap().unwrap();
    let err = store.features(&alice, &metadata).unwrap_err().to_string();
    assert!(err.contains("alice_features.npy is corrupt"), "{err}");
}

#[test]
fn old_backend_metadata_is_reported_as_legacy() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("carol_metadata.json"),
        br#"{"user_id": "carol", "samples_count": 7}"#,
    )
    .unwrap();
    let store = Store::open(dir.path()).unwrap();
    let err = store.metadata(&user("carol")).unwrap_err();
    assert!(matches!(err, StoreError::Legacy { .. }), "{err}");
}

#[test]
fn stored_model_scores_like_a_fresh_fit() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let alice = user("alice");
    enrol(&store, &alice, 6, 6);
    let metadata = store.metadata(&alice).unwrap().unwrap();
    let features = store.features(&alice, &metadata).unwrap();
    let fresh = DetectorParams::default().fit(features.view()).unwrap();
    let stored = store.model(&alice, &metadata).unwrap().unwrap().model;
    let probe = features.row(2).to_vec();
    assert_eq!(stored.score(&probe), fresh.score(&probe));
}

#[test]
fn concurrent_writers_lose_no_sample() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let alice = user("alice");
    std::thread::scope(|scope| {
        for t in 0..8 {
            let (store, alice) = (&store, &alice);
            scope.spawn(move || {
                for i in 0..5 {
                    let s = sample(&["x", "y", "z"], f64::from(t * 5 + i));
                    store
                        .with_user(alice, |w| {
                            // A detector that fits on one sample: the first writer trains too.
                            w.add_sample(&s, Some(&DetectorParams::new(TempoTolerant)), now())
                        })
                        .unwrap();
                }
            });
        }
    });
    let metadata = store.metadata(&alice).unwrap().unwrap();
    assert_eq!(metadata.samples, 40);
    assert_eq!(store.features(&alice, &metadata).unwrap().nrows(), 40);
    assert_eq!(store.samples(&alice, &metadata).unwrap().len(), 40);
    assert_eq!(
        store
            .model(&alice, &metadata)
            .unwrap()
            .unwrap()
            .trained_on_samples,
        40
    );
}

/// The features file loads in NumPy with the right shape and values. Needs python3 with numpy
/// (the README's test command installs it).
#[test]
fn numpy_loads_the_features_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let alice = user("alice@example.com");
    enrol(&store, &alice, 3, 99);
    let metadata = store.metadata(&alice).unwrap().unwrap();
    let expected = store.features(&alice, &metadata).unwrap();
    let script = "import sys, json, numpy as np\n\
                  a = np.load(sys.argv[1], allow_pickle=False)\n\
                  print(json.dumps({'dtype': str(a.dtype), 'shape': list(a.shape), \
                  'c': bool(a.flags['C_CONTIGUOUS']), 'values': a.tolist()}))";
    let stdout = common::run_python(script, &[dir.path().join("alice@example.com_features.npy")]);
    let loaded: serde_json::Value = serde_json::from_slice(&stdout).unwrap();
    assert_eq!(loaded["dtype"], "float64");
    assert_eq!(loaded["shape"], serde_json::json!([3, 10]));
    assert_eq!(loaded["c"], true);
    let values: Vec<Vec<f64>> = serde_json::from_value(loaded["values"].clone()).unwrap();
    let rows: Vec<Vec<f64>> = expected.rows().into_iter().map(|r| r.to_vec()).collect();
    assert_eq!(values, rows);
}

#[test]
fn opening_the_store_leaves_a_live_writers_temporary_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let alice = user("alice");
    let temp = dir.path().join(".tmp-alice_features.npy-4242-0");
    store
        .with_user(&alice, |_| {
            // Another process opens the store while alice's writer is mid-write.
            fs::write(&temp, b"in flight").unwrap();
            Store::open(dir.path()).unwrap();
            assert!(temp.exists(), "a live writer's temporary file was removed");
            Ok::<_, StoreError>(())
        })
        .unwrap();
    // Its writer gone, the next open removes it.
    Store::open(dir.path()).unwrap();
    assert!(!temp.exists());
}

/// An operator's mistake is undoable: an excluded sample stays in the files (so restoring it
/// loses nothing) but is never trained on, counted or exported; a model that would keep it is
/// retrained without it, or dropped while too few samples are in use.
#[test]
fn an_excluded_sample_is_kept_never_trained_on_and_can_be_restored() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let alice = user("alice");
    enrol(&store, &alice, 6, 5);
    let paths = store.paths(&alice);
    let untouched = fs::read(&paths.metadata).unwrap();
    assert!(String::from_utf8_lossy(&untouched).contains("\"version\": 1"));
    let all = store
        .features(&alice, &store.metadata(&alice).unwrap().unwrap())
        .unwrap();
    let set = |index, excluded| {
        store.with_user(&alice, |w| w.set_excluded(index, excluded, None, 5, now()))
    };

    // Sample 3 out: 5 in use, the model retrained on them alone.
    let (metadata, changed) = set(2, true).unwrap();
    assert!(changed);
    assert_eq!(metadata.excluded, [2]);
    assert_eq!((metadata.samples, metadata.active_samples()), (6, 5));
    let model = store.model(&alice, &metadata).unwrap().unwrap();
    assert_eq!(model.trained_on_samples, 5);
    let in_use = store.active_features(&alice, &metadata).unwrap();
    assert_eq!(in_use, all.select(ndarray::Axis(0), &[0, 1, 3, 4, 5]));
    let fresh = DetectorParams::default().fit(in_use.view()).unwrap();
    let probe = all.row(2).to_vec();
    assert_eq!(model.model.score(&probe), fresh.score(&probe));
    // Kept in the files, not exported, and the metadata says so in a format older builds
    // refuse rather than misread.
    assert_eq!(store.features(&alice, &metadata).unwrap(), all);
    assert_eq!(store.samples(&alice, &metadata).unwrap().len(), 6);
    assert_eq!(store.active_samples(&alice, &metadata).unwrap().len(), 5);
    assert!(
        fs::read_to_string(&paths.metadata)
            .unwrap()
            .contains("\"version\": 2")
    );
    // Excluding it again changes nothing, and says so.
    assert_eq!(set(2, true).unwrap(), (metadata, false));

    // Sample 1 out too: 4 in use, below the 5 a model needs, so there is none (the detector
    // stays recorded).
    let last_model = fs::read(&paths.model).unwrap();
    let (metadata, _) = set(0, true).unwrap();
    assert_eq!(metadata.excluded, [0, 2]);
    assert_eq!(
        (metadata.trained_detector(), metadata.trained_at),
        (None, None)
    );
    assert!(metadata.params.is_some());
    assert!(!paths.model.exists());
    assert!(store.snapshot(&alice).unwrap().unwrap().model.is_none());
    // Had the process died between that commit and the model's removal, the file left behind
    // is never used, `store check` says so, and its repair moves it to quarantine.
    fs::write(&paths.model, &last_model).unwrap();
    assert!(store.snapshot(&alice).unwrap().unwrap().model.is_none());
    let (clean, report) = common::store_check(dir.path(), false);
    assert!(
        clean && report.contains("alice.model.json") && report.contains("never used"),
        "{report}"
    );
    let (clean, report) = common::store_check(dir.path(), true);
    assert!(clean && report.contains("quarantine"), "{report}");
    assert!(!paths.model.exists());
    let (clean, report) = common::store_check(dir.path(), false);
    assert!(clean && !report.contains("never used"), "{report}");

    // Undone in turn: the model comes back with its detector, then every sample is in use.
    let (metadata, _) = set(0, false).unwrap();
    assert_eq!(metadata.excluded, [2]);
    let model = store.model(&alice, &metadata).unwrap().unwrap();
    assert_eq!(model.trained_on_samples, 5);
    assert_eq!(model.params, DetectorParams::default());
    let (metadata, _) = set(2, false).unwrap();
    assert!(metadata.excluded.is_empty());
    assert_eq!(
        store
            .model(&alice, &metadata)
            .unwrap()
            .unwrap()
            .trained_on_samples,
        6
    );
    assert!(
        fs::read_to_string(&paths.metadata)
            .unwrap()
            .contains("\"version\": 1")
    );

    // With a sample excluded, a model file that an interrupted write left behind, trained on
    // one sample more than are in use (a new one, or one being restored), is never used.
    let (metadata, _) = set(4, true).unwrap();
    assert_eq!(metadata.active_samples(), 5);
    let committed = fs::read(&paths.model).unwrap();
    let mut model: serde_json::Value = serde_json::from_slice(&committed).unwrap();
    model["trained_on_samples"] = 6.into();
    fs::write(&paths.model, serde_json::to_vec(&model).unwrap()).unwrap();
    assert!(store.model(&alice, &metadata).unwrap().is_none());
    fs::write(&paths.model, &committed).unwrap();
    assert!(store.model(&alice, &metadata).unwrap().is_some());
    set(4, false).unwrap();

    // A sample that does not exist is named, and nothing changes.
    let before = fs::read(&paths.metadata).unwrap();
    let err = set(6, true).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NoSuchSample {
                number: 7,
                samples: 6,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(fs::read(&paths.metadata).unwrap(), before);
    let (clean, report) = common::store_check(dir.path(), false);
    assert!(clean && report.contains("clean:"), "{report}");
}
