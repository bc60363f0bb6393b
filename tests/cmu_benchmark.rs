//! The Killourhy & Maxion (DSN 2009) results, reproduced on the bundled CMU benchmark.

use keystroke_workbench::detect::{
    DetectorKind, DetectorParams, Euclidean, IsolationForestParams, Mahalanobis, Manhattan,
    ManhattanScaled, NearestNeighbor, OutlierCount, TempoTolerant,
};
use keystroke_workbench::eval::{CMU, Cohort, Dataset, DetectorResult, Evaluation, Protocol};

fn cmu() -> Dataset {
    CMU.load().expect("the bundled CMU benchmark loads")
}

fn evaluate(data: &Dataset, params: DetectorParams, seeds: &[u64]) -> DetectorResult {
    Evaluation::new(data, Protocol::cmu(200), params, seeds)
        .unwrap()
        .run()
        .unwrap()
}

#[test]
fn bundled_data_has_51_subjects_of_400_samples() {
    let data = cmu();
    assert_eq!(data.subjects.len(), 51);
    assert!(
        data.subjects
            .iter()
            .all(|s| s.samples_ms.dim() == (400, 31))
    );
    assert_eq!(data.feature_names[0], "H.period");
}

#[test]
fn classic_detectors_reproduce_the_published_eers_to_4_decimals() {
    let data = cmu();
    let published = [
        (DetectorKind::of::<ManhattanScaled>(), 0.0962),
        (DetectorKind::of::<NearestNeighbor>(), 0.0996),
        (DetectorKind::of::<OutlierCount>(), 0.1022),
        (DetectorKind::of::<Mahalanobis>(), 0.1101),
        (DetectorKind::of::<Manhattan>(), 0.1529),
        (DetectorKind::of::<Euclidean>(), 0.1706),
    ];
    for (kind, eer) in published {
        let result = evaluate(&data, kind.default_params(), &[0]);
        let rounded = (result.eer_mean * 1e4).round() / 1e4;
        assert_eq!(rounded, eer, "{kind}: mean EER {}", result.eer_mean);
    }
}

#[test]
fn isolation_forest_ten_seed_mean_eer_matches_scikit_learn() {
    // scikit-learn 1.9 (100 trees, max_samples auto) gets 0.0887 on seeds 0–9.
    let data = cmu();
    let seeds: Vec<u64> = (0..10).collect();
    let params = DetectorParams::new(IsolationForestParams::default());
    let result = evaluate(&data, params, &seeds);
    assert!(
        (0.084..=0.094).contains(&result.eer_mean),
        "mean EER {}",
        result.eer_mean
    );
}

/// The detection-quality targets (issue 6), as `eval` computes them.
#[test]
fn tempo_tolerant_meets_the_few_sample_targets() {
    let data = cmu();
    let run = |protocol: Protocol| {
        Evaluation::new(&data, protocol, DetectorParams::new(TempoTolerant), &[0])
            .unwrap()
            .run()
            .unwrap()
    };
    let five = run(Protocol::cmu(5));
    assert!(five.eer_mean <= 0.20, "5 samples: {}", five.eer_mean);
    let with_cohort = |cohort| {
        let mut protocol = Protocol::cmu_with_update(5, 20);
        protocol.update.as_mut().unwrap().cohort = cohort;
        run(protocol)
    };
    // Issue 6's target holds for template update by the percentile guard alone
    // (`KW_UPDATE_COHORT=false`)…
    let updated = with_cohort(Cohort::None);
    assert!(
        updated.eer_mean <= 0.10,
        "with update: {}",
        updated.eer_mean
    );
    assert!(
        updated.impostor_updates_mean < 0.05,
        "the guard lets few impostors in: {}",
        updated.impostor_updates_mean
    );
    // …and the product's cohort guard (issue 14) trades part of the gain for taking under
    // 1 % of impostor probes, whether or not the probing impostors are in the cohort.
    for cohort in [Cohort::Others, Cohort::Half] {
        let guarded = with_cohort(cohort);
        assert!(
            guarded.eer_mean < five.eer_mean && guarded.eer_mean > updated.eer_mean,
            "{cohort:?}: {} between {} and {}",
            guarded.eer_mean,
            updated.eer_mean,
            five.eer_mean
        );
        assert!(
            guarded.impostor_updates_mean <= 0.01,
            "{cohort:?}: {}",
            guarded.impostor_updates_mean
        );
    }
    let all = run(Protocol::cmu(200));
    assert!(all.eer_mean <= 0.075, "200 samples: {}", all.eer_mean);
    // The per-user thresholds reject a similar share of genuine attempts at 5 and 200 samples.
    for result in [&five, &all] {
        assert!(
            (0.02..=0.12).contains(&result.threshold_frr_mean),
            "FRR at the threshold: {}",
            result.threshold_frr_mean
        );
    }
}
