//! A detector added by one file and one registration line (the core's `toy-detector`) is
//! trained, stored, loaded and scored through the API like any other.

use std::sync::Arc;

use chrono::NaiveDateTime;
use keystroke_core::capture::Sample;
use keystroke_core::detect::{DetectorKind, Scorer, SecurityLevel, toy::Toy};
use keystroke_core::features::Features;
use keystroke_core::store::{Store, UserId};
use keystroke_server::api::{Api, ApiConfig, Request, Response, body::decode_sample};
use serde_json::{Value, json};

fn typing(hold: f64, gap: f64, wobble: f64) -> Value {
    let keys = ["t", "o", "y", "Enter"];
    let mut events = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let down = 1000.0 + i as f64 * (gap + wobble * (i % 2) as f64);
        events.push(json!({"key": key, "event": "down", "timestamp": down}));
        events.push(json!({"key": key, "event": "up", "timestamp": down + hold + wobble}));
    }
    json!({"user_id": "toby", "keystroke_data": events})
}

fn call(api: &Api, method: &str, target: &str, body: &Value, second: i64) -> Response {
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    let now = NaiveDateTime::parse_from_str("2026-12-02T10:00:00", "%Y-%m-%dT%H:%M:%S").unwrap()
        + chrono::Duration::seconds(second);
    api.handle(
        &Request {
            method,
            target,
            body: &bytes,
            authorization: None,
            origin: None,
            client: None,
            ..Request::default()
        },
        now,
    )
}

fn features(body: &Value) -> Vec<f64> {
    let (_, sample): (UserId, Sample) = decode_sample(body.to_string().as_bytes()).unwrap();
    Features::of(&sample).values_ms
}

#[test]
fn the_toy_detector_is_trained_and_scored_through_the_api() {
    let kind: DetectorKind = "toy".parse().unwrap();
    assert!(kind.is::<Toy>());
    assert!(DetectorKind::ALL.contains(&kind), "listed with the others");
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let config = ApiConfig {
        detector: kind.default_params(),
        ..ApiConfig::default()
    };
    let api = Api::new(Arc::clone(&store), config.clone());
    for i in 0..6 {
        let reply = call(&api, "POST", "/train", &typing(90.0, 150.0, i as f64), i);
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let info = call(&api, "GET", "/user/toby/info", &Value::Null, 10);
    assert_eq!(info.body["detector"], "toy", "{}", info.body);
    assert_eq!(info.body["has_trained_model"], true);

    // The model file names the detector and holds its own fields.
    let file: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("toby.model.json")).unwrap())
            .unwrap();
    assert_eq!(file["model"]["name"], "toy", "{file}");
    assert!(file["model"]["mean"].is_array(), "{file}");

    // A fresh API over the same folder loads the stored model: the verdict and score are the
    // model's own decision (score − threshold) for the attempt's features.
    let api = Api::new(Arc::clone(&store), config);
    let user = UserId::parse("toby").unwrap();
    let metadata = store.metadata(&user).unwrap().unwrap();
    let model = store.model(&user, &metadata).unwrap().unwrap();
    assert!(model.model.get::<Toy>().is_some());
    let genuine = typing(90.0, 150.0, 2.5);
    let reply = call(&api, "POST", "/predict", &genuine, 20);
    let expected = model
        .decision_at(SecurityLevel::default(), &features(&genuine))
        .unwrap();
    assert_eq!(
        reply.body["confidence_score"],
        json!(expected),
        "{}",
        reply.body
    );
    assert_eq!(reply.body["authenticated"], true, "{}", reply.body);
    let imposter = typing(250.0, 600.0, 0.0);
    let reply = call(&api, "POST", "/predict", &imposter, 21);
    assert_eq!(reply.body["authenticated"], false, "{}", reply.body);
    assert_eq!(
        reply.body["confidence_score"],
        json!(
            model
                .decision_at(SecurityLevel::default(), &features(&imposter))
                .unwrap()
        )
    );
}
