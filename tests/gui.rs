//! The workbench UI driven headless with egui_kittest (no display, no GPU): enrol a user by
//! feeding key events, see the count and the plot data change, train, run a live test, and
//! start and stop the embedded server from its panel.
#![cfg(feature = "gui")]

mod common;

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use keystroke_workbench::gui::{Options, Settings, Workbench};
use keystroke_workbench::store::UserId;

const PHRASE: [egui::Key; 5] = [
    egui::Key::P,
    egui::Key::A,
    egui::Key::S,
    egui::Key::S,
    egui::Key::Enter,
];

fn workbench(dir: &std::path::Path) -> Harness<'static, Workbench> {
    with_settings(Settings {
        store_dir: dir.to_path_buf(),
        last_user: Some("alice".into()),
        server_host: "127.0.0.1".into(),
        server_port: 0,
        ..Settings::default()
    })
}

fn with_settings(settings: Settings) -> Harness<'static, Workbench> {
    Harness::builder()
        .with_size(egui::vec2(1000.0, 760.0))
        .build_eframe(move |_cc| {
            Workbench::new(Options {
                settings,
                settings_path: None,
                global_capture: false,
                arm: true,
                ..Options::default()
            })
            .unwrap()
        })
}

/// Types the phrase, a frame between every press and release (so timings are not zero).
fn type_phrase(harness: &mut Harness<'_, Workbench>, frames_held: usize) {
    for key in PHRASE {
        harness.key_down(key);
        harness.run_steps(frames_held);
        harness.key_up(key);
        harness.run_steps(2);
    }
}

/// Presses and releases each key, two frames apart.
fn press_keys(harness: &mut Harness<'_, Workbench>, keys: &[egui::Key]) {
    for &key in keys {
        harness.key_press(key);
        harness.run_steps(2);
    }
}

/// Runs frames until `done` (a worker thread finishing), for at most `seconds`.
fn run_until(
    harness: &mut Harness<'_, Workbench>,
    seconds: u64,
    done: impl Fn(&Workbench) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !done(harness.state()) {
        assert!(Instant::now() < deadline, "{}", harness.state().message());
        std::thread::sleep(Duration::from_millis(20));
        harness.run_steps(1);
    }
}

fn click(harness: &mut Harness<'_, Workbench>, label: &str) {
    harness.get_by_label(label).click();
    harness.run_steps(2);
}

#[test]
fn enrol_plot_train_live_test_and_serve() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = workbench(dir.path());
    harness.run_steps(2);
    let alice = UserId::parse("alice").unwrap();

    // Enrol: each completed phrase is stored at once; the count and the plot data follow.
    for n in 1..=5 {
        type_phrase(&mut harness, 1 + n % 3);
        let metadata = harness.state().store().metadata(&alice).unwrap().unwrap();
        assert_eq!(metadata.samples, n);
        harness.get_by_label(&format!("samples: {n} of 5"));
    }
    let metadata = harness.state().store().metadata(&alice).unwrap().unwrap();
    assert_eq!(metadata.key_sequence, ["p", "a", "s", "s", "Enter"]);
    let stored = harness.state().store().samples(&alice, &metadata).unwrap();
    assert!(
        stored
            .iter()
            .all(|s| s.capture.as_deref() == Some("window")),
        "window-captured samples are marked as lower precision"
    );
    click(&mut harness, "Timings");
    let series = harness.state().plot_series();
    assert_eq!(series.x, [1.0, 2.0, 3.0, 4.0, 5.0], "one hold per key");
    assert!(
        series.mean.iter().all(|h| *h > 0.0),
        "holds span frames: {series:?}"
    );
    harness.get_by_label("plotted samples: 5");

    // A sample of another phrase is refused with the reason, and not stored.
    press_keys(
        &mut harness,
        &[egui::Key::X, egui::Key::Y, egui::Key::Enter],
    );
    assert!(
        harness.state().message().contains("sample refused"),
        "{}",
        harness.state().message()
    );
    assert_eq!(
        harness
            .state()
            .store()
            .metadata(&alice)
            .unwrap()
            .unwrap()
            .samples,
        5
    );

    // Train on a worker thread.
    click(&mut harness, "Train & test");
    click(&mut harness, "Train");
    run_until(&mut harness, 60, |w| w.message().starts_with("trained"));
    assert_eq!(
        harness.state().message(),
        "trained isolation-forest on 5 samples"
    );

    // Live test: a typed attempt is judged, not stored; the operator labels it.
    harness.get_by_label("Live test").click();
    harness.run_steps(2);
    type_phrase(&mut harness, 2);
    let message = harness.state().message().to_string();
    assert!(
        message.starts_with("genuine") || message.starts_with("imposter"),
        "{message}"
    );
    assert_eq!(
        harness
            .state()
            .store()
            .metadata(&alice)
            .unwrap()
            .unwrap()
            .samples,
        5
    );
    click(&mut harness, "was genuine");
    assert!(
        harness.query_by_label_contains("FRR").is_some(),
        "session rates shown"
    );

    // The server panel serves the same store.
    click(&mut harness, "Server");
    click(&mut harness, "Start server");
    let addr = harness.state().server().expect("running").addr();
    let info = common::get(addr, "/user/alice/info").json();
    assert_eq!(info["training_samples"], 5);
    assert_eq!(info["has_trained_model"], true);
    click(&mut harness, "Stop server");
    assert!(harness.state().server().is_none());
    assert!(std::net::TcpStream::connect(addr).is_err(), "stopped");
}

