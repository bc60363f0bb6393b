//! Enrolment quality: how consistent a sample is with the user's other samples, and whether an
//! enrolment is consistent enough to trust, whichever detector the user has.
//!
//! A sample's **consistency** is the share of its timings that lie within [`TYPICAL_Z`] spreads
//! of the other samples' median, the spread being their standard deviation shrunk towards a
//! prior of 10 % of the median plus 10 ms (the tempo-tolerant detector's own template,
//! [`robust_template`]), so that a few samples that happen to agree do not make every later
//! one look odd. A sample below
//! [`MIN_CONSISTENCY`] is flagged; an enrolment is consistent when none of its samples is, each
//! judged against the others. Both constants were chosen on all three bundled data sets (a test
//! checks the rates they give on each).

use ndarray::{ArrayView2, Axis};
use serde::Serialize;

use crate::detect::median_without;
use crate::detect::tempo::{robust_template, shrunk_spread};

/// A timing is typical when it lies within this many spreads of the others' median.
pub const TYPICAL_Z: f64 = 3.0;

/// A sample with a smaller share of typical timings is flagged as inconsistent.
pub const MIN_CONSISTENCY: f64 = 0.7;

/// Fewest other samples a consistency is computed against.
pub const MIN_OTHERS: usize = 2;

/// Samples (the newest ones) an enrolment's quality looks at.
pub const QUALITY_WINDOW: usize = 50;

/// A new sample's quality, and its enrolment's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quality {
    /// Share of the sample's timings typical of the user's other samples (0–1; higher is more
    /// consistent).
    pub consistency: f64,
    /// Whether the sample is consistent enough (`consistency ≥ MIN_CONSISTENCY`).
    pub consistent: bool,
    /// Whether every sample of the enrolment is consistent with the others: when false, the
    /// operator or app should ask for more samples (or retype the flagged ones).
    pub enrolment_consistent: bool,
    /// The flagged samples, numbered from 1 in the user's store order.
    pub inconsistent_samples: Vec<usize>,
}

/// Share of `x`'s timings typical of `others` (rows = samples, at least one).
pub fn consistency(others: ArrayView2<f64>, x: &[f64]) -> f64 {
    let (centre, spread) = robust_template(others);
    let typical = x
        .iter()
        .zip(centre.iter().zip(&spread))
        .filter(|(x, (centre, spread))| typical(**x, **centre, **spread))
        .count();
    typical as f64 / x.len().max(1) as f64
}

/// Whether a timing lies within [`TYPICAL_Z`] spreads of the centre.
fn typical(x: f64, centre: f64, spread: f64) -> bool {
    (x - centre).abs() <= TYPICAL_Z * spread
}

/// The quality of the last row of `samples` (a user's samples, oldest first, the new one last)
/// and of the enrolment of the newest [`QUALITY_WINDOW`]; `None` with fewer than
/// [`MIN_OTHERS`] other samples.
pub fn assess(samples: ArrayView2<f64>) -> Option<Quality> {
    let total = samples.nrows();
    let first = total.saturating_sub(QUALITY_WINDOW);
    let window = samples.slice(ndarray::s![first.., ..]);
    if window.nrows() <= MIN_OTHERS {
        return None;
    }
    // Each sample of the window against all the others: the window is no larger than the
    // others `each_consistency` would take, so this is its answer, computed faster.
    let judged = leave_one_out(window);
    let inconsistent_samples: Vec<usize> = judged
        .iter()
        .enumerate()
        .filter(|(_, c)| **c < MIN_CONSISTENCY)
        .map(|(i, _)| first + i + 1)
        .collect();
    let consistency = *judged.last().expect("the window holds the new sample");
    Some(Quality {
        consistency,
        consistent: consistency >= MIN_CONSISTENCY,
        enrolment_consistent: inconsistent_samples.is_empty(),
        inconsistent_samples,
    })
}

