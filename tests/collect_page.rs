//! The collection page's server side over real HTTP: its files and security headers, the
//! same-origin rule that admits the page itself (and not a rebound DNS name), enrolment codes
//! with a token set, and the samples' source. The page itself runs in `tests/browser.rs`.

mod common;

use common::{TestServer, genuine, post, request, sample_body};
use keystroke_workbench::api::ApiConfig;
use serde_json::{Value, json};

const TOKEN: &str = "lab-token-0123456789";

fn with_token() -> TestServer {
    TestServer::with_config(ApiConfig {
        api_token: Some(TOKEN.into()),
        ..ApiConfig::default()
    })
}

fn train(server: &TestServer, headers: &[(&str, &str)], body: &Value) -> common::Reply {
    request(
        server.addr(),
        "POST",
        "/train",
        headers,
        body.to_string().as_bytes(),
    )
}

fn new_code(server: &TestServer) -> String {
    let bearer = format!("Bearer {TOKEN}");
    let reply = request(
        server.addr(),
        "POST",
        "/enrolment-code",
        &[("Authorization", &bearer)],
        b"",
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["valid_seconds"], 600);
    body["code"].as_str().unwrap().to_string()
}

#[test]
fn the_page_and_its_files_are_served_with_a_strict_policy() {
    let server = TestServer::start();
    for (path, kind) in [
        ("/", "text/html"),
        ("/collect", "text/html"),
        ("/collect?mode=demo&user=alice", "text/html"),
        ("/collect.js", "text/javascript"),
        ("/collect.css", "text/css"),
        ("/favicon.svg", "image/svg+xml"),
    ] {
        let reply = common::get(server.addr(), path);
        assert_eq!(reply.status, 200, "{path}");
        assert!(
            reply.header("Content-Type").unwrap().starts_with(kind),
            "{path}"
        );
        let policy = reply.header("Content-Security-Policy").unwrap();
        assert!(policy.contains("default-src 'none'"), "{policy}");
        assert!(
            policy.contains("script-src 'self'") && !policy.contains("unsafe"),
            "{policy}"
        );
        assert!(policy.contains("connect-src 'self'"), "{policy}");
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        assert_eq!(reply.header("X-Content-Type-Options"), Some("nosniff"));
    }
    let page = common::get(server.addr(), "/collect").text();
    assert!(page.contains(r#"<script src="/collect.js" defer></script>"#));
    // HEAD answers the headers only; other methods are refused with a JSON error.
    let head = request(server.addr(), "HEAD", "/collect", &[], b"");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    let post = request(server.addr(), "POST", "/collect", &[], b"");
    assert_eq!(post.status, 405);
    assert!(post.error().contains("GET"));
    // The API's answers stay JSON.
    let health = common::get(server.addr(), "/health");
    assert_eq!(health.header("Content-Type"), Some("application/json"));
    assert_eq!(health.json()["enrolment_code_required"], false);
}

#[test]
fn the_page_itself_may_post_but_other_sites_and_rebound_names_may_not() {
    let server = TestServer::start();
    let addr = server.addr();
    let own = format!("http://{addr}");
    let body = sample_body("alice", genuine(0)).to_string();
    let post_from = |origin: &str, host: &str| {
        let raw = format!(
            "POST /train HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\nConnection: close\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        common::send_raw(addr, raw.as_bytes())
    };
    // The page, reached by the server's address: admitted.
    assert_eq!(post_from(&own, &addr.to_string()).status, 200);
    let local = format!("localhost:{}", addr.port());
    let second = sample_body("alice", genuine(1)).to_string();
    let raw = format!(
        "POST /train HTTP/1.1\r\nHost: {local}\r\nOrigin: http://{local}\r\nConnection: close\r\n\
         Content-Length: {}\r\n\r\n{second}",
        second.len()
    );
    assert_eq!(common::send_raw(addr, raw.as_bytes()).status, 200);
    // Another site's page: refused, and so is a DNS name rebound to this address (its Origin
    // and Host agree, but they name the attacker's site).
    for (origin, host) in [
        ("http://evil.example".to_string(), addr.to_string()),
        (
            format!("http://evil.example:{}", addr.port()),
            format!("evil.example:{}", addr.port()),
        ),
        (
            format!("http://{addr}"),
            format!("127.0.0.2:{}", addr.port()),
        ),
        (format!("https://{addr}.evil.example"), addr.to_string()),
    ] {
        let reply = post_from(&origin, &host);
        assert_eq!(reply.status, 403, "{origin} via {host}: {}", reply.text());
        assert!(reply.error().contains("KW_CORS_ORIGINS"));
    }
    assert_eq!(
        common::get(addr, "/user/alice/info").json()["training_samples"],
        2
    );
}

#[test]
fn with_a_token_an_enrolment_code_admits_one_participant_for_train_only() {
    let server = with_token();
    assert_eq!(
        common::get(server.addr(), "/health").json()["enrolment_code_required"],
        true
    );
    // A code is issued only to the token's holder.
    let anonymous = request(server.addr(), "POST", "/enrolment-code", &[], b"");
    assert_eq!(anonymous.status, 401);
    let wrong = request(
        server.addr(),
        "POST",
        "/enrolment-code",
        &[("Authorization", "Bearer guess")],
        b"",
    );
    assert_eq!(wrong.status, 401);

    let code = new_code(&server);
    let p01 = |i| sample_body("p01", genuine(i));
    assert_eq!(train(&server, &[], &p01(0)).status, 401);
    let guessed = train(&server, &[("X-Enrolment-Code", "ABCD-EFGH")], &p01(0));
    assert_eq!(guessed.status, 403);
    assert!(guessed.error().contains("not valid"));
    let lower = code.to_lowercase();
    for (i, presented) in [code.as_str(), lower.as_str()].into_iter().enumerate() {
        let reply = train(&server, &[("X-Enrolment-Code", presented)], &p01(i));
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(reply.json()["samples_count"], i + 1);
    }
    // Bound to p01: another participant is refused, and stores nothing.
    let other = train(
        &server,
        &[("X-Enrolment-Code", &code)],
        &sample_body("p02", genuine(0)),
    );
    assert_eq!(other.status, 403);
    assert!(other.error().contains("another participant"));
    assert!(!server.dir.path().join("p02_samples.jsonl").exists());
    // A code admits /train only: deletion still needs the token.
    let delete = request(
        server.addr(),
        "DELETE",
        "/user/p01",
        &[("X-Enrolment-Code", &code)],
        b"",
    );
    assert_eq!(delete.status, 401);
    // A code never writes into a user enrolled by other means.
    let alice = train(
        &server,
        &[("Authorization", &format!("Bearer {TOKEN}"))],
        &sample_body("alice", genuine(0)),
    );
    assert_eq!(alice.status, 200);
    let fresh = new_code(&server);
    let into_alice = train(
        &server,
        &[("X-Enrolment-Code", &fresh)],
        &sample_body("alice", genuine(1)),
    );
    assert_eq!(into_alice.status, 403);
    assert!(into_alice.error().contains("new participants only"));
    // A refused request (a malformed sample) does not bind the code: the next participant can
    // still use it. (A sample refused after the code was bound, e.g. by a quota, unbinds it:
    // the unit test of `EnrolmentCodes::release`.)
    let mut wrong = sample_body("p03", genuine(0));
    wrong["keystroke_data"] = json!([{"key": "a", "event": "down", "timestamp": 0}]);
    let refused = train(&server, &[("X-Enrolment-Code", &fresh)], &wrong);
    assert_eq!(refused.status, 400);
    let next_participant = train(
        &server,
        &[("X-Enrolment-Code", &fresh)],
        &sample_body("p04", genuine(0)),
    );
    assert_eq!(next_participant.status, 200, "{}", next_participant.text());
    let audit = std::fs::read_to_string(server.dir.path().join("audit.jsonl")).unwrap();
    assert!(audit.contains("stored (enrolment code)"), "{audit}");
    assert!(audit.contains("new participants only"), "{audit}");

    // A code issued for alice lets her finish from the page, and admits no one else.
    let bearer = format!("Bearer {TOKEN}");
    let for_alice = request(
        server.addr(),
        "POST",
        "/enrolment-code",
        &[("Authorization", &bearer)],
        br#"{"user_id": "alice"}"#,
    );
    assert_eq!(for_alice.status, 200, "{}", for_alice.text());
    assert_eq!(for_alice.json()["user_id"], "alice");
    let alice_code = for_alice.json()["code"].as_str().unwrap().to_string();
    let finishing = train(
        &server,
        &[("X-Enrolment-Code", &alice_code)],
        &sample_body("alice", genuine(2)),
    );
    assert_eq!(finishing.status, 200, "{}", finishing.text());
    assert_eq!(finishing.json()["samples_count"], 2);
    let someone_else = train(
        &server,
        &[("X-Enrolment-Code", &alice_code)],
        &sample_body("p09", genuine(0)),
    );
    assert_eq!(someone_else.status, 403);
    let bad = request(
        server.addr(),
        "POST",
        "/enrolment-code",
        &[("Authorization", &bearer)],
        br#"{"user_id": "../x"}"#,
    );
    assert_eq!(bad.status, 400);

    // A fresh code admits the next participant.
    let next = new_code(&server);
    let reply = train(
        &server,
        &[("X-Enrolment-Code", &next)],
        &sample_body("p02", genuine(0)),
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    // Without a token, there are no codes to issue.
    let open = TestServer::start();
    let none = request(open.addr(), "POST", "/enrolment-code", &[], b"");
    assert_eq!(none.status, 404);
    assert!(none.error().contains("KW_API_TOKEN"));
}

#[test]
fn a_samples_source_is_stored_with_it_and_bad_descriptions_are_refused() {
    let server = TestServer::start();
    let mut body = sample_body("p01", genuine(0));
    body["capture"] = json!({"source": "browser", "browser": "Firefox 133",
                             "timer_resolution_ms": 1.0, "precision": "low"});
    assert_eq!(post(server.addr(), "/train", &body).status, 200);
    let plain = sample_body("p01", genuine(1));
    assert_eq!(post(server.addr(), "/train", &plain).status, 200);
    let text = std::fs::read_to_string(server.dir.path().join("p01_samples.jsonl")).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["capture"], "browser");
    assert_eq!(lines[0]["browser"], "Firefox 133");
    assert_eq!(lines[0]["timer_resolution_ms"], 1.0);
    assert_eq!(lines[0]["low_precision"], true);
    // A client that says nothing (the mobile app) is stored as before: no source keys.
    for key in ["capture", "browser", "timer_resolution_ms", "low_precision"] {
        assert!(lines[1].get(key).is_none(), "{key}");
    }
    for capture in [
        json!("browser"),
        json!({"source": "browser", "precision": "medium"}),
        json!({"source": "../etc"}),
        json!({"source": "browser", "timer_resolution_ms": -1}),
        json!({"source": "browser", "browser": "x".repeat(65)}),
        // The workbench's own sources cannot be claimed over the network.
        json!({"source": "global"}),
        json!({"source": "window"}),
    ] {
        let mut bad = sample_body("p01", genuine(5));
        bad["capture"] = capture.clone();
        let reply = post(server.addr(), "/train", &bad);
        assert_eq!(reply.status, 400, "{capture}");
        assert!(reply.error().contains("capture"), "{}", reply.error());
    }
    assert_eq!(
        common::get(server.addr(), "/user/p01/info").json()["training_samples"],
        2
    );
}