#[test]
fn backspace_abandons_an_attempt_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = workbench(dir.path());
    harness.run_steps(2);
    press_keys(
        &mut harness,
        &[egui::Key::P, egui::Key::A, egui::Key::Backspace],
    );
    assert!(
        harness.state().message().contains("abandoned"),
        "{}",
        harness.state().message()
    );
    assert!(harness.state().store().users().unwrap().is_empty());
}

#[test]
fn evaluate_tab_reproduces_the_published_scaled_manhattan_eer() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = workbench(dir.path());
    harness.run_steps(2);
    click(&mut harness, "Evaluate");
    click(&mut harness, "Run evaluation");
    assert!(harness.state().evaluating());
    run_until(&mut harness, 120, |w| !w.evaluating());
    harness.run_steps(2);
    let message = harness.state().message().to_string();
    // Killourhy & Maxion's table: scaled Manhattan, 0.0962 (see tests/cmu_benchmark.rs).
    assert!(message.ends_with("mean EER 0.0962"), "{message}");
    assert!(
        message.contains("CMU benchmark, 200 training samples"),
        "{message}"
    );
    harness.get_by_label("DET (miss rate) instead of ROC (hit rate)");
}

#[test]
fn live_test_locks_out_after_five_failures_unless_throttling_is_visibly_off() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = workbench(dir.path());
    harness.run_steps(2);
    for n in 1..=5 {
        type_phrase(&mut harness, 1 + n % 3);
    }
    click(&mut harness, "Train & test");
    click(&mut harness, "Train");
    run_until(&mut harness, 60, |w| w.message().starts_with("trained"));
    harness.get_by_label("Live test").click();
    harness.run_steps(2);

    // Another phrase always fails; the fifth failure in a row locks alice out.
    let wrong = [egui::Key::X, egui::Key::Y, egui::Key::Enter];
    for _ in 0..5 {
        press_keys(&mut harness, &wrong);
    }
    assert!(
        harness
            .state()
            .message()
            .ends_with("alice is now locked out for 30 s"),
        "{}",
        harness.state().message()
    );
    harness.get_by_label_contains("locked out: ");
    type_phrase(&mut harness, 2);
    assert!(
        harness
            .state()
            .message()
            .starts_with("alice is locked out for "),
        "{}",
        harness.state().message()
    );
    assert!(harness.query_by_label_contains("THROTTLING OFF").is_none());

    // The demo switch: attempts are judged again, and the switch says so.
    click(
        &mut harness,
        "Throttling: lock out after 5 failed attempts in a row",
    );
    harness.get_by_label_contains("THROTTLING OFF (demo)");
    for _ in 0..6 {
        press_keys(&mut harness, &wrong);
        assert_eq!(
            harness.state().message(),
            "Typed text does not match the enrolled phrase"
        );
    }

    // A server started now does not throttle either, and its panel says so.
    click(&mut harness, "Server");
    click(&mut harness, "Start server");
    harness.get_by_label_contains("THROTTLING OFF (demo): /predict");
    let addr = harness.state().server().expect("running").addr();
    for i in 0..7 {
        let attempt = common::events(&["x", "y"], |_| (90.0 + i as f64, 150.0));
        let reply = common::post(addr, "/predict", &common::sample_body("alice", attempt));
        assert_eq!(reply.status, 200, "attempt {i}: {}", reply.text());
    }
    click(&mut harness, "Stop server");
}

