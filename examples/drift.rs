//! How much faster each bundled set's genuine test is typed than its enrolment: the drift that
//! makes the sets disagree on a default (issue 14). The tempo-tolerant detector forgives
//! flights faster than the template; that is right where users speed up between enrolment and
//! test, and wrong where they do not.
//!
//! ```text
//! cargo run --release --example drift
//! ```
//!
//! Per set, over subjects: the median ratio of the down-down flights' total in the genuine test
//! to that in enrolment samples 1–5, the share of subjects slower at test than at enrolment,
//! and the median ratio of samples 4–5 to samples 1–2 (the speed-up a product could see during
//! enrolment), with the two ratios' correlation over subjects.

use keystroke_workbench::eval::BUNDLED;
use keystroke_workbench::features::{FeatureKind, feature_kind};
use ndarray::{ArrayView2, s};

/// Enrolment samples: the product's minimum, the N = 5 rows of `eval --suite`.
const ENROL: usize = 5;

/// Mean over `rows` of each row's total down-down flight time.
fn mean_flights(rows: ArrayView2<f64>) -> f64 {
    let total: f64 = rows
        .rows()
        .into_iter()
        .map(|row| {
            row.iter()
                .enumerate()
                .filter(|(i, _)| feature_kind(*i).0 == FeatureKind::DownDown)
                .map(|(_, x)| x)
                .sum::<f64>()
        })
        .sum();
    total / rows.nrows() as f64
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    (values[(n - 1) / 2] + values[n / 2]) / 2.0
}

fn correlation(pairs: &[(f64, f64)]) -> f64 {
    let n = pairs.len() as f64;
    let (mx, my) = pairs
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x / n, b + y / n));
    let (mut xy, mut xx, mut yy) = (0.0, 0.0, 0.0);
    for (x, y) in pairs {
        xy += (x - mx) * (y - my);
        xx += (x - mx) * (x - mx);
        yy += (y - my) * (y - my);
    }
    xy / (xx * yy).sqrt()
}

fn main() {
    for set in BUNDLED {
        let data = set.load().expect("the bundled set loads");
        let protocol = set.protocol(ENROL, None);
        let pairs: Vec<(f64, f64)> = data
            .subjects
            .iter()
            .map(|subject| {
                let rows = protocol.rows(subject).expect("the protocol fits the set");
                let samples = subject.samples_ms.view();
                let enrolment = mean_flights(samples.slice(s![rows.train.clone(), ..]));
                let test = mean_flights(samples.slice(s![rows.genuine.clone(), ..]));
                let early = mean_flights(samples.slice(s![0..2, ..]));
                let late = mean_flights(samples.slice(s![ENROL - 2..ENROL, ..]));
                (test / enrolment, late / early)
            })
            .collect();
        let slower = pairs.iter().filter(|(test, _)| *test > 1.0).count();
        println!(
            "{}: flights at test / enrolment: median {:.3}, slower at test {} of {}; \
             samples 4–5 / 1–2: median {:.3}; correlation {:.2}",
            set.id,
            median(pairs.iter().map(|p| p.0).collect()),
            slower,
            pairs.len(),
            median(pairs.iter().map(|p| p.1).collect()),
            correlation(&pairs)
        );
    }
}
