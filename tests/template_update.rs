//! Template update over real HTTP (`KW_TEMPLATE_UPDATE`): accepted attempts that score well above
//! the threshold join a window of recent attempts and the model is retrained on them and the
//! enrolment samples; impostor attempts never join; enrolment is untouched; off by default.

mod common;

use common::*;
use keystroke_workbench::api::ApiConfig;
use keystroke_workbench::detect::{DetectorParams, Scorer, TempoTolerant, cohort_guard};
use keystroke_workbench::store::{ModelFile, UserId};

fn server(window: usize) -> TestServer {
    TestServer::with_config(ApiConfig {
        detector: DetectorParams::new(TempoTolerant),
        template_window: window,
        api_token: Some("t".into()),
        ..ApiConfig::default()
    })
}

/// /train alice's `genuine(variant)` with the token.
fn train(server: &TestServer, variant: usize) -> Reply {
    let body = sample_body("alice", genuine(variant)).to_string();
    request(
        server.addr(),
        "POST",
        "/train",
        &[("Authorization", "Bearer t")],
        body.as_bytes(),
    )
}

fn enrol(server: &TestServer) {
    for i in 0..5 {
        let reply = train(server, i);
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
}

fn model(server: &TestServer) -> ModelFile {
    let user = UserId::parse("alice").unwrap();
    let metadata = server.store.metadata(&user).unwrap().unwrap();
    server.store.model(&user, &metadata).unwrap().unwrap()
}

fn updates(server: &TestServer) -> usize {
    let user = UserId::parse("alice").unwrap();
    let metadata = server.store.metadata(&user).unwrap().unwrap();
    server.store.updates(&user, &metadata).unwrap().nrows()
}

#[test]
fn accepted_attempts_update_a_bounded_window_and_impostors_never_do() {
    let server = server(3);
    enrol(&server);
    assert_eq!(model(&server).trained_on_updates, 0);
    let guard = model(&server).update_guard.expect("a guard");
    assert!(
        guard > model(&server).threshold,
        "the guard is above the threshold"
    );

    let mut taken = 0;
    for variant in 100..112 {
        let before = model(&server);
        let features = keystroke_workbench::features::Features::of(
            &keystroke_workbench::api::body::decode_sample(
                sample_body("alice", genuine(variant))
                    .to_string()
                    .as_bytes(),
            )
            .unwrap()
            .1,
        );
        let reply = post(
            server.addr(),
            "/predict",
            &sample_body("alice", genuine(variant)),
        );
        assert_eq!(reply.status, 200, "{}", reply.text());
        let after = model(&server);
        if before.takes_update(&features.values_ms) {
            assert_eq!(reply.json()["authenticated"], true);
            taken += 1;
            assert_eq!(after.trained_on_updates, taken.min(3), "variant {variant}");
            assert_ne!(after.model, before.model, "retrained");
        } else {
            assert_eq!(
                after, before,
                "variant {variant}: nothing changes below the guard"
            );
        }
    }
    assert!(
        taken > 3,
        "genuine attempts update the template ({taken} taken)"
    );
    assert_eq!(updates(&server), 3, "the window keeps the newest 3");

    // An impostor, rejected, changes nothing.
    let before = model(&server);
    let reply = post(server.addr(), "/predict", &sample_body("alice", imposter()));
    assert_eq!(reply.json()["authenticated"], false);
    assert_eq!(model(&server), before);

    // Enrolment is unchanged: /info and the next /train count the samples only.
    let info = get(server.addr(), "/user/alice/info").json();
    assert_eq!(info["training_samples"], 5);
    assert_eq!(train(&server, 50).json()["samples_count"], 6);
    let retrained = model(&server);
    assert_eq!(retrained.trained_on_samples, 6);
    assert_eq!(
        retrained.trained_on_updates, 3,
        "training keeps the accepted attempts"
    );

    // Deleting the user removes the updates file too.
    let reply = request(
        server.addr(),
        "DELETE",
        "/user/alice",
        &[("Authorization", "Bearer t")],
        b"",
    );
    assert_eq!(reply.status, 200);
    assert!(server.files().is_empty(), "{:?}", server.files().keys());
    let log = server.throttle_log();
    assert!(
        !log.contains("alice"),
        "the throttle log forgets alice: {log}"
    );
}

#[test]
fn off_by_default() {
    let server = server(0);
    enrol(&server);
    for variant in 100..106 {
        let reply = post(
            server.addr(),
            "/predict",
            &sample_body("alice", genuine(variant)),
        );
        assert_eq!(reply.status, 200);
    }
    assert_eq!(model(&server).trained_on_updates, 0);
    assert!(!server.dir.path().join("alice_updates.npy").exists());
}

/// With another user enrolled on the phrase, an accepted attempt joins the template only if it
/// scores at or above every one of that user's first 5 samples (the cohort guard), over HTTP;
/// `update_cohort: false` (`KW_UPDATE_COHORT=false`) leaves the percentile guard alone.
#[test]
fn another_users_typing_of_the_phrase_raises_the_bar() {
    for cohort in [true, false] {
        let server = TestServer::with_config(ApiConfig {
            detector: DetectorParams::new(TempoTolerant),
            template_window: 20,
            update_cohort: cohort,
            // Some attempts fail; none may lock alice out.
            throttle: keystroke_workbench::auth::Throttle {
                max_failures: 0,
                ..Default::default()
            },
            ..ApiConfig::default()
        });
        for (user, variants) in [("alice", 0..5), ("bob", 200..205)] {
            for variant in variants {
                let reply = post(
                    server.addr(),
                    "/train",
                    &sample_body(user, genuine(variant)),
                );
                assert_eq!(reply.status, 200, "{}", reply.text());
            }
        }
        let bob = UserId::parse("bob").unwrap();
        let bob_rows = server
            .store
            .active_features(&bob, &server.store.metadata(&bob).unwrap().unwrap())
            .unwrap();
        let (mut taken, mut refused_by_cohort) = (0, 0);
        for variant in 100..130 {
            let before = model(&server);
            let body = sample_body("alice", genuine(variant));
            let x = keystroke_workbench::features::Features::of(
                &keystroke_workbench::api::body::decode_sample(body.to_string().as_bytes())
                    .unwrap()
                    .1,
            )
            .values_ms;
            let best = cohort_guard(&before.model, [bob_rows.view()]).unwrap();
            let above_bob = before.model.score(&x).unwrap() >= best;
            let reply = post(server.addr(), "/predict", &body);
            assert_eq!(reply.status, 200, "{}", reply.text());
            let updated = model(&server).trained_on_updates > before.trained_on_updates
                || model(&server).model != before.model;
            let expected = before.takes_update(&x) && (above_bob || !cohort);
            assert_eq!(updated, expected, "cohort {cohort}, variant {variant}");
            taken += usize::from(updated);
            refused_by_cohort += usize::from(before.takes_update(&x) && !above_bob);
        }
        assert!(taken > 0, "cohort {cohort}: some attempts are taken");
        assert!(
            refused_by_cohort > 0,
            "cohort {cohort}: some attempts pass the percentile guard only"
        );
    }
}
