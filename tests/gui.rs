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
    with_options(Options {
        settings,
        settings_path: None,
        global_capture: false,
        arm: true,
        ..Options::default()
    })
}

/// The workbench at the default 1000×760 with these options.
fn with_options(options: Options) -> Harness<'static, Workbench> {
    Harness::builder()
        .with_size(egui::vec2(1000.0, 760.0))
        .build_eframe(move |_cc| Workbench::new(options).unwrap())
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

/// Types the phrase five times, each with other timings (two samples whose frame-quantised
/// timings were identical would be refused as a duplicate, as /train refuses them).
fn enrol_five(
    harness: &mut Harness<'_, Workbench>,
    mut after_each: impl FnMut(&mut Harness<'_, Workbench>, usize),
) {
    for n in 1..=5 {
        for key in PHRASE {
            harness.key_down(key);
            harness.run_steps(1 + n % 3);
            harness.key_up(key);
            harness.run_steps(2 + n / 3);
        }
        after_each(harness, n);
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
    enrol_five(&mut harness, |harness, n| {
        let metadata = harness.state().store().metadata(&alice).unwrap().unwrap();
        assert_eq!(metadata.samples, n, "{}", harness.state().message());
        harness.get_by_label(&format!("samples: {n} of 5"));
        // From the third sample on, the status says how consistent it is with the others.
        let message = harness.state().message();
        assert_eq!(message.contains("consistency"), n >= 3, "{message}");
    });
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
    assert_eq!(series.labels, ["p", "a", "s", "s", "Enter"], "named by key");
    assert!(
        series.mean.iter().all(|h| *h > 0.0),
        "holds span frames: {series:?}"
    );
    harness.get_by_label("plotted samples: 5");
    click(&mut harness, "Enrol");

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

    // A repeat of a stored sample's exact timings is refused, as /train refuses it (the
    // workbench stores through the server's enrolment path).
    type_phrase(&mut harness, 2);
    assert!(
        harness
            .state()
            .message()
            .contains("duplicate sample: its timings are identical to stored sample 1"),
        "{}",
        harness.state().message()
    );

    // Train on a worker thread.
    click(&mut harness, "Train & test");
    click(&mut harness, "Train");
    run_until(&mut harness, 60, |w| w.message().starts_with("trained"));
    assert_eq!(harness.state().message(), "trained fusion on 5 samples");

    // Live test: a typed attempt is judged, not stored; the operator labels it.
    harness.get_by_label("Live test").click();
    harness.run_steps(2);
    type_phrase(&mut harness, 5);
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
    // The level the live test used is the server's, and the panel names it.
    assert_eq!(info["security_level"], "balanced");
    harness.get_by_label("security level: balanced (as it was when the server started)");
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

/// What the operator types into the workbench's own fields is never recorded (issue 15: `bob⏎`
/// typed into User became an attempt), and an attempt interrupted by editing a field is
/// abandoned rather than joined to the keys typed after it.
#[test]
fn keys_typed_into_a_text_field_are_never_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = workbench(dir.path());
    harness.run_steps(2);
    let alice = UserId::parse("alice").unwrap();
    let samples = |harness: &Harness<'_, Workbench>| {
        let metadata = harness.state().store().metadata(&alice).unwrap();
        metadata.map_or(0, |m| m.samples)
    };

    // Typed with no field focused, the phrase is a sample (auto-accept stores it).
    type_phrase(&mut harness, 2);
    assert_eq!(samples(&harness), 1, "{}", harness.state().message());

    // The whole phrase typed into the User field: no sample.
    harness.get_by_label("User:").focus();
    harness.run_steps(2);
    type_phrase(&mut harness, 3);
    assert_eq!(samples(&harness), 1, "{}", harness.state().message());
    harness.key_press(egui::Key::Escape);
    harness.run_steps(3);

    // Half the phrase, a pause in the field, the other half: the first half is abandoned, so
    // the two halves never form one sample (the second alone is not the phrase).
    press_keys(&mut harness, &[egui::Key::P, egui::Key::A]);
    harness.get_by_label("User:").focus();
    harness.run_steps(2);
    let message = harness.state().message().to_string();
    assert!(message.contains("attempt abandoned"), "{message}");
    harness.key_press(egui::Key::Escape);
    harness.run_steps(3);
    press_keys(
        &mut harness,
        &[egui::Key::S, egui::Key::S, egui::Key::Enter],
    );
    let message = harness.state().message().to_string();
    assert!(
        message.contains("sample refused: typed [s s Enter]"),
        "{message}"
    );
    assert_eq!(samples(&harness), 1);
}

/// Typing enrols only on the Enrol tab: on Train & test with Live test unticked a typed attempt
/// is neither judged nor stored (issue 15: an impostor's attempt became alice's sample 7).
#[test]
fn typing_outside_the_enrol_tab_never_enrols() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = workbench(dir.path());
    harness.run_steps(2);
    click(&mut harness, "Train & test");
    type_phrase(&mut harness, 2);
    let message = harness.state().message().to_string();
    assert!(
        message.contains("not stored: samples are enrolled on the Enrol tab"),
        "{message}"
    );
    assert!(harness.state().store().users().unwrap().is_empty());
    click(&mut harness, "Enrol");
    type_phrase(&mut harness, 2);
    let alice = UserId::parse("alice").unwrap();
    let metadata = harness.state().store().metadata(&alice).unwrap();
    assert_eq!(
        metadata.map(|m| m.samples),
        Some(1),
        "{}",
        harness.state().message()
    );
}

