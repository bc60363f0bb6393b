//! The bad-input corpus: path traversal in every encoding, oversized and deeply nested bodies,
//! non-finite and absurd timestamps, a million events, and every field of a body given every
//! wrong JSON type. Each is sent over real HTTP to /train, /predict, /user/{id}/info or
//! DELETE /user/{id}, and must get its 4xx with a JSON `error`. Nothing may panic (every request
//! is answered, and the server still answers afterwards) and no file may appear, inside the
//! store or beside it.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{Reply, files_under, genuine, get, request, send_raw, serve_store};
use keystroke_workbench::api::ApiConfig;
use keystroke_workbench::detect::{DetectorParams, Euclidean, IsolationForestParams};
use keystroke_workbench::server::ServerHandle;
use keystroke_workbench::store::Store;
use serde_json::{Value, json};

const TOKEN: &str = "corpus-token";
const AUTH: [(&str, &str); 1] = [("Authorization", "Bearer corpus-token")];

/// A server whose store is `<tmp>/models`, so a write that escaped the store would land in
/// `<tmp>` and be seen.
struct Fixture {
    dir: tempfile::TempDir,
    server: ServerHandle,
}

impl Fixture {
    fn start() -> Fixture {
        Self::with_detector(DetectorParams::new(IsolationForestParams::default()))
    }

    fn with_detector(detector: DetectorParams) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path().join("models")).unwrap());
        let config = ApiConfig {
            api_token: Some(TOKEN.into()),
            detector,
            ..ApiConfig::default()
        };
        let server = serve_store(store, config, None).unwrap();
        Fixture { dir, server }
    }

    fn post(&self, path: &str, body: &[u8]) -> Reply {
        request(self.server.addr(), "POST", path, &AUTH, body)
    }

    /// The answer is `status` (or any 4xx when `None`) with a JSON error, and nothing was written.
    fn assert_refused(&self, reply: &Reply, status: Option<u16>, case: &str) {
        match status {
            Some(status) => assert_eq!(reply.status, status, "{case}: {}", reply.text()),
            None => assert!(
                (400..500).contains(&reply.status),
                "{case}: {} {}",
                reply.status,
                reply.text()
            ),
        }
        let error = reply.error();
        assert!(!error.is_empty(), "{case}");
        assert!(!error.contains("panicked"), "{case}: {error}");
        assert_nothing_written(self.dir.path(), case);
    }
}

fn assert_nothing_written(dir: &Path, case: &str) {
    let files = files_under(dir);
    assert!(files.is_empty(), "{case}: wrote {:?}", files.keys());
    let entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries, ["models"], "{case}: created beside the store");
}

/// User ids that try to leave the store, as they appear in a path segment.
const TRAVERSAL_SEGMENTS: &[&str] = &[
    "..%2F..%2Fetc%2Fpasswd",
    "..%2f..%2f..%2ftmp%2fx",
    "%2e%2e%2f%2e%2e%2fetc",
    "%2E%2E",
    "%2e%2e",
    "%2e",
    "..%5c..%5cwindows",
    "%5c%5cserver%5cshare",
    "%252e%252e%252f",
    "%25252e%25252e",
    "%c0%ae%c0%ae%c0%af",
    "%e0%80%ae%e0%80%ae",
    "%c1%9c",
    "%uff0e%uff0e%u2215",
    "%ef%bc%8e%ef%bc%8e%ef%bc%8f",
    "%e2%80%ae",
    "..%00",
    "%00",
    "a%00.json",
    "...",
    "..;",
    "a%2f..%2f..%2fb",
    "%2fetc%2fpasswd",
    "C:%5cWindows",
    "a%0d%0aX-Injected:%201",
];

/// User ids that try to leave the store, as they appear in a JSON body.
const TRAVERSAL_IDS: &[&str] = &[
    "..",
    ".",
    "../x",
    "../../etc/passwd",
    "..\\..\\windows",
    "/etc/passwd",
    "a/../b",
    "%2e%2e%2f",
    "..%2F",
    "．．／",
    "\u{2215}etc",
    "x\u{0}",
    "\u{202e}txt.exe",
    "C:\\x",
    "a\r\nb",
    ".hidden",
];

