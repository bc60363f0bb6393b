//! The API contract (`spec/api.md`) over real HTTP on 127.0.0.1: every compatible response
//! shape, byte for byte where the app reads it, and every row of the error table.

mod common;

use std::time::Duration;

use common::*;
use keystroke_workbench::api::{ApiConfig, Cors};
use keystroke_workbench::detect::{DetectorParams, IsolationForestParams, SecurityLevel};
use keystroke_workbench::store::UserId;
use serde_json::{Value, json};

fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .expect("a JSON object")
        .keys()
        .map(String::as_str)
        .collect()
}

fn train(server: &TestServer, user: &str, n: usize) -> Vec<Reply> {
    (0..n)
        .map(|i| post(server.addr(), "/train", &sample_body(user, genuine(i))))
        .collect()
}

#[test]
fn health_answers_the_compatible_shape() {
    let server = TestServer::start();
    let reply = get(server.addr(), "/health");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("Content-Type"), Some("application/json"));
    let body = reply.json();
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["service"], "Keystroke Dynamics Authentication API");
    let timestamp = body["timestamp"].as_str().unwrap();
    // Python's datetime.now().isoformat(): local time, microseconds, no zone.
    let parsed = chrono::NaiveDateTime::parse_from_str(timestamp, "%Y-%m-%dT%H:%M:%S%.6f");
    assert!(parsed.is_ok(), "{timestamp}");
    assert_eq!(
        timestamp.len(),
        "2026-11-21T10:30:00.000000".len(),
        "{timestamp}"
    );
    let age = chrono::Local::now().naive_local() - parsed.unwrap();
    assert!(age.num_seconds().abs() < 60, "{timestamp} is not now");
}

/// A /train reply without its extension key `quality` (from the third sample on).
fn compatible_part(reply: &Reply) -> Value {
    let mut body = reply.json();
    body.as_object_mut().unwrap().remove("quality");
    body
}

#[test]
fn train_answers_below_and_at_the_minimum() {
    let server = TestServer::start();
    let replies = train(&server, "alice", 6);
    for (i, reply) in replies.iter().enumerate().take(4) {
        assert_eq!(reply.status, 200);
        // Integers, exact keys, the message naming the configured minimum.
        let text = reply.text();
        assert!(
            text.contains(&format!("\"samples_count\":{}", i + 1)),
            "{text}"
        );
        assert!(text.contains("\"model_trained\":false"), "{text}");
        assert_eq!(
            compatible_part(reply),
            json!({"status": "Training data received", "samples_count": i + 1,
                   "model_trained": false, "message": "Need 5 samples to train model"})
        );
    }
    for (i, reply) in replies.iter().enumerate().skip(4) {
        assert_eq!(
            compatible_part(reply),
            json!({"status": "Training data received", "samples_count": i + 1,
                   "model_trained": true})
        );
    }
}

/// Extension: from the third sample on, /train says how consistent the sample is with the
/// user's others, and whether the enrolment as a whole can be trusted.
#[test]
fn train_reports_each_samples_consistency_and_flags_an_odd_one() {
    let server = TestServer::start();
    let replies = train(&server, "alice", 4);
    assert!(
        replies[..2]
            .iter()
            .all(|r| r.json().get("quality").is_none())
    );
    for reply in &replies[2..] {
        let quality = &reply.json()["quality"];
        assert_eq!(
            keys(quality),
            [
                "consistency",
                "consistent",
                "enrolment_consistent",
                "inconsistent_samples"
            ]
        );
        assert!(quality["consistency"].as_f64().unwrap() >= 0.7, "{quality}");
        assert_eq!(quality["consistent"], true);
        assert_eq!(quality["enrolment_consistent"], true);
    }
    let odd = post(server.addr(), "/train", &sample_body("alice", imposter()));
    assert_eq!(odd.status, 200);
    let quality = &odd.json()["quality"];
    assert!(quality["consistency"].as_f64().unwrap() < 0.7, "{quality}");
    assert_eq!(quality["consistent"], false);
    assert_eq!(quality["enrolment_consistent"], false);
    assert_eq!(quality["inconsistent_samples"], json!([5]));
}