/// A user can be deleted from the Enrol tab, only after confirming; cancelling keeps them.
#[test]
fn a_user_is_deleted_only_after_confirmation() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = workbench(dir.path());
    harness.run_steps(2);
    let alice = UserId::parse("alice").unwrap();
    type_phrase(&mut harness, 2);
    assert!(harness.state().store().metadata(&alice).unwrap().is_some());

    click(&mut harness, "Delete user…");
    click(&mut harness, "Cancel");
    assert_eq!(harness.state().message(), "alice kept");
    assert!(harness.state().store().metadata(&alice).unwrap().is_some());

    click(&mut harness, "Delete user…");
    harness.get_by_label_contains("This cannot be undone");
    click(&mut harness, "Delete alice");
    assert_eq!(
        harness.state().message(),
        "alice deleted: samples, model and lockout state"
    );
    assert!(harness.state().store().metadata(&alice).unwrap().is_none());
    assert!(harness.state().store().users().unwrap().is_empty());
    // Still selected: the next phrase enrols alice afresh.
    harness.get_by_label("samples: 0 of 5");
}

/// One key vocabulary: typed live with Shift for the capital, `.tie5Roanl` is scored against
/// the bundled CMU session s002 (which holds `R` as one key) instead of being "Typed text does
/// not match".
#[test]
fn a_capital_typed_with_shift_matches_the_bundled_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let store = keystroke_workbench::store::Store::open(dir.path()).unwrap();
    let s002 = UserId::parse("s002").unwrap();
    let session = concat!(env!("CARGO_MANIFEST_DIR"), "/sample_sessions/s002.json");
    let (_, samples) =
        keystroke_workbench::session::SessionFile::read(std::path::Path::new(session)).unwrap();
    let now = chrono::Local::now().naive_local();
    let params = keystroke_workbench::detect::DetectorParams::new(
        keystroke_workbench::detect::TempoTolerant,
    );
    store
        .with_user(&s002, |w| {
            for sample in &samples {
                w.add_sample(sample, None, now)?;
            }
            w.train(&params, now)
        })
        .unwrap();
    drop(store);
    let mut harness = with_options(live_test_options(dir.path(), "s002"));
    harness.run_steps(2);
    use egui::Key::*;
    for key in [Period, T, I, E, Num5] {
        harness.key_down(key);
        harness.run_steps(2);
        harness.key_up(key);
        harness.run_steps(3);
    }
    harness.key_down_modifiers(egui::Modifiers::SHIFT, R);
    harness.run_steps(2);
    harness.key_up(R);
    harness.run_steps(3);
    for key in [O, A, N, L, Enter] {
        harness.key_down(key);
        harness.run_steps(2);
        harness.key_up(key);
        harness.run_steps(3);
    }
    let message = harness.state().message().to_string();
    assert!(!message.contains("does not match"), "{message}");
    assert!(harness.state().last_score().is_some(), "{message}");
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

/// alice enrolled by typing five times and trained, the Train & test tab in live-test mode.
fn trained_and_live(dir: &std::path::Path) -> Harness<'static, Workbench> {
    let mut harness = workbench(dir);
    harness.run_steps(2);
    enrol_five(&mut harness, |_, _| {});
    click(&mut harness, "Train & test");
    click(&mut harness, "Train");
    run_until(&mut harness, 60, |w| w.message().starts_with("trained"));
    harness.get_by_label("Live test").click();
    harness.run_steps(2);
    harness
}