#[test]
fn path_traversal_in_every_encoding_is_refused() {
    let fixture = Fixture::start();
    let addr = fixture.server.addr();
    for segment in TRAVERSAL_SEGMENTS {
        let info = get(addr, &format!("/user/{segment}/info"));
        fixture.assert_refused(&info, Some(400), &format!("GET /user/{segment}/info"));
        assert!(
            info.error().contains("user_id"),
            "{segment}: {}",
            info.error()
        );
        let delete = request(addr, "DELETE", &format!("/user/{segment}"), &AUTH, b"");
        fixture.assert_refused(&delete, Some(400), &format!("DELETE /user/{segment}"));
    }
    // Raw dots are an id that is refused; raw slashes make another path, which no endpoint has.
    for (target, status) in [
        ("/user/../info", 400),
        ("/user/./info", 400),
        ("/user/../../etc/passwd/info", 404),
        ("/user//info", 404),
        ("/../health", 404),
        ("/user/a/../../info", 404),
    ] {
        let reply = get(addr, target);
        fixture.assert_refused(&reply, Some(status), target);
    }
    for id in TRAVERSAL_IDS {
        for path in ["/train", "/predict"] {
            let body = json!({"user_id": id, "keystroke_data": genuine(0)}).to_string();
            let reply = fixture.post(path, body.as_bytes());
            fixture.assert_refused(&reply, Some(400), &format!("{path} user_id {id:?}"));
            assert!(
                reply.error().contains("user_id"),
                "{id:?}: {}",
                reply.error()
            );
        }
    }
    assert_eq!(get(addr, "/health").status, 200);
}

