//! Speed of the CMU evaluation (`cargo bench --bench eval`).
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

criterion_group!(benches, cmu_eval);
criterion_main!(benches);