#[test]
fn live_test_locks_out_after_five_failures_unless_throttling_is_visibly_off() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = trained_and_live(dir.path());

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
    // The verdict reads with its score against the threshold (the gauge under it is painted:
    // red left of the threshold, green right, the threshold marked).
    harness.get_by_label("IMPOSTER  confidence -1.000 (threshold 0)");
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
        let message = harness.state().message();
        assert!(
            message.starts_with("Typed text does not match the enrolled phrase: typed [x y Enter]"),
            "{message}"
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

/// The phrase typed with Enter, as the workbench records it (Enter ends an attempt).
const TYPED: [&str; 9] = ["p", "a", "s", "s", "w", "o", "r", "d", "Enter"];

/// A typing of [`TYPED`]: `variant` varies it a little, `pace` stretches the gaps.
fn typing(variant: usize, pace: f64) -> serde_json::Value {
    common::events(&TYPED, |i| {
        let wobble = ((variant * 7 + i * 13) % 11) as f64;
        (
            85.0 + wobble + variant as f64 * 1e-3,
            (175.0 + 1.5 * wobble) * pace,
        )
    })
}

/// A workbench (no window) on `dir`, alice selected, in live-test mode, capture armed.
fn live_test_on(dir: &std::path::Path) -> Workbench {
    Workbench::new(live_test_options(dir, "alice")).unwrap()
}

/// Options for a workbench on `dir` with `user` selected, in live-test mode, capture armed.
fn live_test_options(dir: &std::path::Path, user: &str) -> Options {
    Options {
        settings: Settings {
            store_dir: dir.to_path_buf(),
            last_user: Some(user.into()),
            ..Settings::default()
        },
        settings_path: None,
        global_capture: false,
        arm: true,
        live_test: true,
        ..Options::default()
    }
}

/// Feeds the events to the workbench as captured keys.
fn feed(workbench: &mut Workbench, events: &serde_json::Value) {
    for event in events.as_array().unwrap() {
        workbench.on_key(keystroke_workbench::gui::RawKey {
            key: event["key"].as_str().unwrap().to_string(),
            action: if event["event"] == "down" {
                keystroke_workbench::capture::KeyAction::Down
            } else {
                keystroke_workbench::capture::KeyAction::Up
            },
            timestamp_ms: event["timestamp"].as_f64().unwrap(),
        });
    }
}

/// The workbench's live test and the server decide alike: the same stored model and the same
/// attempts — genuine, impostor, a replay, and failures up to a lockout — get the same verdicts
/// and scores (two copies of one store, so neither sees the other's counts).
#[test]
fn the_live_test_and_the_server_give_the_same_verdicts() {
    let root = tempfile::tempdir().unwrap();
    let (gui_dir, server_dir) = (root.path().join("gui"), root.path().join("server"));
    {
        let (_serve, addr, _log) = common::spawn_serve(&gui_dir, &[]);
        for variant in 0..8 {
            let body = common::sample_body("alice", typing(variant, 1.0));
            let reply = common::post(addr, "/train", &body);
            assert_eq!(reply.status, 200, "{}", reply.text());
        }
    }
    std::fs::create_dir(&server_dir).unwrap();
    for entry in std::fs::read_dir(&gui_dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), server_dir.join(entry.file_name())).unwrap();
        }
    }
    let (_serve, addr, _log) = common::spawn_serve(&server_dir, &[]);
    let mut workbench = live_test_on(&gui_dir);
    let mut judge = |events: serde_json::Value| {
        let before = workbench.last_score();
        feed(&mut workbench, &events);
        let gui = (workbench.message().to_string(), workbench.last_score());
        let reply = common::post(addr, "/predict", &common::sample_body("alice", events));
        (gui, before, reply)
    };
    let genuine = typing(20, 1.0);
    let attempts = [
        ("genuine", genuine.clone()),
        ("replay", genuine),
        ("impostor", typing(21, 4.0)),
    ];
    let mut failures = 0;
    for (what, events) in attempts {
        let ((message, score), _, reply) = judge(events);
        assert_eq!(reply.status, 200, "{what}: {}", reply.text());
        let server = reply.json();
        assert_eq!(
            score.unwrap(),
            server["confidence_score"].as_f64().unwrap(),
            "{what}: same score ({message})"
        );
        let accepted = server["authenticated"].as_bool().unwrap();
        match server["reason"].as_str() {
            Some(reason) if reason != "Typing pattern anomaly detected" => {
                assert!(message.starts_with(reason), "{what}: {message} / {reason}")
            }
            _ => assert!(
                message.starts_with(if accepted { "genuine" } else { "imposter" }),
                "{what}: {message} / {server}"
            ),
        }
        if what != "genuine" {
            assert!(!accepted, "{what}: {server}");
        }
        failures = if accepted { 0 } else { failures + 1 };
    }
    // Failures up to the fifth in a row lock alice out on both.
    for variant in failures..5 {
        let ((message, _), _, reply) = judge(typing(22 + variant, 4.0));
        assert_eq!(reply.json()["authenticated"], false, "{}", reply.text());
        if variant == 4 {
            assert!(
                message.ends_with("alice is now locked out for 30 s"),
                "{message}"
            );
        }
    }
    let ((message, score), before, reply) = judge(typing(25, 1.0));
    assert_eq!(reply.status, 429, "{}", reply.text());
    assert!(message.starts_with("alice is locked out for "), "{message}");
    assert_eq!(score, before, "a locked-out attempt is not scored");
    // The lockout is in the store: a new workbench on the folder refuses too.
    drop(workbench);
    let mut again = live_test_on(&gui_dir);
    feed(&mut again, &typing(26, 1.0));
    assert!(
        again.message().starts_with("alice is locked out for "),
        "{}",
        again.message()
    );
}

