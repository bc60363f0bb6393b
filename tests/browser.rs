//! The collection page in a real headless browser (Debian's chromium, driven by chromedriver
//! over WebDriver) against a real `serve` on 127.0.0.1. Keys are real trusted key events,
//! dispatched through Chrome's input pipeline with known timestamps (CDP
//! `Input.dispatchKeyEvent`), so the stored features can be compared with the timings sent.
//!
//! Without chromium and chromedriver the tests say so and pass, unless `KW_REQUIRE_BROWSER` is
//! set (CI sets it; `.ci/setup --test` installs both).

mod common;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Reply, request, spawn_serve};
use keystroke_workbench::capture::{KeyAction, KeyEvent, Sample};
use keystroke_workbench::features::Features;
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// `.tie5Roanl` and Enter: the CMU phrase, as the page names its keys.
const PHRASE: [&str; 11] = [".", "t", "i", "e", "5", "R", "o", "a", "n", "l", "Enter"];

fn browser_available() -> bool {
    let present = Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    if !present {
        assert!(
            std::env::var_os("KW_REQUIRE_BROWSER").is_none(),
            "KW_REQUIRE_BROWSER is set but {CHROMIUM} or {CHROMEDRIVER} is missing \
             (.ci/setup --test installs chromium and chromium-driver)"
        );
        eprintln!("skipped: no {CHROMIUM} or {CHROMEDRIVER}");
    }
    present
}

/// A chromedriver on a free loopback port, killed on drop.
struct Driver {
    child: Child,
    addr: SocketAddr,
}

impl Driver {
    fn start() -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(reply) =
                common::try_send_raw(addr, &common::raw_request(addr, "GET", "/status", &[], b""))
                && reply.json()["value"]["ready"] == true
            {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver { child, addr }
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let reply: Reply = request(
            self.addr,
            method,
            path,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        );
        let value = reply.json();
        assert_eq!(reply.status, 200, "{method} {path}: {value}");
        value["value"].clone()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One headless Chromium window, closed on drop.
struct Browser {
    driver: Driver,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn open(width: u32, height: u32) -> Browser {
        let driver = Driver::start();
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            &format!("--window-size={width},{height}"),
            &format!("--user-data-dir={}", profile.path().display()),
        ];
        let session = driver.call(
            "POST",
            "/session",
            Some(json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
            }}})),
        )["sessionId"]
            .as_str()
            .unwrap()
            .to_string();
        Browser {
            driver,
            session,
            _profile: profile,
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.driver
            .call(method, &format!("/session/{}{path}", self.session), body)
    }

    fn go(&self, url: &str) {
        self.call("POST", "/url", Some(json!({ "url": url })));
        self.wait_for("the page to start", |b| {
            b.script("return document.body.dataset.state") == "ready"
        });
    }

    fn script(&self, source: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": source, "args": []})),
        )
    }

    fn text(&self, id: &str) -> String {
        self.script(&format!(
            "return document.getElementById({id:?}).textContent"
        ))
        .as_str()
        .unwrap()
        .to_string()
    }

    fn element(&self, css: &str) -> String {
        let found = self.call(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        found
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap()
            .as_str()
            .unwrap()
            .to_string()
    }

    fn click(&self, css: &str) {
        let id = self.element(css);
        self.call("POST", &format!("/element/{id}/click"), Some(json!({})));
    }

    /// Types `text` into the field at `css` (WebDriver's own key events).
    fn fill(&self, css: &str, text: &str) {
        let id = self.element(css);
        self.call("POST", &format!("/element/{id}/clear"), Some(json!({})));
        self.call(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        );
    }

    fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.call(
            "POST",
            "/goog/cdp/execute",
            Some(json!({"cmd": cmd, "params": params})),
        )
    }

    fn wait_for(&self, what: &str, done: impl Fn(&Browser) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done(self) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn attempts(&self) -> u64 {
        self.script("return Number(document.getElementById('attempts').dataset.count)")
            .as_u64()
            .unwrap()
    }

    /// Types `typing` in the typing area as real key events and waits for the server's answer.
    fn type_attempt(&self, typing: &Typing) {
        let before = self.attempts();
        self.click("#typing");
        typing.dispatch(self);
        self.wait_for("the server's answer", |b| {
            b.attempts() > before && b.script("return document.body.dataset.state") == "ready"
        });
    }

    fn screenshot(&self, path: &Path) {
        let png = self.call("GET", "/screenshot", None);
        std::fs::write(path, base64_decode(png.as_str().unwrap())).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = common::try_send_raw(
            self.driver.addr,
            &common::raw_request(
                self.driver.addr,
                "DELETE",
                &format!("/session/{}", self.session),
                &[],
                b"",
            ),
        );
    }
}