#[test]
fn the_server_panel_serves_https_with_a_certificate_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let pair = keystroke_workbench::server::self_signed(
        &["127.0.0.1".to_string()],
        chrono::Local::now().date_naive(),
        30,
    )
    .unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, pair.cert_pem).unwrap();
    std::fs::write(&key, pair.key_pem).unwrap();
    let settings = |cert: &std::path::Path, key: &str| Settings {
        store_dir: dir.path().join("models"),
        server_host: "127.0.0.1".into(),
        server_port: 0,
        server_tls_cert: cert.display().to_string(),
        server_tls_key: key.into(),
        ..Settings::default()
    };

    // A certificate without its key is refused with the reason.
    let mut harness = with_settings(settings(&cert, ""));
    harness.run_steps(2);
    click(&mut harness, "Server");
    click(&mut harness, "Start server");
    assert!(harness.state().server().is_none());
    assert_eq!(
        harness.state().message(),
        "HTTPS needs both a certificate and a key file"
    );

    let mut harness = with_settings(settings(&cert, &key.display().to_string()));
    harness.run_steps(2);
    click(&mut harness, "Server");
    click(&mut harness, "Start server");
    let server = harness.state().server().expect("running");
    let addr = server.addr();
    assert_eq!(server.urls(), [format!("https://{addr}")]);
    harness.get_by_label(&format!("https://{addr}"));
    // Plain HTTP gets no answer from the HTTPS port.
    let raw = common::raw_request(addr, "GET", "/health", &[], b"");
    assert!(common::try_send_raw(addr, &raw).is_none());
    click(&mut harness, "Stop server");
}

/// The workbench and a `serve` process on one folder: samples typed in the window and sent to
/// the server while it also writes are all stored, each side sees the other's, and the store
/// checks clean.
#[test]
fn the_workbench_and_a_serve_process_share_one_store() {
    let dir = tempfile::tempdir().unwrap();
    let (_serve, addr, _log) = common::spawn_serve(dir.path(), &[("KW_LOG", "warn")]);
    let mut harness = workbench(dir.path());
    harness.run_steps(2);
    let alice = UserId::parse("alice").unwrap();
    let keys = ["p", "a", "s", "s", "Enter"];
    let served = |variant: usize| {
        let events = common::events(&keys, |i| (80.0 + i as f64, 150.0 + variant as f64));
        let reply = common::post(addr, "/train", &common::sample_body("alice", events));
        assert_eq!(reply.status, 200, "{}", reply.text());
    };
    type_phrase(&mut harness, 1);
    served(1);
    // The server's sample shows in the window, beside the one typed there.
    harness.run_steps(2);
    harness.get_by_label("samples: 2 of 5");

    // The server writes on its own while the window stores two more.
    std::thread::scope(|scope| {
        scope.spawn(|| (2..8).for_each(served));
        type_phrase(&mut harness, 2);
        type_phrase(&mut harness, 3);
    });
    harness.run_steps(2);
    let stored = harness
        .state()
        .store()
        .metadata(&alice)
        .unwrap()
        .unwrap()
        .samples;
    assert_eq!(stored, 10, "{}", harness.state().message());
    harness.get_by_label("samples: 10 of 5");
    let info = common::get(addr, "/user/alice/info").json();
    assert_eq!(
        info["training_samples"], 10,
        "the server sees the window's samples"
    );
    let store = harness.state().store();
    let metadata = store.metadata(&alice).unwrap().unwrap();
    assert_eq!(store.samples(&alice, &metadata).unwrap().len(), 10);
    let (clean, report) = common::store_check(dir.path(), false);
    assert!(clean, "{report}");
}