/// A phrase enrolled over the API without Enter (as an app may send it) is judged in the live
/// test on its own keys: the Enter that ends a typed attempt is left out, so the score is the
/// server's for the attempt without Enter. A mistyped attempt says what was typed against what
/// was enrolled.
#[test]
fn a_phrase_enrolled_without_enter_is_judged_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let (_serve, addr, _log) = common::spawn_serve(dir.path(), &[]);
    let without_enter = |events: serde_json::Value| -> serde_json::Value {
        let events = events.as_array().unwrap().iter();
        events.filter(|e| e["key"] != "Enter").cloned().collect()
    };
    for variant in 0..8 {
        let body = common::sample_body("alice", without_enter(typing(variant, 1.0)));
        let reply = common::post(addr, "/train", &body);
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    let mut workbench = live_test_on(dir.path());
    for (variant, pace) in [(20, 1.0), (21, 4.0)] {
        let attempt = typing(variant, pace);
        feed(&mut workbench, &attempt);
        let message = workbench.message().to_string();
        let body = common::sample_body("alice", without_enter(attempt));
        let server = common::post(addr, "/predict", &body).json();
        assert_eq!(
            workbench.last_score(),
            server["confidence_score"].as_f64(),
            "{message} / {server}"
        );
        let verdict = if server["authenticated"] == true {
            "genuine"
        } else {
            "imposter"
        };
        assert!(message.starts_with(verdict), "{message} / {server}");
    }
    feed(
        &mut workbench,
        &common::events(&["p", "a", "Enter"], |_| (90.0, 180.0)),
    );
    assert_eq!(
        workbench.message(),
        "Typed text does not match the enrolled phrase: typed [p a Enter], the enrolled phrase \
         is [p a s s w o r d]"
    );

    // The Enrol tab stores a typed sample of that phrase without its Enter, too.
    let mut options = live_test_options(dir.path(), "alice");
    options.live_test = false;
    options.tab = Some(keystroke_workbench::gui::Tab::Enrol);
    options.settings.auto_accept = true;
    let mut enrol = Workbench::new(options).unwrap();
    feed(&mut enrol, &typing(30, 1.0));
    assert!(
        enrol.message().starts_with("sample 9 of alice stored"),
        "{}",
        enrol.message()
    );
    let info = common::get(addr, "/user/alice/info").json();
    assert_eq!(info["training_samples"], 9, "{info}");
}

/// The Server tab shows the collection page's address as a QR code and, with an API token,
/// issues one-participant enrolment codes that the running server admits on /train.
#[test]
fn the_server_tab_shows_the_collection_page_and_issues_enrolment_codes() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = workbench(dir.path());
    harness.run_steps(2);
    click(&mut harness, "Server");
    harness.get_by_label("API token:").focus();
    harness.run_steps(2);
    harness.get_by_label("API token:").type_text("lab-token-42");
    harness.run_steps(2);
    assert_eq!(harness.state().server_token(), "lab-token-42");
    click(&mut harness, "Start server");
    let addr = harness.state().server().expect("running").addr();
    harness.get_by_label(&format!("http://{addr}/collect"));
    harness.get_by_label_contains("Only this computer can open it");
    let page = common::get(addr, "/collect");
    assert_eq!(page.status, 200);
    // The token the operator typed is in force.
    let body = common::sample_body("p01", common::genuine(0));
    assert_eq!(common::post(addr, "/train", &body).status, 401);

    click(&mut harness, "New enrolment code");
    let code = harness
        .state()
        .message()
        .split_whitespace()
        .nth(2)
        .unwrap()
        .to_string();
    harness.get_by_label(&code);
    let admitted = common::request(
        addr,
        "POST",
        "/train",
        &[("X-Enrolment-Code", &code)],
        body.to_string().as_bytes(),
    );
    assert_eq!(admitted.status, 200, "{}", admitted.text());
    click(&mut harness, "Stop server");
}

/// Open session files the samples under the file's own user (issue 15: they went to whoever
/// was selected), and Accept all / Discard all act on the whole pending list.
#[test]
fn an_opened_session_is_the_files_user_and_can_be_accepted_or_discarded_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = workbench(dir.path());
    harness.run_steps(2);
    assert_eq!(harness.state().user().map(|u| u.as_str()), Some("alice"));
    click(&mut harness, "Files");
    harness.get_by_label("Path:").focus();
    harness.run_steps(1);
    let session = std::fs::canonicalize("sample_sessions/s003.json").unwrap();
    harness
        .get_by_label("Path:")
        .type_text(session.to_str().unwrap());
    harness.run_steps(2);
    click(&mut harness, "Open session…");
    let message = harness.state().message().to_string();
    assert!(message.contains("samples of s003"), "{message}");
    assert_eq!(harness.state().user().map(|u| u.as_str()), Some("s003"));
    let pending = harness.state().pending_count();
    assert!(pending >= 5, "{pending}");

    click(&mut harness, "Enrol");
    click(&mut harness, "Accept all");
    let message = harness.state().message().to_string();
    assert!(
        message.starts_with(&format!("all {pending} pending samples stored")),
        "{message}"
    );
    let store = harness.state().store();
    let s003 = keystroke_workbench::store::UserId::parse("s003").unwrap();
    assert_eq!(store.metadata(&s003).unwrap().unwrap().samples, pending);
    assert!(
        store
            .metadata(&keystroke_workbench::store::UserId::parse("alice").unwrap())
            .unwrap()
            .is_none()
    );

    // Train & test names the model that judges, apart from the detector chosen for training.
    click(&mut harness, "Train & test");
    harness.get_by_label("model: none (train one to test)");
    harness.get_by_label("Detector to train next");
    click(&mut harness, "Enrol");

    // The user list says what each user has.
    harness.get_by_label("Stored users").click();
    harness.run_steps(2);
    harness.get_by_label(&format!("s003  ({pending} samples)"));
    harness.key_press(egui::Key::Escape);
    harness.run_steps(2);

    // The same file again: every sample is a duplicate, so Accept all stops at the first.
    click(&mut harness, "Files");
    click(&mut harness, "Open session…");
    click(&mut harness, "Enrol");
    click(&mut harness, "Accept all");
    let message = harness.state().message().to_string();
    assert!(
        message.starts_with(&format!(
            "0 of {pending} stored; then sample not stored: duplicate"
        )),
        "{message}"
    );
    assert_eq!(harness.state().pending_count(), pending);
    click(&mut harness, "Discard all");
    assert_eq!(harness.state().pending_count(), 0);
    assert_eq!(
        harness.state().message(),
        format!("{pending} pending samples discarded")
    );
}