#[test]
fn the_minimum_is_configurable_and_named_in_the_message() {
    let server = TestServer::with_config(ApiConfig {
        min_samples: 3,
        ..ApiConfig::default()
    });
    let replies = train(&server, "alice", 3);
    assert_eq!(
        replies[0].json()["message"],
        "Need 3 samples to train model"
    );
    assert_eq!(replies[2].json()["model_trained"], true);
    let info = get(server.addr(), "/user/alice/info").json();
    assert_eq!(info["min_samples_required"], 3);
}

#[test]
fn the_default_detector_trains_at_every_minimum_from_one() {
    for min in 1..=4 {
        let server = TestServer::with_config(ApiConfig {
            min_samples: min,
            ..ApiConfig::default()
        });
        // The fusion learns its threshold from two samples or more: a minimum of 1 is 2.
        let trained_at = min.max(2);
        let replies = train(&server, "alice", trained_at);
        for (i, reply) in replies.iter().enumerate() {
            assert_eq!(reply.status, 200, "min {min}: {}", reply.text());
            let trained = reply.json()["model_trained"] == true;
            assert_eq!(trained, i + 1 == trained_at, "min {min}, sample {}", i + 1);
        }
        // A typing like the enrolment's (variant 12 repeats variant 1's rhythm) is accepted,
        // the impostor's rejected.
        let reply = post(
            server.addr(),
            "/predict",
            &sample_body("alice", genuine(12)),
        );
        assert_eq!(reply.status, 200, "min {min}: {}", reply.text());
        assert_eq!(
            reply.json()["authenticated"],
            true,
            "min {min}: {}",
            reply.text()
        );
        let reply = post(server.addr(), "/predict", &sample_body("alice", imposter()));
        assert_eq!(
            reply.json()["authenticated"],
            false,
            "min {min}: {}",
            reply.text()
        );
        let info = get(server.addr(), "/user/alice/info").json();
        assert_eq!(
            info["detector"],
            keystroke_workbench::detect::DEFAULT_DETECTOR.id()
        );
    }
}

#[test]
fn the_security_level_moves_the_threshold_and_info_names_it() {
    let at = |security| ApiConfig {
        security,
        ..ApiConfig::default()
    };
    let server = TestServer::with_config(at(SecurityLevel::Convenient));
    train(&server, "alice", 20);
    let info = get(server.addr(), "/user/alice/info").json();
    assert_eq!(info["security_level"], "convenient");
    let attempt = sample_body("alice", genuine(50));
    let score = |server: &TestServer| {
        let reply = post(server.addr(), "/predict", &attempt);
        assert_eq!(reply.status, 200, "{}", reply.text());
        reply.json()["confidence_score"].as_f64().unwrap()
    };
    let convenient = score(&server);
    // The same folder served strictly: the same attempt scores lower, by exactly the gap
    // between the model's two thresholds (a new process: no replay memory).
    let server = server.restart(at(SecurityLevel::Strict));
    assert_eq!(
        get(server.addr(), "/user/alice/info").json()["security_level"],
        "strict"
    );
    let strict = score(&server);
    let alice = UserId::parse("alice").unwrap();
    let metadata = server.store.metadata(&alice).unwrap().unwrap();
    let model = server.store.model(&alice, &metadata).unwrap().unwrap();
    let levels = model.levels.expect("the default detector has levels");
    assert!(levels.strict > levels.convenient, "{levels:?}");
    let gap = levels.strict - levels.convenient;
    assert!(
        ((convenient - strict) - gap).abs() < 1e-9,
        "{convenient} {strict} {levels:?}"
    );
    // An isolation forest's threshold is scikit-learn's at every level: /info names none.
    let forest = ApiConfig {
        detector: DetectorParams::new(IsolationForestParams::default()),
        ..at(SecurityLevel::Strict)
    };
    let server = server.restart(forest);
    train(&server, "bob", 5);
    let info = get(server.addr(), "/user/bob/info").json();
    assert_eq!(info["detector"], "isolation-forest");
    assert!(info.get("security_level").is_none(), "{info}");
}