/// Each row's [`consistency`] with all the other rows (at least two rows), with each column
/// sorted once rather than once per row: on /train's path, 50 samples of 31 timings took
/// 1.39 ms judged one by one, 0.17 ms so (`cargo bench --bench eval -- enrolment_quality`).
fn leave_one_out(rows: ArrayView2<f64>) -> Vec<f64> {
    let n = rows.nrows();
    let others = (n - 1) as f64;
    let mut typical_count = vec![0usize; n];
    for column in rows.columns() {
        let values = column.to_vec();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
        let sorted: Vec<f64> = order.iter().map(|&k| values[k]).collect();
        for (rank, &i) in order.iter().enumerate() {
            let centre = median_without(&sorted, rank);
            // The others nearest first, as `each_consistency` takes them: the sums must add in
            // the same order to round alike.
            let rest = || {
                (1..n)
                    .flat_map(move |d| [i.checked_sub(d), Some(i + d).filter(|&k| k < n)])
                    .flatten()
                    .map(|k| values[k])
            };
            let mean = rest().sum::<f64>() / others;
            let squares: f64 = rest().map(|x| (x - mean) * (x - mean)).sum();
            if typical(values[i], centre, shrunk_spread(centre, squares, others)) {
                typical_count[i] += 1;
            }
        }
    }
    let columns = rows.ncols().max(1) as f64;
    typical_count
        .into_iter()
        .map(|t| t as f64 / columns)
        .collect()
}

