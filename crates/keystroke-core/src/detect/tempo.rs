//! Tempo-tolerant Manhattan: a distance detector built to work from a handful of enrolment
//! samples, on the product's feature layout (`H, DD, UD` per key, see [`crate::features`]).
//!
//! Three choices, each measured on the CMU benchmark (`eval --detector tempo-tolerant`):
//! - **Robust template.** The centre is the per-feature median; the spread is the standard
//!   deviation shrunk towards a prior of 10 % of the centre plus 10 ms, weighted like one extra
//!   sample, so five samples that happen to agree do not make a feature infinitely strict.
//! - **Practice makes flights faster.** Holds count both ways, but a down-down flight only
//!   counts fully when it is *slower* than the template; a faster one costs a tenth. Users speed
//!   up as a phrase becomes familiar, while someone typing another person's phrase is new to it.
//!   Up-down times (`DD − H`) are left out: they repeat what the other two say.
//! - **Square-root distances.** Each feature adds `√z`, so one odd flight (a hesitation) cannot
//!   outweigh a dozen features that match.
//!
//! Score = −Σ √(z), z = |x − c| / s for holds and (max(x − c, 0) + 0.1 · max(c − x, 0)) / s for
//! flights. Its thresholds, like every non-forest detector's, are per user, percentiles of
//! leave-one-out scores of the enrolment samples ([`super::FittedDetector::thresholds`]).

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use super::left_out::{medians_without_each_row, moments_without_each_row, must_refit};
use super::params::refit_each_left_out;
use super::{
    Detector, FitError, Registered, Scorer, check_loaded_vec, check_training, numpy_percentile,
};
use crate::features::{FeatureKind, feature_kind};

/// Weight of a flight that is faster than the template, relative to a slower one.
pub const FASTER_FLIGHT_WEIGHT: f64 = 0.1;
/// The spread prior: this share of the feature's centre…
pub const PRIOR_RELATIVE: f64 = 0.1;
/// …plus this many milliseconds.
pub const PRIOR_MS: f64 = 10.0;

/// The tempo-tolerant Manhattan detector.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TempoTolerant;

/// Fitted [`TempoTolerant`] detector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TempoTolerantModel {
    /// Per-feature median.
    centre: Vec<f64>,
    /// Per-feature shrunk spread (positive).
    spread: Vec<f64>,
}

impl Detector for TempoTolerant {
    type Model = TempoTolerantModel;
    fn fit(&self, train: ArrayView2<f64>) -> Result<TempoTolerantModel, FitError> {
        check_training("tempo-tolerant Manhattan", train, 1)?;
        let (centre, spread) = robust_template(train);
        Ok(TempoTolerantModel { centre, spread })
    }
}

/// Per feature of `rows` (samples, at least one): the median, and the standard deviation
/// shrunk towards a prior of [`PRIOR_RELATIVE`] of the median plus [`PRIOR_MS`] (one pseudo
/// sample), so that a few samples that happen to agree do not make a narrow template. The
/// enrolment quality check (`auth::quality`) judges samples against the same template.
pub fn robust_template(rows: ArrayView2<f64>) -> (Vec<f64>, Vec<f64>) {
    let n = rows.nrows() as f64;
    rows.columns()
        .into_iter()
        .map(|column| {
            let mut values = column.to_vec();
            let centre = numpy_percentile(&mut values, 50.0);
            let mean = column.sum() / n;
            let squares: f64 = column.iter().map(|x| (x - mean) * (x - mean)).sum();
            (centre, shrunk_spread(centre, squares, n))
        })
        .unzip()
}

/// The spread of `n` values with median `centre` and squared deviations from their mean
/// summing to `squares`, shrunk towards the prior (see [`robust_template`]).
pub(crate) fn shrunk_spread(centre: f64, squares: f64, n: f64) -> f64 {
    let prior = PRIOR_RELATIVE * centre.abs() + PRIOR_MS;
    // ((n − 1)·sd² + 1·prior²) / (n − 1 + 1), with (n − 1)·sd² = Σ (x − mean)².
    ((squares + prior * prior) / n).sqrt()
}

impl Scorer for TempoTolerantModel {
    fn n_features(&self) -> usize {
        self.centre.len()
    }
    fn score_unchecked_len(&self, x: &[f64]) -> f64 {
        -x.iter()
            .zip(&self.centre)
            .zip(&self.spread)
            .enumerate()
            .map(|(i, ((x, c), s))| {
                let deviation = match feature_kind(i).0 {
                    FeatureKind::Hold => (x - c).abs(),
                    FeatureKind::DownDown => {
                        (x - c).max(0.0) + FASTER_FLIGHT_WEIGHT * (c - x).max(0.0)
                    }
                    FeatureKind::UpDown => 0.0,
                };
                (deviation / s).sqrt()
            })
            .sum::<f64>()
    }
}