#[test]
fn predict_answers_genuine_and_imposter_shapes() {
    let server = TestServer::start();
    train(&server, "alice", 20);
    let genuine_reply = post(
        server.addr(),
        "/predict",
        &sample_body("alice", genuine(1003)),
    );
    assert_eq!(genuine_reply.status, 200);
    let body = genuine_reply.json();
    assert_eq!(
        keys(&body),
        ["authenticated", "confidence_score", "user_id"]
    );
    assert_eq!(body["authenticated"], true);
    assert!(body["confidence_score"].as_f64().unwrap() >= 0.0);
    assert!(body["confidence_score"].is_f64());
    assert_eq!(body["user_id"], "alice");

    let imposter_reply = post(server.addr(), "/predict", &sample_body("alice", imposter()));
    assert_eq!(imposter_reply.status, 200);
    let body = imposter_reply.json();
    assert_eq!(
        keys(&body),
        ["authenticated", "confidence_score", "reason", "user_id"]
    );
    assert_eq!(body["authenticated"], false);
    assert_eq!(body["reason"], "Typing pattern anomaly detected");
    assert!(body["confidence_score"].as_f64().unwrap() < 0.0);
}

#[test]
fn predict_without_a_model_is_404() {
    let server = TestServer::start();
    let reply = post(
        server.addr(),
        "/predict",
        &sample_body("nobody", genuine(0)),
    );
    assert_eq!(reply.status, 404);
    assert_eq!(
        reply.json(),
        json!({"error": "User model not found. Please train the model first."})
    );
    train(&server, "alice", 4);
    let reply = post(server.addr(), "/predict", &sample_body("alice", genuine(0)));
    assert_eq!(reply.status, 404, "below the minimum there is no model");
}

#[test]
fn another_phrase_fails_predict_and_is_refused_by_train() {
    let server = TestServer::start();
    train(&server, "alice", 5);
    let other = events(&["h", "e", "l", "l", "o"], |_| (90.0, 180.0));
    let reply = post(
        server.addr(),
        "/predict",
        &sample_body("alice", other.clone()),
    );
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.json(),
        json!({"authenticated": false, "reason": "Typed text does not match the enrolled phrase",
               "confidence_score": -1.0, "user_id": "alice"})
    );
    assert!(reply.text().contains("\"confidence_score\":-1.0"));
    // The failed attempt's count reaches the store in the background: let it land first.
    let counted = wait_for_throttle(server.dir.path(), "alice", Duration::from_secs(2), |s| {
        s.consecutive_failures == 1
    });
    assert_eq!(counted.consecutive_failures, 1, "the failure is counted");

    let before = server.files();
    let reply = post(server.addr(), "/train", &sample_body("alice", other));
    assert_eq!(reply.status, 400);
    let error = reply.error();
    assert!(error.contains("differ from the enrolled phrase"), "{error}");
    assert!(
        error.contains("p a s s w o r d") && error.contains("h e l l o"),
        "{error}"
    );
    assert_eq!(server.files(), before, "a refused /train changes nothing");
}

#[test]
fn info_answers_e_mail_ids_raw_and_percent_encoded() {
    let server = TestServer::start();
    for user in ["alice@example.com", "bob+test@lab.org"] {
        train(&server, user, 5);
    }
    for (target, user) in [
        ("/user/alice@example.com/info", "alice@example.com"),
        ("/user/alice%40example.com/info", "alice@example.com"),
        ("/user/bob+test@lab.org/info", "bob+test@lab.org"),
        ("/user/bob%2Btest%40lab.org/info", "bob+test@lab.org"),
    ] {
        let reply = get(server.addr(), target);
        assert_eq!(reply.status, 200, "{target}");
        let body = reply.json();
        assert_eq!(body["user_id"], user, "{target}");
        assert_eq!(body["training_samples"], 5);
        assert_eq!(body["has_trained_model"], true);
        assert_eq!(body["min_samples_required"], 5);
        assert_eq!(body["max_feature_length"], 3 * PHRASE.len() - 2);
        let text = reply.text();
        assert!(text.contains("\"training_samples\":5"), "{text}");
        assert!(text.contains("\"max_feature_length\":22"), "{text}");
    }
}