/// The Enrol tab's sample table: a mistaken sample is excluded with a click (kept on disk, no
/// longer counted, and the model that held it dropped), and Undo puts it back with its model;
/// a second Undo takes back the newest accept.
#[test]
fn a_sample_excluded_on_the_enrol_tab_is_undone() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = workbench(dir.path());
    harness.run_steps(2);
    let alice = UserId::parse("alice").unwrap();
    enrol_five(&mut harness, |_, _| {});
    // The goal reached, the Enrol tab offers to train (once trained, it no longer does).
    harness.get_by_label_contains("Goal reached: train").click();
    harness.run_steps(2);
    run_until(&mut harness, 60, |w| w.message().starts_with("trained"));
    harness.run_steps(2);
    assert!(harness.query_by_label_contains("Goal reached").is_none());
    harness.get_by_label("samples: 5 of 5");
    harness.get_by_label("the accept of sample 5");

    // Newest first: the third "Exclude" is sample 3's.
    let buttons: Vec<_> = harness.get_all_by_label("Exclude").collect();
    assert_eq!(buttons.len(), 5);
    buttons[2].click();
    harness.run_steps(2);
    let message = harness.state().message().to_string();
    assert!(
        message.contains("sample 3 of alice excluded")
            && message.contains("no model (4 samples in use, 5 needed)"),
        "{message}"
    );
    let metadata = harness.state().store().metadata(&alice).unwrap().unwrap();
    assert_eq!((metadata.samples, metadata.excluded.clone()), (5, vec![2]));
    assert_eq!(metadata.trained_detector(), None);
    harness.get_by_label("samples: 4 of 5");
    harness.get_by_label("Restore");
    harness.get_by_label("the exclusion of sample 3");

    click(&mut harness, "Undo");
    let message = harness.state().message().to_string();
    assert!(
        message.contains("undid the exclusion of sample 3")
            && message.contains("fusion trained on 5"),
        "{message}"
    );
    let metadata = harness.state().store().metadata(&alice).unwrap().unwrap();
    assert!(metadata.excluded.is_empty());
    assert_eq!(metadata.trained_detector().map(|d| d.id()), Some("fusion"));
    harness.get_by_label("samples: 5 of 5");

    // The accept before it is undone the same way: that sample is taken out of use.
    harness.get_by_label("the accept of sample 5");
    click(&mut harness, "Undo");
    let metadata = harness.state().store().metadata(&alice).unwrap().unwrap();
    assert_eq!(metadata.excluded, [4]);
    harness.get_by_label("samples: 4 of 5");

    // Sample 3 out too: the Timings tab plots the three in use, and its slider names each by
    // its number in the store, as the table does (sample 3 is skipped).
    harness.get_all_by_label("Exclude").nth(1).unwrap().click();
    harness.run_steps(2);
    click(&mut harness, "Timings");
    harness.get_by_label("plotted samples: 3 in use, of 5 stored");
    click(&mut harness, "Latest sample");
    let shown = |h: &Harness<'_, Workbench>| {
        h.get_by_role_and_label(egui::accesskit::Role::SpinButton, "Sample:")
            .accesskit_node()
            .value()
            .map(|v| v.to_string())
    };
    use egui_kittest::kittest::NodeT;
    assert_eq!(shown(&harness).as_deref(), Some("#4"));
    harness
        .get_by_role_and_label(egui::accesskit::Role::Slider, "Sample:")
        .decrement_accesskit();
    harness.run_steps(2);
    assert_eq!(shown(&harness).as_deref(), Some("#2"));
    // A number typed is a store number too (2 is #2, the second in use, not the third); #3 is
    // excluded, so typing it changes nothing.
    for (typed, expect) in [("4", "#4"), ("2", "#2"), ("#3", "#2"), ("#1", "#1")] {
        let spin = harness.get_by_role_and_label(egui::accesskit::Role::SpinButton, "Sample:");
        spin.click();
        harness.run_steps(2);
        harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
        harness
            .get_by_role_and_label(egui::accesskit::Role::SpinButton, "Sample:")
            .type_text(typed);
        harness.key_press(egui::Key::Enter);
        harness.run_steps(2);
        assert_eq!(shown(&harness).as_deref(), Some(expect), "typed {typed}");
    }
}

/// Replaces the text of the field labelled `label`.
fn set_field(harness: &mut Harness<'_, Workbench>, label: &str, text: &str) {
    harness.get_by_label(label).focus();
    harness.run_steps(1);
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    harness.run_steps(1);
    harness.get_by_label(label).type_text(text);
    harness.run_steps(1);
    harness.key_press(egui::Key::Escape);
    harness.run_steps(2);
}

