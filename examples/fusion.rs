//! Mean EER of a score-level fusion on every bundled data set (issue 14's search for a default):
//! each detector's scores are normalised per user by the mean and standard deviation (at least
//! the product's `MIN_SPREAD`) of its leave-one-out scores on the training samples, weighted and
//! summed. `tempo-tolerant=1 outlier-count=1` is the product's default detector, `fusion`.
//!
//! ```text
//! cargo run --release --example fusion -- tempo-tolerant=2 outlier-count=1
//! ```
//!
//! Prints one line: mean EER at N = 5 and at the full enrolment of each set (the protocol of
//! `eval --suite`, randomised detectors with seed 0).

use keystroke_workbench::detect::fusion::MIN_SPREAD;
use keystroke_workbench::detect::{DetectorKind, DetectorParams};
use keystroke_workbench::eval::{BUNDLED, Evaluation, error_rates};
use ndarray::s;

fn main() {
    let parts: Vec<(DetectorParams, f64)> = std::env::args()
        .skip(1)
        .map(|arg| {
            let (id, weight) = arg.split_once('=').unwrap_or((&arg, "1"));
            let kind: DetectorKind = id.parse().unwrap_or_else(|e| panic!("{e}"));
            let weight: f64 = weight.parse().unwrap_or_else(|e| panic!("{arg}: {e}"));
            (kind.default_params().with_seed(0).for_ranking(), weight)
        })
        .collect();
    assert!(!parts.is_empty(), "name at least one detector (id=weight)");
    let mut columns = Vec::new();
    for set in BUNDLED {
        let data = set.load().expect("the bundled set loads");
        for n in [5, set.full_train] {
            let evaluations: Vec<Evaluation> = parts
                .iter()
                .map(|(params, _)| {
                    Evaluation::new(&data, set.protocol(n, None), params.clone(), &[0])
                        .expect("the protocol fits the set")
                })
                .collect();
            let subjects = evaluations[0].n_subjects();
            let mut eer = 0.0;
            for i in 0..subjects {
                let rows = evaluations[0].rows(i);
                let train = data.subjects[i]
                    .samples_ms
                    .slice(s![rows.train.clone(), ..]);
                let m = train.nrows();
                let (mut genuine, mut impostor) = (Vec::new(), Vec::new());
                for ((params, weight), evaluation) in parts.iter().zip(&evaluations) {
                    let tested = evaluation.subject_scores(i, 0).expect("subject scores");
                    let loo = params.leave_one_out(train).expect("fits");
                    let mean = loo.iter().sum::<f64>() / m as f64;
                    let var = loo.iter().map(|x| (x - mean).powi(2)).sum::<f64>();
                    let sd = (var / (m - 1) as f64).sqrt().max(MIN_SPREAD);
                    let add = |sum: &mut Vec<f64>, scores: Vec<f64>| {
                        sum.resize(scores.len(), 0.0);
                        for (total, score) in sum.iter_mut().zip(scores) {
                            *total += weight * (score - mean) / sd;
                        }
                    };
                    add(&mut genuine, tested.genuine);
                    add(&mut impostor, tested.impostor);
                }
                eer += error_rates(&genuine, &impostor).expect("both sets").eer;
            }
            columns.push(format!("{} N={n}: {:.4}", set.id, eer / subjects as f64));
        }
    }
    println!("{}", columns.join("  "));
}