impl Registered for TempoTolerant {
    const ID: &'static str = "tempo-tolerant";
    const LABEL: &'static str = "Tempo-tolerant Manhattan";
    fn validate(model: &TempoTolerantModel) -> Result<(), String> {
        let n = model.centre.len();
        check_loaded_vec("centre", &model.centre, n)?;
        check_loaded_vec("spread", &model.spread, n)?;
        if model.spread.iter().any(|s| *s <= 0.0) {
            return Err("spread must be positive".into());
        }
        Ok(())
    }
    fn heap_bytes(model: &TempoTolerantModel) -> usize {
        super::vec_bytes(&model.centre) + super::vec_bytes(&model.spread)
    }
    /// The medians and spreads of every row but one without refitting (`detect/left_out.rs`).
    fn leave_one_out_scores(&self, train: ArrayView2<f64>) -> Result<Vec<f64>, FitError> {
        if must_refit(Self::LABEL, train) {
            return refit_each_left_out(self, train);
        }
        let n = train.nrows();
        let medians = medians_without_each_row(train);
        let (_, squares) = moments_without_each_row(train);
        let others = (n - 1) as f64;
        Ok((0..n)
            .map(|i| {
                let centre = medians.row(i).to_vec();
                let spread = centre
                    .iter()
                    .zip(squares.row(i))
                    .map(|(&c, &sq)| shrunk_spread(c, sq, others))
                    .collect();
                TempoTolerantModel { centre, spread }.score_unchecked_len(&train.row(i).to_vec())
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    /// Two keys: `H1, DD1, UD1, H2`.
    fn rows() -> ndarray::Array2<f64> {
        array![
            [100.0, 200.0, 100.0, 90.0],
            [110.0, 210.0, 100.0, 80.0],
            [90.0, 190.0, 100.0, 100.0],
        ]
    }

    #[test]
    fn fits_the_median_and_a_shrunk_spread() {
        let model = TempoTolerant.fit(rows().view()).unwrap();
        assert_eq!(model.centre, [100.0, 200.0, 100.0, 90.0]);
        // sd² · 2 = 200; prior = 0.1 · 100 + 10 = 20 → √((200 + 400) / 3).
        assert!((model.spread[0] - (600.0_f64 / 3.0).sqrt()).abs() < 1e-12);
        // A feature that never varied still has the prior's spread: 0.1 · 100 + 10 = 20 / √3.
        assert!((model.spread[2] - (400.0_f64 / 3.0).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn slower_flights_cost_ten_times_faster_ones_and_up_down_is_ignored() {
        let model = TempoTolerant.fit(rows().view()).unwrap();
        let centre = [100.0, 200.0, 100.0, 90.0];
        assert_eq!(model.score(&centre).unwrap(), 0.0);
        let s = model.spread[1];
        let slower = model.score(&[100.0, 240.0, 100.0, 90.0]).unwrap();
        let faster = model.score(&[100.0, 160.0, 100.0, 90.0]).unwrap();
        assert!((slower + (40.0 / s).sqrt()).abs() < 1e-12);
        assert!((faster + (4.0 / s).sqrt()).abs() < 1e-12);
        // Holds count both ways.
        let longer = model.score(&[130.0, 200.0, 100.0, 90.0]).unwrap();
        let shorter = model.score(&[70.0, 200.0, 100.0, 90.0]).unwrap();
        assert!((longer - shorter).abs() < 1e-12 && longer < 0.0);
        assert_eq!(model.score(&[100.0, 200.0, 5000.0, 90.0]).unwrap(), 0.0);
    }

    #[test]
    fn leave_one_out_equals_refitting_on_every_bundled_subject() {
        use crate::detect::left_out::tests::bundled_subjects;
        let subjects = bundled_subjects(40);
        assert!(subjects.len() > 100, "the bundled sets load");
        for train in subjects.iter().chain([&rows()]) {
            let fast = TempoTolerant.leave_one_out_scores(train.view()).unwrap();
            let slow = refit_each_left_out(&TempoTolerant, train.view()).unwrap();
            // To the last bit: thresholds and the report in docs/ must not move.
            assert_eq!(fast, slow);
        }
    }
}