/// Enrols `user` with typing variants 0–7 through the API's path (trained at the fifth).
fn enrol_eight(dir: &std::path::Path, user: &UserId) {
    let store = keystroke_workbench::store::Store::open(dir).unwrap();
    let now = chrono::Local::now().naive_local();
    for variant in 0..8 {
        let events = serde_json::from_value(typing(variant, 1.0)).unwrap();
        let sample = keystroke_workbench::capture::Sample::from_events(events).unwrap();
        let config = keystroke_workbench::auth::EnrolConfig::default();
        keystroke_workbench::auth::enrol(&store, &config, user, &sample, None, now).unwrap();
    }
}

/// A live impostor demo as a presenter runs it: five genuine and five impostor attempts
/// labelled in advance, judged (never enrolled), each explained by the timings that gave it
/// away, then saved, reopened and exported: ten rows with their labels and scores.
#[test]
fn a_demo_labelled_in_advance_is_judged_explained_saved_reopened_and_exported() {
    let dir = tempfile::tempdir().unwrap();
    let alice = UserId::parse("alice").unwrap();
    enrol_eight(dir.path(), &alice);
    let mut harness = with_options(Options {
        tab: Some(keystroke_workbench::gui::Tab::Demo),
        live_test: false,
        ..live_test_options(dir.path(), "alice")
    });
    harness.run_steps(2);
    harness.get_by_label("WAITING FOR AN ATTEMPT");
    // A demo's impostor (and mistypings) would lock alice out: throttling off.
    click(
        &mut harness,
        "Throttling: lock out after 5 failed attempts in a row",
    );
    harness.get_by_label_contains("THROTTLING OFF (demo)");

    for (label, typist, variants, pace) in [
        ("genuine", "alice", 20..25, 1.0),
        ("impostor", "carol", 30..35, 4.0),
    ] {
        harness
            .get_by_role_and_label(egui::accesskit::Role::RadioButton, label)
            .click();
        harness.run_steps(1);
        set_field(&mut harness, "typed by", typist);
        click(&mut harness, "Set labels");
        harness.get_by_label(&format!("labels waiting: 5 {label} ({typist})"));
        // A mistyped phrase is no attempt: the label waits, nothing is counted.
        feed(
            harness.state_mut(),
            &common::events(&["x", "y", "Enter"], |_| (90.0, 180.0)),
        );
        harness.run_steps(2);
        harness.get_by_label(&format!("labels waiting: 5 {label} ({typist})"));
        for variant in variants {
            feed(harness.state_mut(), &typing(variant, pace));
            harness.run_steps(2);
        }
    }
    // The last was an impostor's, rejected (at the default security level), and the plot and
    // text say which timings.
    harness.get_by_label("REJECTED");
    harness.get_by_label_contains("impostor (carol)  at balanced");
    let why = harness
        .get_by_label_contains("gave it away: ")
        .value()
        .unwrap_or_default();
    assert!(why.contains("spreads"), "{why}");
    harness.get_by_label("no labels set in advance: label attempts below");
    harness.get_by_label_contains("FAR 0 % of 5 impostor attempts");
    let samples =
        |h: &Harness<'_, Workbench>| h.state().store().metadata(&alice).unwrap().unwrap().samples;
    assert_eq!(samples(&harness), 8, "a demo never enrols");

    let saved = dir.path().join("demo.json");
    set_field(&mut harness, "Demo file:", saved.to_str().unwrap());
    click(&mut harness, "Save demo (JSON)");
    assert!(
        harness
            .state()
            .message()
            .starts_with("10 demo attempts saved")
    );
    // From then on the file is kept current: an eleventh attempt, typed unlabelled, and its
    // label given after the fact, are each on disk at once (a crash loses neither).
    let on_disk = || {
        let demo: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&saved).unwrap()).unwrap();
        let attempts = demo["attempts"].as_array().unwrap().clone();
        (attempts.len(), attempts.last().unwrap()["label"].clone())
    };
    feed(harness.state_mut(), &typing(26, 1.0));
    harness.run_steps(2);
    assert!(
        harness.state().message().contains("(saved to "),
        "{}",
        harness.state().message()
    );
    assert_eq!(on_disk(), (11, serde_json::Value::Null));
    // The newest attempt's row is the first of the table: its "genuine" button.
    use egui_kittest::kittest::NodeT;
    harness
        .get_all_by_label("genuine")
        .find(|node| node.accesskit_node().role() == egui::accesskit::Role::Button)
        .unwrap()
        .click();
    harness.run_steps(2);
    assert_eq!(on_disk(), (11, serde_json::json!("genuine")));
    // Another user selected, then the demo reopened: its own user comes back with it.
    harness
        .state_mut()
        .select_user(UserId::parse("bob").unwrap());
    harness.run_steps(2);
    harness.get_by_label("WAITING FOR AN ATTEMPT");
    // bob's (empty) demo is never saved over alice's, though the path is still typed there.
    click(&mut harness, "Save demo (JSON)");
    let refused = harness.state().message().to_string();
    assert!(
        refused.starts_with("not saved") && refused.contains("11 attempts against alice"),
        "{refused}"
    );
    assert_eq!(on_disk().0, 11);
    click(&mut harness, "Open demo");
    assert_eq!(harness.state().user(), Some(&alice));
    harness.get_by_label_contains("FAR 0 % of 5 impostor attempts");
    let exported = dir.path().join("demo.csv");
    set_field(&mut harness, "Demo file:", exported.to_str().unwrap());
    click(&mut harness, "Export CSV");
    let csv = std::fs::read_to_string(&exported).unwrap();
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 11, "{csv}");
    assert_eq!((rows[10][3], rows[10][4]), ("genuine", ""), "{csv}");
    for (i, row) in rows.iter().take(10).enumerate() {
        let (label, typist) = if i < 5 {
            ("genuine", "alice")
        } else {
            ("impostor", "carol")
        };
        assert_eq!(
            (row[0], row[2], row[3], row[4]),
            (&*(i + 1).to_string(), "alice", label, typist)
        );
        let score: f64 = row[5].parse().unwrap();
        assert_eq!(row[6], if score >= 0.0 { "accepted" } else { "rejected" });
        assert_eq!(row[8], "balanced", "the level that judged it: {csv}");
        if i >= 5 {
            assert_eq!(row[6], "rejected", "an impostor typing 4× slower: {csv}");
        }
    }
}

