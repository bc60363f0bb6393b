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
//!
//! Last, what impostor data would buy: every second other subject's impostor samples serve as
//! a cohort, and each subject's threshold is where the cohort's acceptance rate meets the
//! rejection rate of a normal distribution fitted to its held-out scores; FAR is measured on
//! the other subjects only, beside the 12.5th percentile's on the same subjects.

use keystroke_workbench::detect::{DetectorKind, Scorer};
use keystroke_workbench::eval::{BUNDLED, Cohort, Evaluation};
use ndarray::s;

const PERCENTILES: [f64; 11] = [
    5.0, 7.5, 10.0, 12.5, 15.0, 17.5, 20.0, 25.0, 30.0, 40.0, 50.0,
];
const SPREADS: [f64; 6] = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0];

/// Impostor samples per other subject (the protocol's `--impostor-reps` default).
const IMPOSTOR_REPS: usize = 5;

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

/// One subject's scores under its model.
struct Scored {
    /// Held-out scores of the training samples, ascending.
    loo: Vec<f64>,
    genuine: Vec<f64>,
    /// Every other subject's impostor samples.
    impostor: Vec<f64>,
    /// The impostor samples of every second other subject (the cohort)…
    cohort: Vec<f64>,
    /// …and of the rest, which test a threshold learnt from the cohort.
    apart: Vec<f64>,
}

/// The share of `scores` rejected at threshold `t` (below it).
fn below(scores: &[f64], t: f64) -> f64 {
    scores.iter().filter(|&&x| x < t).count() as f64 / scores.len() as f64
}

/// Mean (FAR, FRR) over subjects at the threshold `rule` gives each, FAR over `impostors`.
fn rates_on(
    scores: &[Scored],
    impostors: fn(&Scored) -> &[f64],
    rule: impl Fn(&Scored) -> f64,
) -> (f64, f64) {
    let (mut far, mut frr) = (0.0, 0.0);
    for subject in scores {
        let t = rule(subject);
        frr += below(&subject.genuine, t);
        far += 1.0 - below(impostors(subject), t);
    }
    let n = scores.len() as f64;
    (far / n, frr / n)
}

/// Mean (FAR, FRR) over subjects, for each threshold the subject's `rule` gives from its
/// held-out scores.
fn rates(scores: &[Scored], rule: impl Fn(&[f64]) -> f64) -> (f64, f64) {
    rates_on(scores, |s| &s.impostor, |s| rule(&s.loo))
}

/// The threshold where the cohort's acceptance rate meets the rejection rate of a normal
/// distribution fitted to the held-out scores (the candidates: every cohort and held-out score).
fn cohort_threshold(subject: &Scored) -> f64 {
    let loo = &subject.loo;
    let m = loo.len() as f64;
    let mean = loo.iter().sum::<f64>() / m;
    let sd = (loo.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (m - 1.0)).sqrt();
    let gap = |t: f64| {
        let frr = normal_cdf((t - mean) / sd.max(1e-9));
        (1.0 - below(&subject.cohort, t) - frr).abs()
    };
    subject
        .cohort
        .iter()
        .chain(loo)
        .copied()
        .min_by(|a, b| gap(*a).total_cmp(&gap(*b)))
        .expect("scores")
}

/// The standard normal distribution function (Abramowitz & Stegun 7.1.26, error < 1.5e-7).
fn normal_cdf(z: f64) -> f64 {
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-x * x).exp();
    0.5 * (1.0 + erf.copysign(z))
}

fn main() {
    let kinds: Vec<DetectorKind> = std::env::args()
        .skip(1)
        .map(|d| d.parse().unwrap_or_else(|e| panic!("{e}")))
        .collect();
    // Per detector: the fine percentiles balanced within BALANCE on every row so far.
    let mut everywhere: Vec<Vec<f64>> = vec![fine_percentiles().collect(); kinds.len()];
    let mut balanced_lines = Vec::new();
    let mut cohort_lines = Vec::new();
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
                        let (mut cohort, mut apart) = (Vec::new(), Vec::new());
                        let others = data.subjects.iter().enumerate().filter(|(j, _)| *j != i);
                        for (j, other) in others {
                            let reps = other.samples_ms.slice(s![..IMPOSTOR_REPS, ..]);
                            let scored = model.score_rows(reps).expect("scores");
                            if Cohort::Half.holds(i, j) {
                                &mut cohort
                            } else {
                                &mut apart
                            }
                            .extend(scored);
                        }
                        Scored {
                            loo,
                            genuine: tested.genuine,
                            impostor: tested.impostor,
                            cohort,
                            apart,
                        }
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
                let (far, frr) = rates_on(&scores, |s| &s.apart, |s| percentile(&s.loo, 12.5));
                let (cohort_far, cohort_frr) = rates_on(&scores, |s| &s.apart, cohort_threshold);
                cohort_lines.push(format!(
                    "{} N={n} {kind}: p12.5 {far:.3}/{frr:.3} (|{:.3}|), cohort {cohort_far:.3}/{cohort_frr:.3} (|{:.3}|)",
                    set.id,
                    (far - frr).abs(),
                    (cohort_far - cohort_frr).abs()
                ));
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
    println!(
        "with impostor data: every second other subject's first {IMPOSTOR_REPS} samples as a \
         cohort, FAR/FRR on the rest"
    );
    for line in cohort_lines {
        println!("{line}");
    }
}
