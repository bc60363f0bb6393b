//! Speed of the CMU evaluation (`cargo bench --bench eval`), of what /train computes: the
//! enrolment quality, and the model with its thresholds, and of template update's cohort guard.
//!
//! `cmu_eval/isolation-forest` is the full protocol of `eval --detector isolation-forest`
//! (51 subjects, 100 trees each, one seed) on the machine's cores. Compare it with
//! scikit-learn on the same machine: `python3 benches/sklearn_cmu_iforest.py`.

use criterion::{Criterion, criterion_group, criterion_main};
use keystroke_workbench::detect::DetectorKind;
use keystroke_workbench::eval::{CMU, Evaluation, Protocol};
use keystroke_workbench::workers::{default_threads, parallel_map};

fn cmu_eval(c: &mut Criterion) {
    let data = CMU.load().expect("the bundled CMU data loads");
    let mut group = c.benchmark_group("cmu_eval");
    group.sample_size(20);
    for &kind in DetectorKind::ALL {
        let evaluation = Evaluation::new(
            &data,
            Protocol::cmu(200),
            kind.default_params().for_ranking(),
            &[0],
        )
        .expect("protocol fits the data");
        group.bench_function(kind.id(), |b| {
            b.iter(|| {
                let results =
                    parallel_map(evaluation.n_subjects(), default_threads(), "bench", |i| {
                        evaluation.run_subject(i).expect("subject evaluates")
                    });
                evaluation.summarise(results)
            })
        });
    }
    group.finish();
}

/// `enrolment_quality/assess_50`: /train's quality check for a user with 50 samples or more
/// (each of the newest 50 judged against the other 49; CMU subject s002's first 50
/// repetitions, 31 timings each).
fn enrolment_quality(c: &mut Criterion) {
    let data = CMU.load().expect("the bundled CMU data loads");
    let rows = data.subjects[0]
        .samples_ms
        .slice(ndarray::s![0..50, ..])
        .to_owned();
    let mut group = c.benchmark_group("enrolment_quality");
    group.bench_function("assess_50", |b| {
        b.iter(|| keystroke_workbench::auth::assess(rows.view()))
    });
    group.finish();
}

/// `train/<detector>/<n>`: what /train fits for a user with `n` samples — the model, its
/// threshold, its thresholds at each security level and its update guard — for the default
/// detector, one it is built on and the one it replaced (CMU subject s002's first `n`
/// repetitions).
fn train(c: &mut Criterion) {
    let data = CMU.load().expect("the bundled CMU data loads");
    let mut group = c.benchmark_group("train");
    group.sample_size(20);
    for id in ["fusion", "tempo-tolerant", "isolation-forest"] {
        let params = id
            .parse::<DetectorKind>()
            .expect("registered")
            .default_params();
        for n in [5, 50, 200, 400] {
            let rows = data.subjects[0].samples_ms.slice(ndarray::s![0..n, ..]);
            group.bench_function(format!("{id}/{n}"), |b| {
                b.iter(|| params.fit_with_thresholds(rows).expect("fits"))
            });
        }
    }
    group.finish();
}

/// `cohort_guard/<members>`: what template update adds to a /predict that reaches it when
/// other users are enrolled on the phrase: the default detector's model (CMU subject s002's
/// first 5 repetitions) scoring the first 5 repetitions of each of `members` other subjects
/// (the CMU set's 50, then the server's cap of 200, cycling through them).
fn cohort_guard(c: &mut Criterion) {
    let data = CMU.load().expect("the bundled CMU data loads");
    let model = keystroke_workbench::detect::DetectorParams::default()
        .fit(data.subjects[0].samples_ms.slice(ndarray::s![0..5, ..]))
        .expect("fits");
    let others: Vec<_> = data.subjects[1..]
        .iter()
        .map(|s| s.samples_ms.slice(ndarray::s![0..5, ..]))
        .collect();
    let mut group = c.benchmark_group("cohort_guard");
    for members in [50, keystroke_workbench::auth::MAX_COHORT_USERS] {
        let cohort: Vec<_> = others.iter().cycle().take(members).cloned().collect();
        group.bench_function(members.to_string(), |b| {
            b.iter(|| keystroke_workbench::detect::cohort_guard(&model, cohort.iter().cloned()))
        });
    }
    group.finish();
}

criterion_group!(benches, cmu_eval, enrolment_quality, train, cohort_guard);
criterion_main!(benches);