#[test]
fn info_of_an_unknown_user_is_zero_and_creates_nothing() {
    let server = TestServer::start();
    let before = server.files();
    let reply = get(server.addr(), "/user/carol@example.com/info");
    assert_eq!(reply.status, 200);
    let body = reply.json();
    for key in [
        "user_id",
        "training_samples",
        "has_trained_model",
        "min_samples_required",
        "max_feature_length",
    ] {
        assert!(body.get(key).is_some(), "{key} missing from {body}");
    }
    assert_eq!(body["training_samples"], 0);
    assert_eq!(body["has_trained_model"], false);
    assert_eq!(body["max_feature_length"], 0);
    assert_eq!(server.files(), before);
}

/// Every refused request: its status, a JSON `error`, and nothing written.
fn assert_refused(server: &TestServer, reply: &Reply, status: u16, fragment: &str) {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert_eq!(reply.header("Content-Type"), Some("application/json"));
    let error = reply.error();
    assert!(error.contains(fragment), "{error:?} lacks {fragment:?}");
    assert!(
        server.files().is_empty(),
        "a refused request wrote {:?}",
        server.files().keys()
    );
}

#[test]
fn malformed_bodies_are_400_with_a_precise_message() {
    let server = TestServer::start();
    let ok_events = genuine(0);
    let event = |key: Value, action: Value, timestamp: Value| {
        json!([{"key": key, "event": action, "timestamp": timestamp},
               {"key": "b", "event": "down", "timestamp": 500},
               {"key": "b", "event": "up", "timestamp": 600}])
    };
    let too_many: Vec<Value> = (0..257)
        .flat_map(|i| {
            [
                json!({"key": "a", "event": "down", "timestamp": i * 10}),
                json!({"key": "a", "event": "up", "timestamp": i * 10 + 5}),
            ]
        })
        .collect();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("not JSON", b"user_id=alice".to_vec(), "not valid JSON"),
        ("empty", Vec::new(), "not valid JSON"),
        ("array", b"[1, 2]".to_vec(), "must be a JSON object"),
        ("string", b"\"alice\"".to_vec(), "must be a JSON object"),
        (
            "no user_id",
            json!({"keystroke_data": ok_events}).to_string().into_bytes(),
            "\"user_id\" is missing",
        ),
        (
            "numeric user_id",
            json!({"user_id": 42, "keystroke_data": ok_events}).to_string().into_bytes(),
            "\"user_id\" must be a string",
        ),
        (
            "no keystroke_data",
            json!({"user_id": "alice"}).to_string().into_bytes(),
            "\"keystroke_data\" is missing",
        ),
        (
            "keystroke_data object",
            json!({"user_id": "alice", "keystroke_data": {"a": 1}}).to_string().into_bytes(),
            "must be an array",
        ),
        (
            "empty user_id",
            json!({"user_id": "", "keystroke_data": ok_events}).to_string().into_bytes(),
            "must not be empty",
        ),
        (
            "long user_id",
            json!({"user_id": "a".repeat(129), "keystroke_data": ok_events}).to_string().into_bytes(),
            "129 characters",
        ),
        (
            "slash in user_id",
            json!({"user_id": "../etc/passwd", "keystroke_data": ok_events}).to_string().into_bytes(),
            "only A-Z a-z 0-9",
        ),
        (
            "backslash in user_id",
            json!({"user_id": "a\\b", "keystroke_data": ok_events}).to_string().into_bytes(),
            "only A-Z a-z 0-9",
        ),
        (
            "NUL in user_id",
            json!({"user_id": "a\u{0}b", "keystroke_data": ok_events}).to_string().into_bytes(),
            "only A-Z a-z 0-9",
        ),
        (
            "leading dot",
            json!({"user_id": ".alice", "keystroke_data": ok_events}).to_string().into_bytes(),
            "must not start with '.'",
        ),
        (
            "unknown event",
            sample_body("alice", event(json!("a"), json!("press"), json!(1))).to_string().into_bytes(),
            "keystroke_data[0]: \"event\" must be \"down\" or \"up\", got \"press\"",
        ),
        (
            "empty key",
            sample_body("alice", event(json!(""), json!("down"), json!(1))).to_string().into_bytes(),
            "keystroke_data[0]",
        ),
        (
            "long key",
            sample_body("alice", event(json!("k".repeat(33)), json!("down"), json!(1))).to_string().into_bytes(),
            "keystroke_data[0]",
        ),
        (
            "numeric key",
            sample_body("alice", event(json!(7), json!("down"), json!(1))).to_string().into_bytes(),
            "\"key\" must be a string",
        ),
        (
            "negative timestamp",
            sample_body("alice", event(json!("a"), json!("down"), json!(-1))).to_string().into_bytes(),
            "keystroke_data[0]",
        ),
        (
            "string timestamp",
            sample_body("alice", event(json!("a"), json!("down"), json!("1"))).to_string().into_bytes(),
            "\"timestamp\" must be a number",
        ),
        (
            "infinite timestamp",
            br#"{"user_id":"alice","keystroke_data":[{"key":"a","event":"down","timestamp":1e999}]}"#.to_vec(),
            "not valid JSON",
        ),
        (
            "NaN timestamp",
            br#"{"user_id":"alice","keystroke_data":[{"key":"a","event":"down","timestamp":NaN}]}"#.to_vec(),
            "not valid JSON",
        ),
        (
            "unmatched press",
            sample_body("alice", json!([{"key": "a", "event": "down", "timestamp": 5},
                {"key": "b", "event": "down", "timestamp": 9}, {"key": "b", "event": "up", "timestamp": 20}]))
            .to_string().into_bytes(),
            "key \"a\" pressed at 5 ms is never released",
        ),
        (
            "unmatched release",
            sample_body("alice", json!([{"key": "a", "event": "up", "timestamp": 5},
                {"key": "b", "event": "down", "timestamp": 9}, {"key": "b", "event": "up", "timestamp": 20}]))
            .to_string().into_bytes(),
            "key \"a\" released at 5 ms was never pressed",
        ),
        (
            "one press",
            sample_body("alice", events(&["a"], |_| (90.0, 100.0))).to_string().into_bytes(),
            "at least 2 complete key presses",
        ),
        (
            "514 events",
            sample_body("alice", Value::Array(too_many)).to_string().into_bytes(),
            "at most 512",
        ),
    ];
    for path in ["/train", "/predict"] {
        for (name, body, fragment) in &cases {
            let reply = request(server.addr(), "POST", path, &[], body);
            assert_eq!(reply.status, 400, "{path} {name}: {}", reply.text());
            let error = reply.error();
            assert!(
                error.contains(fragment),
                "{path} {name}: {error:?} lacks {fragment:?}"
            );
        }
    }
    assert!(server.files().is_empty(), "{:?}", server.files().keys());
}