/// The Evaluate tab on another bundled set with two detectors overlaid: the table, each
/// detector's mean curve with its EER point, DET on normal-deviate axes (marked 0.1 % … 95 %),
/// and the figure and table exported.
#[test]
fn evaluate_overlays_detectors_on_det_axes_and_exports_the_figure_and_table() {
    use keystroke_workbench::eval::probit;
    use keystroke_workbench::gui::det_tick_label;
    let dir = tempfile::tempdir().unwrap();
    let mut harness = workbench(dir.path());
    harness.run_steps(2);
    click(&mut harness, "Evaluate");
    click(&mut harness, "Keypad");
    click(&mut harness, "Outlier count (z-score)");
    click(&mut harness, "Run evaluation");
    run_until(&mut harness, 120, |w| !w.evaluating());
    harness.run_steps(2);
    let message = harness.state().message().to_string();
    assert!(
        message.contains("Manhattan (scaled): Keypad, 10 training samples: mean EER 0.1415")
            && message
                .contains("Outlier count (z-score): Keypad, 10 training samples: mean EER 0.1187"),
        "the figures of docs/detectors.md: {message}"
    );

    let roc = harness.state().evaluation_curves();
    assert_eq!(roc.len(), 2);
    assert_eq!(roc[0].0, "Manhattan (scaled)");
    click(&mut harness, "DET (miss rate) instead of ROC (hit rate)");
    let det = harness.state().evaluation_curves();
    for ((_, roc), (_, det)) in roc.iter().zip(&det) {
        // DET stops at the first point below its floor (a zero miss rate is at infinity).
        let floor = keystroke_workbench::eval::PROBIT_FLOOR;
        let shown = roc
            .iter()
            .position(|r| 1.0 - r[1] < floor)
            .map_or(roc.len(), |at| at + 1);
        assert_eq!(det.len(), shown);
        for (r, d) in roc.iter().zip(det) {
            // ROC draws (false alarm, hit); DET the normal deviates of (false alarm, miss).
            assert!((d[0] - probit(r[0])).abs() < 1e-12);
            assert!((d[1] - probit(1.0 - r[1])).abs() < 1e-9, "{r:?} {d:?}");
        }
    }
    assert_eq!(det_tick_label(probit(0.01)), "1%");
    assert_eq!(det_tick_label(probit(0.001)), "0.1%");
    assert_eq!(det_tick_label(0.3), "");

    let svg = dir.path().join("figure.svg");
    set_field(&mut harness, "Export to:", svg.to_str().unwrap());
    click(&mut harness, "Export figure (SVG)");
    let figure = std::fs::read_to_string(&svg).unwrap();
    assert_eq!(figure.matches("<polyline").count(), 2);
    assert!(figure.contains("miss rate (impostors accepted)") && figure.contains(">1%<"));
    assert!(figure.contains("Outlier count (z-score) (EER"), "{figure}");
    let csv = dir.path().join("table.csv");
    set_field(&mut harness, "Export to:", csv.to_str().unwrap());
    click(&mut harness, "Export table (CSV)");
    let table = std::fs::read_to_string(&csv).unwrap();
    // 30 subjects and a mean, per detector, under a header.
    assert_eq!(table.lines().count(), 1 + 2 * 31, "{table}");
    assert!(table.contains("outlier-count,mean,0.1187"), "{table}");
}

/// The participant record typed on the Enrol tab (session, device, notes) is stored with each
/// sample accepted, and the sample table shows the session; typing it records no key.
#[test]
fn the_participant_record_is_stored_with_each_sample() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = workbench(dir.path());
    harness.run_steps(2);
    set_field(&mut harness, "Session:", "S1");
    set_field(&mut harness, "Device / keyboard:", "Dell KB216");
    set_field(&mut harness, "Notes:", "left-handed, first sitting");
    type_phrase(&mut harness, 2);
    let alice = UserId::parse("alice").unwrap();
    let store = harness.state().store();
    let metadata = store.metadata(&alice).unwrap().unwrap();
    assert_eq!(metadata.samples, 1, "{}", harness.state().message());
    let stored = &store.samples(&alice, &metadata).unwrap()[0];
    assert_eq!(stored.session.as_deref(), Some("S1"));
    assert_eq!(stored.device.as_deref(), Some("Dell KB216"));
    assert_eq!(stored.notes.as_deref(), Some("left-handed, first sitting"));
    // Older builds cannot read such lines: the metadata says so in a version they refuse.
    assert!(metadata.participant_records);
    let file = std::fs::read_to_string(store.paths(&alice).metadata).unwrap();
    assert!(file.contains("\"version\": 2"), "{file}");
    harness.run_steps(2);
    harness.get_by_label("S1");
    // Notes are about one participant: another user starts without them.
    harness
        .state_mut()
        .select_user(UserId::parse("bob").unwrap());
    harness.run_steps(2);
    assert_eq!(harness.get_by_label("Notes:").value().as_deref(), Some(""));
    assert_eq!(
        harness.get_by_label("Session:").value().as_deref(),
        Some("S1")
    );
}