/// One typing of [`PHRASE`]: each key's down and up, in ms from the first down.
#[derive(Debug, Clone)]
struct Typing {
    presses: Vec<(&'static str, f64, f64)>,
    /// Keys reported as a soft keyboard does (`Unidentified`, keyCode 229), named by the input
    /// event that follows.
    soft: bool,
}

impl Typing {
    fn new(timing: impl Fn(usize) -> (f64, f64)) -> Typing {
        let mut t = 0.0;
        let presses = PHRASE
            .iter()
            .enumerate()
            .map(|(i, key)| {
                let (hold, gap) = timing(i);
                let press = (*key, t, t + hold);
                t += gap;
                press
            })
            .collect();
        Typing {
            presses,
            soft: false,
        }
    }

    /// A steady typist, varied a little by `variant`.
    fn genuine(variant: usize) -> Typing {
        Typing::new(|i| {
            let wobble = ((variant * 7 + i * 5) % 9) as f64;
            (80.0 + wobble + 0.5 * variant as f64, 170.0 + 2.0 * wobble)
        })
    }

    /// Long holds and pauses.
    fn impostor() -> Typing {
        Typing::new(|i| (260.0 + 30.0 * i as f64, 700.0 + 90.0 * i as f64))
    }

    /// The sample the page should send: the API's own pairing and features.
    fn features(&self) -> Vec<f64> {
        let mut events = Vec::new();
        for (key, down, up) in &self.presses {
            events.push(KeyEvent::new(*key, KeyAction::Down, *down).unwrap());
            events.push(KeyEvent::new(*key, KeyAction::Up, *up).unwrap());
        }
        Features::of(&Sample::from_events(events).unwrap()).values_ms
    }

    fn dispatch(&self, browser: &Browser) {
        let origin = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
            + 0.05;
        let mut events: Vec<(f64, &str, bool)> = Vec::new();
        for (key, down, up) in &self.presses {
            events.push((*down, key, true));
            events.push((*up, key, false));
        }
        events.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (at, key, down) in events {
            let timestamp = origin + at / 1e3;
            let capital = key.len() == 1 && key.chars().all(|c| c.is_ascii_uppercase());
            if capital && down {
                browser.cdp(
                    "Input.dispatchKeyEvent",
                    key_event("Shift", true, Some(timestamp - 0.02), false),
                );
            }
            if self.soft && key != "Enter" {
                let mut event = json!({
                    "type": if down { "keyDown" } else { "keyUp" },
                    "key": "Unidentified",
                    "code": "",
                    "windowsVirtualKeyCode": 229,
                    "timestamp": timestamp,
                });
                if capital {
                    event["modifiers"] = 8.into();
                }
                browser.cdp("Input.dispatchKeyEvent", event);
                if down {
                    browser.cdp("Input.insertText", json!({ "text": key }));
                }
            } else {
                browser.cdp(
                    "Input.dispatchKeyEvent",
                    key_event(key, down, Some(timestamp), capital),
                );
            }
            if capital && down {
                browser.cdp(
                    "Input.dispatchKeyEvent",
                    key_event("Shift", false, Some(timestamp + 0.01), false),
                );
            }
        }
    }
}

/// A CDP key event for `key` as a US keyboard reports it.
fn key_event(key: &str, down: bool, timestamp: Option<f64>, shifted: bool) -> Value {
    let (code, virtual_key, text) = match key {
        "Enter" => ("Enter".to_string(), 13, "\r".to_string()),
        "Backspace" => ("Backspace".to_string(), 8, String::new()),
        "F2" => ("F2".to_string(), 113, String::new()),
        "Shift" => ("ShiftLeft".to_string(), 16, String::new()),
        "." => ("Period".to_string(), 190, ".".to_string()),
        digit if digit.chars().all(|c| c.is_ascii_digit()) => (
            format!("Digit{digit}"),
            u32::from(digit.as_bytes()[0]),
            digit.to_string(),
        ),
        letter => (
            format!("Key{}", letter.to_ascii_uppercase()),
            u32::from(letter.to_ascii_uppercase().as_bytes()[0]),
            letter.to_string(),
        ),
    };
    let mut event = json!({
        "type": if down { "keyDown" } else { "keyUp" },
        "key": key,
        "code": code,
        "windowsVirtualKeyCode": virtual_key,
    });
    if let Some(timestamp) = timestamp {
        event["timestamp"] = timestamp.into();
    }
    if down && !text.is_empty() {
        event["text"] = text.into();
    }
    if shifted || key == "Shift" && down {
        event["modifiers"] = 8.into();
    }
    event
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        other => panic!("not base64: {other}"),
    };
    let digits: Vec<u8> = text.bytes().filter(|&c| c != b'=').map(value).collect();
    digits
        .chunks(4)
        .flat_map(|chunk| {
            let bits = chunk
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, &d)| acc | u32::from(d) << (18 - 6 * i));
            let bytes = bits.to_be_bytes();
            bytes[1..chunk.len()].to_vec()
        })
        .collect()
}