#[test]
fn oversized_and_deeply_nested_bodies_are_refused() {
    let fixture = Fixture::start();
    let addr = fixture.server.addr();

    let mut over = json!({"user_id": "alice", "keystroke_data": genuine(0)})
        .to_string()
        .into_bytes();
    over.resize(64 * 1024 + 1, b' ');
    for path in ["/train", "/predict"] {
        let reply = fixture.post(path, &over);
        fixture.assert_refused(&reply, Some(413), &format!("{path} 64 KiB + 1"));
    }

    // A million events (about 60 MB): refused by size, without reading it all.
    let event = r#"{"key":"a","event":"down","timestamp":1},"#;
    let mut million = String::with_capacity(event.len() * 1_000_000 + 64);
    million.push_str(r#"{"user_id":"alice","keystroke_data":["#);
    for _ in 0..1_000_000 {
        million.push_str(event);
    }
    million.pop();
    million.push_str("]}");
    let reply = fixture.post("/train", million.as_bytes());
    fixture.assert_refused(&reply, Some(413), "10^6 events");

    // As many events as fit in 64 KiB: refused by count, with the limit named.
    let mut many = String::from(r#"{"user_id":"alice","keystroke_data":["#);
    while many.len() + event.len() < 64 * 1024 - 2 {
        many.push_str(event);
    }
    many.pop();
    many.push_str("]}");
    let reply = fixture.post("/predict", many.as_bytes());
    fixture.assert_refused(&reply, Some(400), "1,500 events");
    assert!(reply.error().contains("at most 512"), "{}", reply.error());

    let depth = 10_000;
    let nested_arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let nested_objects = format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
    let cases = [
        ("10,000-deep array", nested_arrays.clone()),
        ("10,000-deep object", nested_objects.clone()),
        (
            "10,000-deep keystroke_data",
            format!(r#"{{"user_id":"alice","keystroke_data":{nested_arrays}}}"#),
        ),
        (
            "10,000-deep user_id",
            format!(r#"{{"user_id":{nested_objects},"keystroke_data":[]}}"#),
        ),
        (
            "10,000-deep timestamp",
            format!(
                r#"{{"user_id":"alice","keystroke_data":[{{"key":"a","event":"down","timestamp":{nested_arrays}}}]}}"#
            ),
        ),
        ("unclosed 10,000-deep", "[".repeat(depth)),
    ];
    for (case, body) in &cases {
        for path in ["/train", "/predict"] {
            let reply = fixture.post(path, body.as_bytes());
            fixture.assert_refused(&reply, Some(400), &format!("{path} {case}"));
            assert!(
                reply.error().contains("not valid JSON"),
                "{case}: {}",
                reply.error()
            );
        }
    }
    assert_eq!(get(addr, "/health").status, 200);
}

#[test]
fn non_finite_and_absurd_timestamps_are_refused() {
    let fixture = Fixture::start();
    // Literals JSON does not allow, and numbers it does but no clock gives.
    let cases: &[(&str, &str)] = &[
        ("NaN", "not valid JSON"),
        ("-NaN", "not valid JSON"),
        ("Infinity", "not valid JSON"),
        ("-Infinity", "not valid JSON"),
        ("1e999", "not valid JSON"),
        ("-1e999", "not valid JSON"),
        ("\"NaN\"", "\"timestamp\" must be a number"),
        ("\"Infinity\"", "\"timestamp\" must be a number"),
        ("\"1e999\"", "\"timestamp\" must be a number"),
        ("null", "\"timestamp\" must be a number"),
        ("-1", "keystroke_data[0]"),
        ("-1e-300", "keystroke_data[0]"),
    ];
    for (literal, fragment) in cases {
        let body = format!(
            r#"{{"user_id":"alice","keystroke_data":[{{"key":"a","event":"down","timestamp":{literal}}},{{"key":"a","event":"up","timestamp":90}},{{"key":"b","event":"down","timestamp":150}},{{"key":"b","event":"up","timestamp":230}}]}}"#
        );
        for path in ["/train", "/predict"] {
            let reply = fixture.post(path, body.as_bytes());
            fixture.assert_refused(&reply, Some(400), &format!("{path} timestamp {literal}"));
            assert!(
                reply.error().contains(fragment),
                "{literal}: {:?} lacks {fragment:?}",
                reply.error()
            );
        }
    }
}

#[test]
fn absurd_but_valid_timestamps_get_a_finite_answer() {
    // The contract accepts any finite timestamp ≥ 0; timings near f64::MAX must still give a
    // JSON number (the Euclidean distance overflows to infinity there, and an infinite score
    // would be written as null and break the app).
    let fixture = Fixture::with_detector(DetectorParams::new(Euclidean));
    for i in 0..5 {
        let reply = fixture.post(
            "/train",
            common::sample_body("alice", genuine(i))
                .to_string()
                .as_bytes(),
        );
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    for (hold, gap) in [(1e300, 2e300), (f64::MAX / 32.0, f64::MAX / 16.0)] {
        let absurd = common::events(&common::PHRASE, |_| (hold, gap));
        let reply = fixture.post(
            "/predict",
            common::sample_body("alice", absurd).to_string().as_bytes(),
        );
        assert_eq!(reply.status, 200, "{}", reply.text());
        let body = reply.json();
        assert_eq!(body["authenticated"], false, "{body}");
        let score = body["confidence_score"].as_f64();
        assert!(score.is_some_and(f64::is_finite), "{hold}: {body}");
    }
}

/// Replaces the value at `pointer` (a JSON pointer) in a copy of `body`.
fn with_value(body: &Value, pointer: &str, value: Value) -> Value {
    let mut body = body.clone();
    *body.pointer_mut(pointer).unwrap() = value;
    body
}

#[test]
fn every_field_given_every_wrong_type_is_refused() {
    let fixture = Fixture::start();
    let body = json!({"user_id": "alice", "keystroke_data": genuine(0)});
    let wrong = |right: &str| -> Vec<Value> {
        [
            ("null", Value::Null),
            ("boolean", json!(true)),
            ("number", json!(7)),
            ("string", json!("7")),
            ("array", json!([])),
            ("object", json!({})),
        ]
        .into_iter()
        .filter(|(name, _)| *name != right)
        .map(|(_, value)| value)
        .collect()
    };
    let fields = [
        ("", "object", "request body"),
        ("/user_id", "string", "user_id"),
        ("/keystroke_data", "array", "keystroke_data"),
        ("/keystroke_data/0", "object", "keystroke_data[0]"),
        ("/keystroke_data/3/key", "string", "keystroke_data[3]"),
        ("/keystroke_data/3/event", "string", "keystroke_data[3]"),
        ("/keystroke_data/5/timestamp", "number", "keystroke_data[5]"),
    ];
    let mut cases = 0;
    for (pointer, right, named) in fields {
        for value in wrong(right) {
            let bad = with_value(&body, pointer, value.clone());
            for path in ["/train", "/predict"] {
                let reply = fixture.post(path, bad.to_string().as_bytes());
                let case = format!("{path} {pointer} = {value}");
                fixture.assert_refused(&reply, Some(400), &case);
                assert!(reply.error().contains(named), "{case}: {}", reply.error());
                cases += 1;
            }
        }
    }
    assert_eq!(cases, 7 * 5 * 2);
    // Bytes that are not JSON text at all.
    for (case, bytes) in [
        ("invalid UTF-8", b"{\"user_id\":\"\xff\xfe\"}".to_vec()),
        (
            "UTF-16",
            "{}".encode_utf16().flat_map(u16::to_le_bytes).collect(),
        ),
        ("byte-order mark", b"\xef\xbb\xbf{}".to_vec()),
        ("trailing garbage", b"{} {}".to_vec()),
        ("NUL", b"\0".to_vec()),
    ] {
        let reply = fixture.post("/train", &bytes);
        fixture.assert_refused(&reply, Some(400), case);
    }
}

#[test]
fn malformed_http_is_refused_and_the_server_survives() {
    let fixture = Fixture::start();
    let addr = fixture.server.addr();
    for (case, raw) in [
        (
            "non-numeric Content-Length",
            &b"POST /train HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: abc\r\n\r\n{}"[..],
        ),
        (
            "negative Content-Length",
            b"POST /train HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: -1\r\n\r\n{}",
        ),
        (
            "bad chunk size",
            b"POST /train HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
        ),
    ] {
        let reply = send_raw(addr, raw);
        assert!(
            (400..500).contains(&reply.status),
            "{case}: {} {}",
            reply.status,
            reply.text()
        );
        assert_nothing_written(fixture.dir.path(), case);
    }
    assert_eq!(get(addr, "/health").status, 200);
}
