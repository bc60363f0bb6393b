//! Property tests on the paths the fuzz targets (`fuzz/`) cover: request JSON → events → sample →
//! features, and every store file loader. Random and mutated inputs must never panic; what is
//! accepted must keep the invariants the server relies on; valid inputs must round-trip; and no
//! strict prefix of a store file (what a torn write would leave) may load.

use std::path::Path;
use std::sync::LazyLock;

use keystroke_workbench::api::body::decode_sample;
use keystroke_workbench::capture::{KeyAction, KeyEvent, Sample};
use keystroke_workbench::detect::{
    DetectorParams, Euclidean, IsolationForestParams, Mahalanobis, Manhattan, ManhattanScaled,
    NearestNeighbor, OutlierCount, SecurityLevel,
};
use keystroke_workbench::features::{Features, feature_len};
use keystroke_workbench::store::{Store, UserId, parse};
use ndarray::Array2;
use ndarray_npy::WriteNpyExt;
use proptest::prelude::*;
use serde_json::{Value, json};

fn user() -> UserId {
    UserId::parse("u").unwrap()
}

/// The files a real store writes for one user trained with each detector kind.
struct StoreFiles {
    metadata: Vec<u8>,
    features: Vec<u8>,
    samples: Vec<u8>,
    models: Vec<Vec<u8>>,
}

fn typing(keys: &[&str], holds: &[f64], gaps: &[f64]) -> Sample {
    let mut events = Vec::new();
    let mut t = 0.0;
    for (i, key) in keys.iter().enumerate() {
        events.push(KeyEvent::new(*key, KeyAction::Down, t).unwrap());
        events.push(KeyEvent::new(*key, KeyAction::Up, t + holds[i]).unwrap());
        t += gaps[i];
    }
    Sample::from_events(events).unwrap()
}

static FILES: LazyLock<StoreFiles> = LazyLock::new(|| {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let keys = ["p", "a", "s", "s"];
    let now = chrono::NaiveDate::from_ymd_opt(2026, 11, 21)
        .unwrap()
        .and_hms_opt(12, 0, 0)
        .unwrap();
    let mut models = Vec::new();
    for kind in [
        DetectorParams::new(IsolationForestParams::default()),
        DetectorParams::new(ManhattanScaled),
        DetectorParams::new(OutlierCount),
        DetectorParams::new(Mahalanobis),
        DetectorParams::new(NearestNeighbor),
        DetectorParams::new(Manhattan),
        DetectorParams::new(Euclidean),
    ] {
        let n = models.len() as f64;
        store
            .with_user(&user(), |writer| {
                let sample = typing(
                    &keys,
                    &[80.0 + n, 90.0, 85.0 + 2.0 * n, 95.0],
                    &[170.0, 160.0 + n, 200.0, 0.0],
                );
                writer.add_sample(&sample, Some(&kind), now)
            })
            .unwrap();
        models.push(std::fs::read(store.paths(&user()).model).unwrap());
    }
    let paths = store.paths(&user());
    StoreFiles {
        metadata: std::fs::read(paths.metadata).unwrap(),
        features: std::fs::read(paths.features).unwrap(),
        samples: std::fs::read(paths.samples).unwrap(),
        models,
    }
});