#[test]
fn content_type_is_ignored() {
    let server = TestServer::start();
    for (i, content_type) in ["text/plain", "application/x-www-form-urlencoded"]
        .into_iter()
        .enumerate()
    {
        let body = sample_body("alice", genuine(i)).to_string();
        let reply = request(
            server.addr(),
            "POST",
            "/train",
            &[("Content-Type", content_type)],
            body.as_bytes(),
        );
        assert_eq!(reply.status, 200, "{content_type}");
    }
}

#[test]
fn bad_ids_in_the_info_path_are_400() {
    let server = TestServer::start();
    for target in [
        "/user/..%2F..%2Fetc%2Fpasswd/info",
        "/user/a%5Cb/info",
        "/user/a%00b/info",
        "/user/.hidden/info",
        "/user/%2e%2e/info",
        "/user/%ff%fe/info",
        "/user/has%20space/info",
    ] {
        let reply = get(server.addr(), target);
        assert_refused(&server, &reply, 400, "user_id");
    }
    // A raw slash is another path altogether.
    assert_refused(
        &server,
        &get(server.addr(), "/user/../etc/info"),
        404,
        "no such endpoint",
    );
}

#[test]
fn oversized_bodies_are_413() {
    let server = TestServer::start();
    let big = vec![b' '; 64 * 1024 + 1];
    let reply = request(server.addr(), "POST", "/train", &[], &big);
    assert_refused(&server, &reply, 413, "larger than 65536 bytes");

    // Exactly the limit is read (and then refused for what it is).
    let mut padded = sample_body("alice", genuine(0)).to_string().into_bytes();
    padded.resize(64 * 1024, b' ');
    let reply = request(server.addr(), "POST", "/predict", &[], &padded);
    assert_eq!(reply.status, 404, "{}", reply.text());

    // Chunked, without a Content-Length.
    let mut raw = b"POST /train HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..20 {
        raw.extend_from_slice(b"1000\r\n");
        raw.extend_from_slice(&[b' '; 0x1000]);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    assert_refused(&server, &send_raw(server.addr(), &raw), 413, "larger than");

    // A declared length no one could send: refused at once, and the server survives it.
    let raw = b"POST /train HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000000\r\n\r\n{}";
    assert_refused(&server, &send_raw(server.addr(), raw), 413, "larger than");
    assert_eq!(get(server.addr(), "/health").status, 200);
}