/// Retraining with another detector starts a new histogram and error rates (scores of two
/// detectors are on different scales); the earlier model's attempts stay listed, marked.
#[test]
fn a_retrained_model_gets_its_own_live_test_rates() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = trained_and_live(dir.path());
    for frames in [3, 6] {
        type_phrase(&mut harness, frames);
    }
    harness.get_by_label_contains("this model: 2 attempts");
    harness.get_by_label("Detector to train next").click();
    harness.run_steps(2);
    click(&mut harness, "Manhattan (scaled)");
    click(&mut harness, "Train");
    run_until(&mut harness, 60, |w| {
        w.message() == "trained manhattan-scaled on 5 samples"
    });
    harness.run_steps(2);
    harness.get_by_label_contains("this model: 0 attempts");
    assert_eq!(harness.get_all_by_label("(an earlier model)").count(), 2);
    type_phrase(&mut harness, 4);
    harness.get_by_label_contains("this model: 1 attempts");
    // Every attempt stays listed.
    for n in 1..=3 {
        harness.get_by_label(&format!("attempt {n:<3}"));
    }
}

/// Each tab keeps its own status line, and selecting another user clears them all: no tab
/// shows a status about another tab's work or another user.
#[test]
fn the_status_line_belongs_to_its_tab_and_user() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = workbench(dir.path());
    harness.run_steps(2);
    type_phrase(&mut harness, 2);
    assert!(
        harness
            .state()
            .message()
            .starts_with("sample 1 of alice stored")
    );
    click(&mut harness, "Timings");
    assert_eq!(harness.state().message(), "");
    click(&mut harness, "Enrol");
    assert!(
        harness
            .state()
            .message()
            .starts_with("sample 1 of alice stored")
    );
    harness
        .state_mut()
        .select_user(UserId::parse("bob").unwrap());
    harness.run_steps(2);
    assert_eq!(harness.state().message(), "");
    harness.get_by_label("Status: ");

    // A background job's outcome is said on the tab that started it.
    click(&mut harness, "Evaluate");
    click(&mut harness, "Keypad");
    click(&mut harness, "Run evaluation");
    click(&mut harness, "Timings");
    run_until(&mut harness, 120, |w| !w.evaluating());
    harness.run_steps(2);
    assert_eq!(harness.state().message(), "");
    click(&mut harness, "Evaluate");
    assert!(harness.state().message().contains("mean EER"));
}

#[test]
fn the_security_level_picker_moves_the_live_tests_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let alice = UserId::parse("alice").unwrap();
    enrol_eight(dir.path(), &alice);
    let mut harness = with_options(Options {
        tab: Some(keystroke_workbench::gui::Tab::Test),
        ..live_test_options(dir.path(), "alice")
    });
    harness.run_steps(2);
    feed(harness.state_mut(), &typing(20, 1.0));
    harness.run_steps(2);
    let balanced = harness.state().last_score().expect("judged");
    harness.get_by_label("Security level").click();
    harness.run_steps(2);
    click(&mut harness, "strict");
    // The same typing again is still a replay: the level changed, the verifier's memory stayed.
    feed(harness.state_mut(), &typing(20, 1.0));
    harness.run_steps(2);
    assert_eq!(harness.state().last_score(), Some(-1.0));
    let message = harness.state().message().to_string();
    assert!(message.contains("Replayed sample"), "{message}");
    // Another typing is judged at the strict threshold, the first one was at balanced.
    feed(harness.state_mut(), &typing(21, 1.0));
    harness.run_steps(2);
    let strict = harness.state().last_score().expect("judged");
    let store = harness.state().store();
    let metadata = store.metadata(&alice).unwrap().unwrap();
    let model = store.model(&alice, &metadata).unwrap().unwrap();
    let levels = model.levels.unwrap();
    assert!(levels.strict > levels.balanced, "{levels:?}");
    use keystroke_workbench::detect::SecurityLevel::{Balanced, Strict};
    let decision = |level, variant| model.decision_at(level, &features_of(variant)).unwrap();
    assert!((strict - decision(Strict, 21)).abs() < 1e-9, "{strict}");
    assert!(
        (balanced - decision(Balanced, 20)).abs() < 1e-9,
        "{balanced}"
    );
    assert!(decision(Strict, 21) < decision(Balanced, 21));
}

/// The features of `typing(variant, 1.0)`.
fn features_of(variant: usize) -> Vec<f64> {
    let events = serde_json::from_value(typing(variant, 1.0)).unwrap();
    let sample = keystroke_workbench::capture::Sample::from_events(events).unwrap();
    keystroke_workbench::features::Features::of(&sample).values_ms
}
