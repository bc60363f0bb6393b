//! Stores and model files written by earlier code load and score identically: the probes
//! recorded when `tests/fixtures/main-a4f6f09` was written are replayed on a copy of its store.

use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDateTime;
use keystroke_workbench::api::{Api, ApiConfig, Request};
use keystroke_workbench::detect::{DetectorKind, SecurityLevel};
use keystroke_workbench::store::Store;
use serde_json::Value;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/main-a4f6f09");

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn api_for(store: &Arc<Store>, detector: &str) -> Api {
    let kind: DetectorKind = detector.parse().unwrap();
    let config = ApiConfig {
        detector: kind.default_params(),
        template_window: 3,
        // The one threshold of the earlier code: a model the template update retrains here
        // judges as that code's retrained model did.
        security: SecurityLevel::Convenient,
        // Nor had it the cohort guard: the fixture's users share one phrase, so the cohort
        // would refuse some updates that code took (tests/template_update.rs tests the guard).
        update_cohort: false,
        ..ApiConfig::default()
    };
    Api::new(Arc::clone(store), config)
}

#[test]
fn a_store_written_by_earlier_code_answers_as_it_did() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&Path::new(FIXTURE).join("store"), dir.path());
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let probes = std::fs::read_to_string(Path::new(FIXTURE).join("probes.jsonl")).unwrap();
    let mut checked = std::collections::BTreeMap::<String, usize>::new();
    let mut current: Option<(String, Api)> = None;
    for line in probes.lines() {
        let probe: Value = serde_json::from_str(line).unwrap();
        let detector = probe["detector"].as_str().unwrap().to_string();
        if current.as_ref().is_none_or(|(d, _)| *d != detector) {
            current = Some((detector.clone(), api_for(&store, &detector)));
        }
        let api = &current.as_ref().unwrap().1;
        let (target, body, now) = match probe["info"].as_str() {
            Some(user) => (
                format!("/user/{user}/info"),
                Vec::new(),
                "2026-12-01T09:03:20",
            ),
            None => (
                "/predict".to_string(),
                probe["request"].to_string().into_bytes(),
                probe["now"].as_str().unwrap(),
            ),
        };
        let now = NaiveDateTime::parse_from_str(now, "%Y-%m-%dT%H:%M:%S").unwrap();
        let method = if body.is_empty() { "GET" } else { "POST" };
        let answer = api.handle(
            &Request {
                method,
                target: &target,
                body: &body,
                authorization: None,
                origin: None,
                client: None,
                ..Request::default()
            },
            now,
        );
        // Models get security levels (learnt on loading those written before levels), and /info
        // names the level (an extension key the earlier code did not send); everything else is
        // as it was.
        let mut body = answer.body.clone();
        if let Some(level) = body
            .as_object_mut()
            .and_then(|b| b.remove("security_level"))
        {
            assert_eq!(level, "convenient", "{detector} {target}");
        }
        assert_eq!(
            (answer.status, &body),
            (probe["status"].as_u64().unwrap() as u16, &probe["response"]),
            "{detector} {target} at {now}"
        );
        *checked.entry(detector).or_default() += 1;
    }
    // Every detector of the fixture was exercised: accepted, rejected, replayed, locked out.
    assert_eq!(checked.len(), 8, "{checked:?}");
    for needle in [
        "Replayed sample",
        "too many failed attempts",
        "\"authenticated\":true",
    ] {
        assert!(probes.contains(needle), "the fixture covers {needle}");
    }
}

/// A model written before security levels gets them when it is loaded: its one threshold stays
/// the `convenient` one, and `strict` is stricter, so that setting applies to every user.
#[test]
fn models_written_before_levels_get_them_when_loaded() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&Path::new(FIXTURE).join("store"), dir.path());
    let store = Store::open(dir.path()).unwrap();
    let (mut completed, mut forests) = (0, 0);
    for user in store.users().unwrap() {
        let Ok(Some(snapshot)) = store.snapshot(&user) else {
            continue;
        };
        let Some(model) = snapshot.model else {
            continue;
        };
        let path = dir.path().join(format!("{user}.model.json"));
        let file: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert!(
            file.get("levels").is_none(),
            "{user}: the fixture predates levels"
        );
        match model.levels {
            None => {
                assert!(!model.params.kind().has_levels(), "{user}");
                forests += 1;
            }
            Some(levels) => {
                assert_eq!(levels.convenient, model.threshold, "{user}");
                assert!(levels.validate().is_ok(), "{user}: {levels:?}");
                assert!(levels.strict > levels.convenient, "{user}: {levels:?}");
                completed += 1;
            }
        }
    }
    assert!(completed >= 5 && forests >= 1, "{completed} {forests}");
}

/// The files of the fixture, read by this build and written again, give the same JSON: the
/// model and metadata formats are unchanged (not only still readable).
#[test]
fn this_build_writes_the_files_earlier_code_wrote() {
    use keystroke_workbench::store::{UserId, parse};
    let store = Path::new(FIXTURE).join("store");
    let mut checked = 0;
    for entry in std::fs::read_dir(&store).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let bytes = std::fs::read(&path).unwrap();
        let (user, rewritten) = if let Some(user) = name.strip_suffix(".model.json") {
            let user = UserId::parse(user).unwrap();
            let model = parse::model(&user, &path, &bytes).unwrap();
            (user, serde_json::to_value(&model).unwrap())
        } else if let Some(user) = name.strip_suffix("_metadata.json") {
            let user = UserId::parse(user).unwrap();
            let metadata = parse::metadata(&user, &path, &bytes).unwrap();
            (user, serde_json::to_value(&metadata).unwrap())
        } else {
            continue;
        };
        let mut original: Value = serde_json::from_slice(&bytes).unwrap();
        let object = original.as_object_mut().unwrap();
        object.remove("format");
        object.remove("version");
        assert_eq!(original, rewritten, "{user}: {name}");
        checked += 1;
    }
    assert_eq!(checked, 16, "a model and a metadata file per detector");
}
