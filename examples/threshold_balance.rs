//! Where a per-user threshold learnt from the genuine user alone balances false accepts and
//! false rejects, on each bundled data set (the question behind issue 14's security levels).
//!
//! ```text
//! cargo run --release --example threshold_balance -- tempo-tolerant outlier-count
//! ```
//!
//! For each set, N ∈ {5, full} and detector: each subject's held-out scores on its training
//! samples (those the security levels take percentiles of: `FittedDetector::level_scores`, or
//! plain leave-one-out scores for the isolation forest) give thresholds — the p-th percentile
//! (p = 5 … 50) and mean − k·sd (k = 0 … 3) — and the mean FAR/FRR over subjects at each is
//! printed as `FAR/FRR`. A rule that balanced on every set would show FAR ≈ FRR at the same p
//! (or k) in every row. `balanced`'s percentile is the p whose largest |FAR − FRR| over the
//! six rows of the default detector is smallest.
//!
//! Then, per detector, the percentiles (steps of 0.5 from 2.5 to 50) at which each row meets
//! issue 14's target for `balanced`, |FAR − FRR| ≤ 0.05, and those at which every row does.

use keystroke_workbench::detect::DetectorKind;
use keystroke_workbench::eval::{BUNDLED, Evaluation};
use ndarray::s;

const PERCENTILES: [f64; 11] = [
    5.0, 7.5, 10.0, 12.5, 15.0, 17.5, 20.0, 25.0, 30.0, 40.0, 50.0,
];
const SPREADS: [f64; 6] = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0];

/// Issue 14's target for `balanced`: |FAR − FRR| at most this on every row.
const BALANCE: f64 = 0.05;

/// The percentiles searched for the target: 2.5, 3, … 50.
fn fine_percentiles() -> impl Iterator<Item = f64> {
    (5..=100).map(|half| half as f64 / 2.0)
}

/// `ps` (ascending, on the 0.5 grid) as ranges: "10–12.5, 20", or "none".
fn ranges(ps: &[f64]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut start = 0;
    for i in 0..ps.len() {
        if i + 1 == ps.len() || ps[i + 1] - ps[i] > 0.5 {
            out.push(if start == i {
                ps[i].to_string()
            } else {
                format!("{}–{}", ps[start], ps[i])
            });
            start = i + 1;
        }
    }
    if out.is_empty() {
        "none".into()
    } else {
        out.join(", ")
    }
}

/// Linear-interpolation percentile of ascending `sorted`.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = p / 100.0 * (sorted.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64)
}

/// Mean (FAR, FRR) over subjects, for each threshold the subject's `rule` gives.
fn rates(scores: &[(Vec<f64>, Vec<f64>, Vec<f64>)], rule: impl Fn(&[f64]) -> f64) -> (f64, f64) {
    let (mut far, mut frr) = (0.0, 0.0);
    for (loo, genuine, impostor) in scores {
        let t = rule(loo);
        frr += genuine.iter().filter(|&&g| g < t).count() as f64 / genuine.len() as f64;
        far += impostor.iter().filter(|&&i| i >= t).count() as f64 / impostor.len() as f64;
    }
    let n = scores.len() as f64;
    (far / n, frr / n)
}

fn main() {
    let kinds: Vec<DetectorKind> = std::env::args()
        .skip(1)
        .map(|d| d.parse().unwrap_or_else(|e| panic!("{e}")))
        .collect();
    // Per detector: the fine percentiles balanced within BALANCE on every row so far.
    let mut everywhere: Vec<Vec<f64>> = vec![fine_percentiles().collect(); kinds.len()];
    let mut balanced_lines = Vec::new();
    for set in BUNDLED {
        let data = set.load().expect("the bundled set loads");
        for n in [5, set.full_train] {
            for (&kind, everywhere) in kinds.iter().zip(&mut everywhere) {
                let params = kind.default_params().with_seed(0);
                let evaluation =
                    Evaluation::new(&data, set.protocol(n, None), params.clone(), &[0])
                        .expect("the protocol fits the set");
                // Per subject: ascending leave-one-out scores, genuine and impostor scores.
                let scores: Vec<_> = (0..evaluation.n_subjects())
                    .map(|i| {
                        let tested = evaluation.subject_scores(i, 0).expect("subject scores");
                        let rows = evaluation.rows(i);
                        let train = data.subjects[i]
                            .samples_ms
                            .slice(s![rows.train.clone(), ..]);
                        // The scores the product's security levels take percentiles of, or
                        // (the isolation forest) plain leave-one-out scores.
                        let model = params.fit(train).expect("fits");
                        let mut loo = match model.level_scores(train).expect("scores") {
                            Some(scores) => scores,
                            None => params.leave_one_out(train).expect("fits"),
                        };
                        loo.sort_by(f64::total_cmp);
                        (loo, tested.genuine, tested.impostor)
                    })
                    .collect();
                let by_percentile: Vec<String> = PERCENTILES
                    .iter()
                    .map(|&p| {
                        let (far, frr) = rates(&scores, |loo| percentile(loo, p));
                        format!("p{p}:{far:.3}/{frr:.3}")
                    })
                    .collect();
                let by_spread: Vec<String> = SPREADS
                    .iter()
                    .map(|&k| {
                        let (far, frr) = rates(&scores, |loo| {
                            let m = loo.len() as f64;
                            let mean = loo.iter().sum::<f64>() / m;
                            let var = loo.iter().map(|x| (x - mean).powi(2)).sum::<f64>();
                            mean - k * (var / (m - 1.0)).sqrt()
                        });
                        format!("k{k}:{far:.3}/{frr:.3}")
                    })
                    .collect();
                println!("{} N={n} {kind}: {}", set.id, by_percentile.join(" "));
                println!("{} N={n} {kind}: {}", set.id, by_spread.join(" "));
                let balanced: Vec<f64> = fine_percentiles()
                    .filter(|&p| {
                        let (far, frr) = rates(&scores, |loo| percentile(loo, p));
                        (far - frr).abs() <= BALANCE
                    })
                    .collect();
                everywhere.retain(|p| balanced.contains(p));
                balanced_lines.push(format!(
                    "{} N={n} {kind}: |FAR − FRR| ≤ {BALANCE} at p = {}",
                    set.id,
                    ranges(&balanced)
                ));
            }
        }
    }
    for line in balanced_lines {
        println!("{line}");
    }
    for (kind, everywhere) in kinds.iter().zip(&everywhere) {
        println!(
            "{kind}: |FAR − FRR| ≤ {BALANCE} on every row at p = {}",
            ranges(everywhere)
        );
    }
}