/// Each of a user's samples' consistency with the samples in use (`active`, indices into
/// `samples`) other than itself, the [`QUALITY_WINDOW`] nearest in store order; `None` where
/// fewer than [`MIN_OTHERS`] others are in use. Excluded samples are judged too, so an
/// operator can see whether one deserves restoring.
pub fn each_consistency(samples: ArrayView2<f64>, active: &[usize]) -> Vec<Option<f64>> {
    (0..samples.nrows())
        .map(|i| {
            let mut others: Vec<usize> = active.iter().copied().filter(|&k| k != i).collect();
            others.sort_by_key(|&k| k.abs_diff(i));
            others.truncate(QUALITY_WINDOW);
            (others.len() >= MIN_OTHERS).then(|| {
                let rows = samples.select(Axis(0), &others);
                consistency(rows.view(), &samples.row(i).to_vec())
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn a_sample_like_the_others_is_consistent_and_an_odd_one_is_flagged() {
        let others = array![
            [100.0, 200.0, 100.0],
            [110.0, 210.0, 100.0],
            [90.0, 190.0, 100.0]
        ];
        assert_eq!(consistency(others.view(), &[105.0, 205.0, 100.0]), 1.0);
        // Holds 3× as long and a flight of a second: 1 of 3 timings typical.
        let odd = consistency(others.view(), &[300.0, 1000.0, 100.0]);
        assert!((odd - 1.0 / 3.0).abs() < 1e-12, "{odd}");
    }

    #[test]
    fn each_sample_is_judged_against_the_others_in_use() {
        let rows = array![
            [100.0, 200.0],
            [110.0, 210.0],
            [400.0, 900.0],
            [90.0, 190.0],
            [105.0, 195.0]
        ];
        let all: Vec<usize> = (0..5).collect();
        let judged = each_consistency(rows.view(), &all);
        assert_eq!(judged[2], Some(0.0));
        assert!(
            judged
                .iter()
                .enumerate()
                .all(|(i, c)| i == 2 || *c == Some(1.0))
        );
        // Sample 3 excluded: still judged, against the four in use; with one sample in use,
        // none is judged.
        let judged = each_consistency(rows.view(), &[0, 1, 3, 4]);
        assert_eq!(judged[2], Some(0.0));
        assert_eq!(each_consistency(rows.view(), &[0]), vec![None; 5]);
    }

    #[test]
    fn assessment_needs_two_others_and_numbers_the_flagged_samples() {
        let rows = array![[100.0, 200.0], [110.0, 210.0]];
        assert_eq!(assess(rows.view()), None);
        let rows = array![
            [100.0, 200.0],
            [110.0, 210.0],
            [90.0, 190.0],
            [400.0, 900.0]
        ];
        let q = assess(rows.view()).unwrap();
        assert_eq!(q.consistency, 0.0);
        assert!(!q.consistent && !q.enrolment_consistent);
        assert_eq!(q.inconsistent_samples, [4]);
        let rows = array![
            [100.0, 200.0],
            [110.0, 210.0],
            [90.0, 190.0],
            [105.0, 195.0]
        ];
        let q = assess(rows.view()).unwrap();
        assert!(q.consistent && q.enrolment_consistent, "{q:?}");
    }

    /// The window's fast leave-one-out judging agrees with judging each sample against the
    /// others one by one, on every bundled set's first 50 repetitions (or as many as a subject
    /// has) and on small windows.
    #[test]
    fn leave_one_out_agrees_with_judging_one_by_one() {
        let mut compared = 0;
        for set in crate::eval::BUNDLED {
            let data = set.load().unwrap();
            for subject in &data.subjects {
                let reps = subject.samples_ms.nrows();
                for take in [3, 4, 5, 50.min(reps)] {
                    let rows = subject.samples_ms.slice(ndarray::s![0..take, ..]);
                    let every: Vec<usize> = (0..take).collect();
                    let one_by_one: Vec<f64> = each_consistency(rows, &every)
                        .into_iter()
                        .map(Option::unwrap)
                        .collect();
                    let fast = leave_one_out(rows);
                    assert_eq!(fast.len(), one_by_one.len());
                    for (a, b) in fast.iter().zip(&one_by_one) {
                        assert!(
                            (a - b).abs() < 1e-12,
                            "{}: {fast:?} vs {one_by_one:?}",
                            set.id
                        );
                    }
                    compared += take;
                }
            }
        }
        assert!(compared > 5_000, "{compared}");
        // A timing exactly on the edge of its band (found by search): the others' sums must
        // round as `each_consistency`'s do, or the verdict flips.
        let edge = array![[57.1], [347.3], [492.4922984685422], [114.0]];
        let one_by_one: Vec<f64> = each_consistency(edge.view(), &[0, 1, 2, 3])
            .into_iter()
            .map(Option::unwrap)
            .collect();
        assert_eq!(leave_one_out(edge.view()), one_by_one);
        assert_eq!(one_by_one, [1.0; 4]);
    }

    /// The constants' rates on every bundled set, judging each of a subject's first 5
    /// repetitions against the other 4: genuine samples are rarely flagged, another person's
    /// typing of the same phrase often is. Measured: genuine flagged 1.6 % (CMU), 0.7 %
    /// (mobile), 0 % (keypad); another person's sample flagged 47 %, 43 %, 57 %.
    #[test]
    fn the_constants_flag_few_genuine_samples_and_many_of_another_person_on_every_set() {
        for set in crate::eval::BUNDLED {
            let data = set.load().unwrap();
            let (mut genuine_flagged, mut other_flagged) = (0, 0);
            for (k, subject) in data.subjects.iter().enumerate() {
                let five = subject.samples_ms.slice(ndarray::s![0..5, ..]);
                for i in 0..5 {
                    let rest: Vec<usize> = (0..5).filter(|&j| j != i).collect();
                    let others = five.select(Axis(0), &rest);
                    if consistency(others.view(), &five.row(i).to_vec()) < MIN_CONSISTENCY {
                        genuine_flagged += 1;
                    }
                }
                let other = &data.subjects[(k + 1) % data.subjects.len()];
                let four = subject.samples_ms.slice(ndarray::s![0..4, ..]);
                if consistency(four, &other.samples_ms.row(0).to_vec()) < MIN_CONSISTENCY {
                    other_flagged += 1;
                }
            }
            let n = data.subjects.len() as f64;
            let genuine_rate = f64::from(genuine_flagged) / (5.0 * n);
            let other_rate = f64::from(other_flagged) / n;
            assert!(
                genuine_rate <= 0.02,
                "{}: genuine flagged {genuine_rate}",
                set.id
            );
            assert!(
                other_rate >= 0.4,
                "{}: another person flagged {other_rate}",
                set.id
            );
        }
    }
}