#[test]
fn unknown_paths_are_404_and_wrong_methods_405_with_json_bodies() {
    let server = TestServer::start();
    // `/` is the collection page (tests/collect_page.rs).
    for target in [
        "/nope",
        "/collect/",
        "/health/",
        "/train/x",
        "/user/",
        "/user/alice/info/x",
    ] {
        assert_refused(
            &server,
            &get(server.addr(), target),
            404,
            "no such endpoint",
        );
    }
    for (method, target, allow) in [
        ("GET", "/train", "POST, OPTIONS"),
        ("PUT", "/predict", "POST, OPTIONS"),
        ("POST", "/health", "GET, HEAD, OPTIONS"),
        ("DELETE", "/user/alice/info", "GET, HEAD, OPTIONS"),
        ("GET", "/user/alice", "DELETE, OPTIONS"),
    ] {
        let reply = request(server.addr(), method, target, &[], b"");
        assert_refused(&server, &reply, 405, "is not allowed");
        assert_eq!(reply.header("Allow"), Some(allow));
    }
}

#[test]
fn io_failures_are_500_with_a_message_and_no_stack_trace() {
    let server = TestServer::start();
    // A folder where the samples file belongs: the append fails.
    std::fs::create_dir(server.dir.path().join("alice_samples.jsonl")).unwrap();
    let reply = post(server.addr(), "/train", &sample_body("alice", genuine(0)));
    assert_eq!(reply.status, 500);
    let error = reply.error();
    // It names the file by what it holds; the path is only in the log.
    assert!(error.contains("samples file"), "{error}");
    assert!(!error.contains("alice_samples.jsonl"), "{error}");
    assert!(
        !error.contains("panicked") && !error.contains("src/"),
        "{error}"
    );
    assert!(!server.dir.path().join("alice_metadata.json").exists());
    assert!(!server.dir.path().join("alice_features.npy").exists());
}

#[test]
fn the_token_guards_train_only() {
    let server = TestServer::with_config(ApiConfig {
        api_token: Some("s3cret-token".into()),
        ..ApiConfig::default()
    });
    let body = sample_body("alice", genuine(0)).to_string();
    for headers in [
        vec![],
        vec![("Authorization", "Bearer wrong-token!")],
        vec![("Authorization", "Bearer s3cret-toke")],
        vec![("Authorization", "Basic s3cret-token")],
        vec![("Authorization", "s3cret-token")],
    ] {
        let reply = request(server.addr(), "POST", "/train", &headers, body.as_bytes());
        assert_refused(&server, &reply, 401, "Authorization: Bearer");
        assert_eq!(reply.header("WWW-Authenticate"), Some("Bearer"));
    }
    let reply = request(
        server.addr(),
        "POST",
        "/train",
        &[("Authorization", "Bearer s3cret-token")],
        body.as_bytes(),
    );
    assert_eq!(reply.status, 200);
    // The app sends no Authorization header to the other endpoints.
    assert_eq!(get(server.addr(), "/user/alice/info").status, 200);
    assert_eq!(
        post(server.addr(), "/predict", &sample_body("alice", genuine(0))).status,
        404
    );
}

#[test]
fn without_a_token_the_app_needs_no_header() {
    let server = TestServer::start();
    assert_eq!(train(&server, "alice@example.com", 1)[0].status, 200);
}