/// Byte edits: overwrite, insert or delete at a position (taken modulo the length).
#[derive(Debug, Clone)]
enum Edit {
    Set(usize, u8),
    Insert(usize, u8),
    Delete(usize),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    prop::collection::vec(
        prop_oneof![
            (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
            (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
            any::<usize>().prop_map(Edit::Delete),
        ],
        1..8,
    )
}

fn apply(bytes: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut bytes = bytes.to_vec();
    for edit in edits {
        let len = bytes.len().max(1);
        match *edit {
            Edit::Set(i, b) if !bytes.is_empty() => bytes[i % len] = b,
            Edit::Insert(i, b) => bytes.insert(i % (bytes.len() + 1), b),
            Edit::Delete(i) if !bytes.is_empty() => {
                bytes.remove(i % len);
            }
            _ => {}
        }
    }
    bytes
}

/// What a loader must guarantee about anything it accepts.
fn check_loaders(bytes: &[u8]) {
    let (user, path) = (user(), Path::new("f"));
    if let Ok(metadata) = parse::metadata(&user, path, bytes) {
        assert!(metadata.samples > 0);
        assert_eq!(
            metadata.feature_length,
            feature_len(metadata.key_sequence.len())
        );
    }
    if let Ok(model) = parse::model(&user, path, bytes) {
        let n = feature_len(model.key_sequence.len());
        for x in [vec![0.0; n], vec![1e300; n], vec![-1e300; n]] {
            for level in SecurityLevel::ALL {
                assert!(model.decision_at(level, &x).unwrap().is_finite());
            }
        }
        assert!(
            model
                .decision_at(SecurityLevel::Strict, &vec![0.0; n + 1])
                .is_err()
        );
    }
    if let Ok(matrix) = parse::features(&user, path, bytes) {
        assert!(matrix.len() * 8 <= bytes.len());
        assert!(matrix.iter().all(|v| v.is_finite()));
    }
    if let Ok(samples) = parse::samples(&user, path, bytes) {
        for stored in samples {
            if let Ok(sample) = Sample::from_events(stored.keystroke_data) {
                assert!(
                    Features::of(&sample)
                        .values_ms
                        .iter()
                        .all(|v| v.is_finite())
                );
            }
        }
    }
    let _ = parse::throttle(&user, path, bytes);
}

fn check_request(body: &[u8]) {
    if let Ok((_, sample)) = decode_sample(body) {
        let features = Features::of(&sample);
        assert_eq!(
            features.values_ms.len(),
            feature_len(features.key_sequence.len())
        );
        assert!(features.values_ms.iter().all(|v| v.is_finite()));
    }
}

/// A typing: keys, and per key a hold and the gap to the next press (longer than the hold, so
/// a repeated key is released before it is pressed again).
fn typings() -> impl Strategy<Value = (Vec<String>, Vec<f64>, Vec<f64>)> {
    (2_usize..24).prop_flat_map(|n| {
        (
            prop::collection::vec("[a-z0-9.]|Shift|Enter|Backspace", n),
            prop::collection::vec(1.0_f64..400.0, n),
            prop::collection::vec(0.5_f64..1000.0, n),
        )
            .prop_map(|(keys, holds, extra)| {
                let gaps = holds.iter().zip(&extra).map(|(h, e)| h + e).collect();
                (keys, holds, gaps)
            })
    })
}

fn body_of(keys: &[String], holds: &[f64], gaps: &[f64], order: &[usize]) -> Vec<u8> {
    let mut events = Vec::new();
    let mut t = 1000.0;
    for (i, key) in keys.iter().enumerate() {
        events.push(json!({"key": key, "event": "down", "timestamp": t}));
        events.push(json!({"key": key, "event": "up", "timestamp": t + holds[i]}));
        t += gaps[i];
    }
    // Clients may send events in any order: the server orders them by timestamp.
    let shuffled: Vec<Value> = order
        .iter()
        .map(|&i| events[i % events.len()].clone())
        .collect();
    let mut seen = vec![false; events.len()];
    let mut sent = Vec::new();
    for (i, event) in order.iter().map(|i| i % events.len()).zip(shuffled) {
        if !std::mem::replace(&mut seen[i], true) {
            sent.push(event);
        }
    }
    sent.extend(
        (0..events.len())
            .filter(|&i| !seen[i])
            .map(|i| events[i].clone()),
    );
    json!({"user_id": "alice@lab.org", "keystroke_data": sent})
        .to_string()
        .into_bytes()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn request_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        check_request(&body);
    }

    #[test]
    fn typings_decode_to_their_timings(
        (keys, holds, gaps) in typings(),
        order in prop::collection::vec(any::<usize>(), 0..48),
    ) {
        let body = body_of(&keys, &holds, &gaps, &order);
        let (user, sample) = decode_sample(&body).unwrap();
        prop_assert_eq!(user.as_str(), "alice@lab.org");
        let features = Features::of(&sample);
        prop_assert_eq!(&features.key_sequence, &keys);
        prop_assert_eq!(features.values_ms.len(), 3 * keys.len() - 2);
        for (i, hold) in holds.iter().enumerate() {
            prop_assert!((features.values_ms[3 * i] - hold).abs() < 1e-9);
            if i + 1 < keys.len() {
                prop_assert!((features.values_ms[3 * i + 1] - gaps[i]).abs() < 1e-9);
                prop_assert!((features.values_ms[3 * i + 2] - (gaps[i] - hold)).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn mutated_requests_never_panic(
        (keys, holds, gaps) in typings(),
        edits in edits(),
    ) {
        check_request(&apply(&body_of(&keys, &holds, &gaps, &[]), &edits));
    }

    #[test]
    fn mutated_store_files_never_panic(which in 0_usize..10, edits in edits()) {
        let files = &*FILES;
        let valid = match which {
            0 => &files.metadata,
            1 => &files.features,
            2 => &files.samples,
            i => &files.models[i - 3],
        };
        check_loaders(&apply(valid, &edits));
    }

    #[test]
    fn random_bytes_never_load(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        check_loaders(&bytes);
    }

    #[test]
    fn features_round_trip_through_npy(
        rows in 1_usize..40,
        values in prop::collection::vec(-1e6_f64..1e6, 1..400),
    ) {
        let cols = values.len().div_ceil(rows).max(1);
        let mut padded = values.clone();
        padded.resize(rows * cols, 0.5);
        let matrix = Array2::from_shape_vec((rows, cols), padded).unwrap();
        let mut bytes = Vec::new();
        matrix.write_npy(&mut bytes).unwrap();
        let loaded = parse::features(&user(), Path::new("f"), &bytes).unwrap();
        prop_assert_eq!(&loaded, &matrix);
        // A torn write (any strict prefix) never loads.
        let cut = values.len() * 7 % bytes.len();
        prop_assert!(parse::features(&user(), Path::new("f"), &bytes[..cut]).is_err());
    }
}

#[test]
fn the_store_files_used_above_load() {
    let files = &*FILES;
    let (user, path) = (user(), Path::new("f"));
    assert_eq!(
        parse::metadata(&user, path, &files.metadata)
            .unwrap()
            .samples,
        7
    );
    assert_eq!(
        parse::features(&user, path, &files.features).unwrap().dim(),
        (7, 10)
    );
    assert_eq!(
        parse::samples(&user, path, &files.samples).unwrap().len(),
        7
    );
    for model in &files.models {
        parse::model(&user, path, model).unwrap();
    }
}

#[test]
fn no_strict_prefix_of_a_store_file_loads() {
    let files = &*FILES;
    let (user, path) = (user(), Path::new("f"));
    for cut in 0..files.metadata.len() {
        // A prefix that only drops trailing whitespace is the same JSON document.
        let prefix = &files.metadata[..cut];
        if files.metadata[cut..].iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        assert!(
            parse::metadata(&user, path, prefix).is_err(),
            "metadata[..{cut}]"
        );
    }
    for cut in 0..files.features.len() {
        assert!(
            parse::features(&user, path, &files.features[..cut]).is_err(),
            "features[..{cut}]"
        );
    }
    for model in &files.models {
        let end = model.len() - 1; // the trailing newline
        for cut in (0..end).step_by(7) {
            assert!(
                parse::model(&user, path, &model[..cut]).is_err(),
                "model[..{cut}]"
            );
        }
    }
}

/// The committed fuzz corpus (`fuzz/corpus/<target>/`, grown by `scripts/fuzz`), replayed on
/// stable Rust: every input the fuzzers kept still passes the checks above.
#[test]
fn the_fuzz_corpus_replays_cleanly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut replayed = 0;
    for target in [
        "request",
        "model_file",
        "metadata_file",
        "features_npy",
        "samples_file",
        "throttle_file",
    ] {
        let dir = root.join(target);
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            if target == "request" {
                check_request(&bytes);
            } else {
                check_loaders(&bytes);
            }
            replayed += 1;
        }
    }
    assert!(replayed > 100, "only {replayed} corpus inputs");
}