fn info(addr: SocketAddr, user: &str) -> Value {
    common::get(addr, &format!("/user/{user}/info")).json()
}

fn stored_lines(models: &Path, user: &str) -> Vec<Value> {
    std::fs::read_to_string(models.join(format!("{user}_samples.jsonl")))
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn stored_features(models: &Path, user: &str) -> Vec<Vec<f64>> {
    let matrix: ndarray::Array2<f64> =
        ndarray_npy::read_npy(models.join(format!("{user}_features.npy"))).unwrap();
    matrix.rows().into_iter().map(|r| r.to_vec()).collect()
}

/// Where to write screenshots (`KW_SCREENSHOTS`), if anywhere.
fn screenshot_dir() -> Option<PathBuf> {
    std::env::var_os("KW_SCREENSHOTS").map(PathBuf::from)
}

#[test]
fn typing_in_the_page_enrols_verifies_and_demos_through_a_real_server() {
    if !browser_available() {
        return;
    }
    let models = tempfile::tempdir().unwrap();
    let (_serve, addr, _log) = spawn_serve(models.path(), &[]);
    let browser = Browser::open(1280, 900);
    browser.go(&format!("http://{addr}/collect?user=p01"));
    assert!(browser.script("return document.getElementById('code-row').hidden") == true);

    let enrolment: Vec<Typing> = (0..5).map(Typing::genuine).collect();
    for (i, typing) in enrolment.iter().enumerate() {
        browser.type_attempt(typing);
        assert_eq!(
            info(addr, "p01")["training_samples"],
            i + 1,
            "{}",
            browser.text("message")
        );
    }
    assert_eq!(info(addr, "p01")["has_trained_model"], true);
    assert!(browser.text("progress-text").contains("goal of 5 reached"));

    // The stored features are the timings sent (the browser's clock is 0.1 ms here).
    let stored = stored_features(models.path(), "p01");
    for (typing, row) in enrolment.iter().zip(&stored) {
        let sent = typing.features();
        assert_eq!(row.len(), sent.len());
        let worst = row
            .iter()
            .zip(&sent)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(worst <= 2.0, "stored {row:?}\nsent {sent:?}");
        eprintln!("stored features differ from those sent by at most {worst:.3} ms");
    }
    for line in stored_lines(models.path(), "p01") {
        assert_eq!(line["capture"], "browser");
        assert!(
            line["browser"].as_str().unwrap().starts_with("Chrome "),
            "{line}"
        );
        let resolution = line["timer_resolution_ms"].as_f64().unwrap();
        assert!(resolution > 0.0 && resolution <= 1.0, "{line}");
        assert!(line.get("low_precision").is_none(), "{line}");
        let keys: Vec<&str> = line["keystroke_data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["event"] == "down")
            .map(|e| e["key"].as_str().unwrap())
            .collect();
        assert_eq!(keys, PHRASE);
    }

    // A sixth typing, in Verify mode, is judged and not stored.
    browser.click("#modes button[data-mode=verify]");
    let middle = Typing::new(|i| (80.0 + (i % 9) as f64 * 0.3 + 3.0, 178.0));
    browser.type_attempt(&middle);
    assert_eq!(
        browser.text("verdict"),
        "ACCEPTED",
        "{}",
        browser.text("message")
    );
    assert!(browser.script("return document.getElementById('verdict').className") == "accepted");
    assert_eq!(info(addr, "p01")["training_samples"], 5);

    // The impostor demo: a different rhythm is caught, and the labelled attempt is audited.
    browser.click("#modes button[data-mode=demo]");
    browser.type_attempt(&Typing::impostor());
    assert_eq!(browser.text("verdict"), "CAUGHT: rejected");
    let audit = std::fs::read_to_string(models.path().join("audit.jsonl")).unwrap();
    assert!(audit.contains("impostor attempt rejected"), "{audit}");
    assert_eq!(info(addr, "p01")["training_samples"], 5);

    if let Some(dir) = screenshot_dir() {
        std::fs::create_dir_all(&dir).unwrap();
        browser.screenshot(&dir.join("collect-desktop.png"));
    }
}

#[test]
fn paste_autofill_mistakes_and_focus_loss_store_nothing() {
    if !browser_available() {
        return;
    }
    let models = tempfile::tempdir().unwrap();
    let (_serve, addr, _log) = spawn_serve(models.path(), &[]);
    let browser = Browser::open(1280, 900);
    let page = format!("http://{addr}/collect?user=p02");
    browser.go(&page);
    let typing = Typing::genuine(1);

    // A paste (Ctrl+V with the phrase on the clipboard) is refused at once.
    browser.cdp(
        "Browser.grantPermissions",
        json!({"permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"],
               "origin": format!("http://{addr}")}),
    );
    browser.click("#typing");
    browser.call(
        "POST",
        "/execute/async",
        Some(
            json!({"script": "navigator.clipboard.writeText('.tie5Roanl').then(arguments[0])",
                    "args": []}),
        ),
    );
    for down in [true, false] {
        let mut event = key_event("v", down, None, false);
        event["modifiers"] = 2.into();
        if down {
            event["type"] = "rawKeyDown".into();
            event["commands"] = json!(["paste"]);
        }
        browser.cdp("Input.dispatchKeyEvent", event);
    }
    assert!(
        browser
            .text("message")
            .contains("Paste, drop and autofill are refused")
    );
    assert_eq!(
        browser.script("return document.getElementById('typing').value"),
        ""
    );

    // Text inserted without key presses (as autofill does), then Enter: refused.
    browser.cdp("Input.insertText", json!({"text": ".tie5Roanl"}));
    let enter = Typing {
        presses: vec![("Enter", 0.0, 90.0)],
        soft: false,
    };
    enter.dispatch(&browser);
    browser.wait_for("the refusal", |b| {
        b.text("message").contains("without key presses")
    });

    // A mistake (Backspace) and focus loss each discard the attempt in progress.
    let half = Typing {
        presses: typing.presses[..4].to_vec(),
        soft: false,
    };
    browser.click("#typing");
    half.dispatch(&browser);
    browser.cdp(
        "Input.dispatchKeyEvent",
        key_event("Backspace", true, None, false),
    );
    assert!(browser.text("message").contains("Mistake noted"));
    half.dispatch(&browser);
    // A key that types nothing (F2) is not part of a phrase.
    browser.cdp("Input.dispatchKeyEvent", key_event("F2", true, None, false));
    browser.cdp(
        "Input.dispatchKeyEvent",
        key_event("F2", false, None, false),
    );
    assert!(
        browser
            .text("message")
            .contains("F2 is not part of a phrase")
    );
    // A key held until it repeats.
    let mut repeat = key_event("t", true, None, false);
    browser.cdp("Input.dispatchKeyEvent", repeat.clone());
    repeat["autoRepeat"] = true.into();
    browser.cdp("Input.dispatchKeyEvent", repeat);
    browser.cdp("Input.dispatchKeyEvent", key_event("t", false, None, false));
    assert!(
        browser
            .text("message")
            .contains("held down until it repeated")
    );
    half.dispatch(&browser);
    browser.click("#user");
    assert!(browser.text("message").contains("lost focus"));
    // A typo of the phrase is refused by the page with both texts shown.
    let mut typo = typing.clone();
    typo.presses[1].0 = "y";
    browser.click("#typing");
    typo.dispatch(&browser);
    browser.wait_for("the typo's refusal", |b| {
        b.text("message").contains("You typed \".yie5Roanl\"")
    });
    assert_eq!(browser.attempts(), 0);
    assert_eq!(info(addr, "p02")["training_samples"], 0);
    assert!(!models.path().join("p02_samples.jsonl").exists());

    // After all that, a whole typing is stored: exactly one sample.
    browser.type_attempt(&typing);
    assert_eq!(info(addr, "p02")["training_samples"], 1);
    assert_eq!(stored_lines(models.path(), "p02").len(), 1);
}

#[test]
fn a_soft_keyboard_is_recorded_and_flagged_as_lower_precision() {
    if !browser_available() {
        return;
    }
    let models = tempfile::tempdir().unwrap();
    let (_serve, addr, _log) = spawn_serve(models.path(), &[]);
    let browser = Browser::open(390, 844);
    // A phone's viewport (a headless window is never narrower than 500 px).
    browser.cdp(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": true}),
    );
    browser.go(&format!("http://{addr}/collect?user=p03"));
    let mut typing = Typing::genuine(2);
    typing.soft = true;
    browser.type_attempt(&typing);
    assert_eq!(
        info(addr, "p03")["training_samples"],
        1,
        "{}",
        browser.text("message")
    );
    let line = &stored_lines(models.path(), "p03")[0];
    assert_eq!(line["low_precision"], true, "{line}");
    let row = &stored_features(models.path(), "p03")[0];
    let worst = row
        .iter()
        .zip(typing.features())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(worst <= 2.0, "{row:?}");
    if let Some(dir) = screenshot_dir() {
        std::fs::create_dir_all(&dir).unwrap();
        browser.screenshot(&dir.join("collect-phone.png"));
    }
}

#[test]
fn with_a_token_the_page_enrols_only_with_a_code_for_one_participant() {
    if !browser_available() {
        return;
    }
    let models = tempfile::tempdir().unwrap();
    let token = "lab-token-0123456789";
    let (_serve, addr, _log) = spawn_serve(models.path(), &[("KW_API_TOKEN", token)]);
    let browser = Browser::open(1280, 900);
    browser.go(&format!("http://{addr}/collect?user=p04"));
    assert!(browser.script("return document.getElementById('code-row').hidden") == false);
    // The token is nowhere in the page.
    assert!(!common::get(addr, "/collect").text().contains(token));
    assert!(!common::get(addr, "/collect.js").text().contains(token));

    // Without a code: the page asks for one and sends nothing; a wrong one gets the server's
    // reason.
    browser.click("#typing");
    Typing::genuine(0).dispatch(&browser);
    browser.wait_for("the request for a code", |b| {
        b.text("message").contains("needs an enrolment code")
    });
    browser.fill("#code", "ABCD-EFGH");
    browser.type_attempt(&Typing::genuine(0));
    assert!(
        browser.text("message").contains("not valid"),
        "{}",
        browser.text("message")
    );
    assert_eq!(info(addr, "p04")["training_samples"], 0);

    let new_code = || {
        let reply = request(
            addr,
            "POST",
            "/enrolment-code",
            &[("Authorization", &format!("Bearer {token}"))],
            b"",
        );
        assert_eq!(reply.status, 200, "{}", reply.text());
        reply.json()["code"].as_str().unwrap().to_string()
    };
    let code = new_code();
    browser.fill("#code", &code);
    for i in 1..=2 {
        browser.type_attempt(&Typing::genuine(i));
        assert_eq!(
            info(addr, "p04")["training_samples"],
            i,
            "{}",
            browser.text("message")
        );
    }
    // The code belongs to p04 now: another participant needs their own.
    browser.fill("#user", "p05");
    browser.type_attempt(&Typing::genuine(3));
    assert!(
        browser
            .text("message")
            .contains("belongs to another participant")
    );
    assert_eq!(info(addr, "p05")["training_samples"], 0);
    browser.fill("#code", &new_code());
    browser.type_attempt(&Typing::genuine(4));
    assert_eq!(
        info(addr, "p05")["training_samples"],
        1,
        "{}",
        browser.text("message")
    );
}