#[test]
fn cors_headers_only_when_configured() {
    let off = TestServer::start();
    let reply = request(
        off.addr(),
        "GET",
        "/health",
        &[("Origin", "https://a.example")],
        b"",
    );
    assert_eq!(reply.header("Access-Control-Allow-Origin"), None);

    let on = TestServer::with_config(ApiConfig {
        cors: Cors::parse("https://a.example"),
        ..ApiConfig::default()
    });
    let reply = request(
        on.addr(),
        "GET",
        "/health",
        &[("Origin", "https://a.example")],
        b"",
    );
    assert_eq!(
        reply.header("Access-Control-Allow-Origin"),
        Some("https://a.example")
    );
    let reply = request(
        on.addr(),
        "GET",
        "/health",
        &[("Origin", "https://b.example")],
        b"",
    );
    assert_eq!(reply.header("Access-Control-Allow-Origin"), None);
    let preflight = request(
        on.addr(),
        "OPTIONS",
        "/train",
        &[
            ("Origin", "https://a.example"),
            ("Access-Control-Request-Method", "POST"),
        ],
        b"",
    );
    assert_eq!(preflight.status, 200);
    assert!(preflight.json().is_object());
    assert_eq!(
        preflight.header("Access-Control-Allow-Headers"),
        Some("Content-Type, Authorization, X-Enrolment-Code")
    );
}

#[test]
fn keep_alive_connections_serve_many_requests() {
    use std::io::Write;
    let server = TestServer::start();
    let mut stream = std::net::TcpStream::connect(server.addr()).unwrap();
    for _ in 0..50 {
        stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let reply = read_reply(&mut stream).expect("an answer on the same connection");
        assert_eq!(reply.status, 200);
    }
}

#[test]
fn a_connection_closes_after_its_thousandth_request_and_says_so() {
    use std::io::Write;
    let server = TestServer::start();
    let mut stream = std::net::TcpStream::connect(server.addr()).unwrap();
    for i in 1..=1000 {
        stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let reply = read_reply(&mut stream).expect("an answer on the same connection");
        assert_eq!(reply.status, 200);
        let closes = reply
            .header("Connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        assert_eq!(closes, i == 1000, "request {i}");
    }
    assert!(
        read_reply(&mut stream).is_none(),
        "closed after the 1,000th"
    );
}

#[test]
fn framing_two_parsers_could_read_differently_is_refused() {
    use std::io::Write;
    let server = TestServer::start();
    let body = r#"{"user_id": "alice", "keystroke_data": []}"#;
    let n = body.len();
    for head in [
        format!("Content-Length: {n}\r\nContent-Length: 2"),
        format!("Content-Length: +{n}"),
        format!("Content-Length: {n}\r\nTransfer-Encoding: chunked"),
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity".to_string(),
        "Transfer-Encoding: gzip".to_string(),
    ] {
        let mut stream = std::net::TcpStream::connect(server.addr()).unwrap();
        let raw = format!("POST /predict HTTP/1.1\r\nHost: x\r\n{head}\r\n\r\n{body}");
        stream.write_all(raw.as_bytes()).unwrap();
        let reply = read_reply(&mut stream).expect("an answer");
        assert_eq!(reply.status, 400, "{head}: {}", reply.text());
        assert!(reply.json()["error"].is_string(), "{head}");
        assert!(
            read_reply(&mut stream).is_none(),
            "{head}: the connection is closed"
        );
    }
    assert_eq!(get(server.addr(), "/health").status, 200);
}

#[test]
fn an_endless_header_line_closes_the_connection_not_the_server() {
    let server = TestServer::start();
    let mut raw = b"GET /health HTTP/1.1\r\nX-Long: ".to_vec();
    raw.extend(std::iter::repeat_n(b'a', 100_000));
    raw.extend_from_slice(b"\r\n\r\n");
    let mut stream = std::net::TcpStream::connect(server.addr()).unwrap();
    use std::io::Write;
    let _ = stream.write_all(&raw);
    // Refused with a JSON answer (431), then the connection is closed.
    if let Some(reply) = read_reply(&mut stream) {
        assert_eq!(reply.status, 431);
        assert!(reply.json()["error"].as_str().unwrap().contains("too long"));
    }
    assert!(
        read_reply(&mut stream).is_none(),
        "the connection is closed"
    );
    assert_eq!(get(server.addr(), "/health").status, 200);
}
