//! Outlier-count (z-score) detector of Killourhy & Maxion (2009): the anomaly score is the number
//! of features whose z-score |y − μ| / sd exceeds 1.96.

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use super::left_out::{moments_without_each_row, must_refit};
use super::params::refit_each_left_out;
use super::{
    Detector, FitError, Registered, Scorer, check_loaded_vec, check_training, column_means,
};

/// z-score beyond which a feature counts as an outlier.
pub const Z_CUTOFF: f64 = 1.96;

/// Outlier-count detector.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutlierCount;

/// Fitted [`OutlierCount`] detector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutlierCountModel {
    mean: Vec<f64>,
    /// Sample standard deviation (n − 1) per feature; 0 for a feature that never varied, where
    /// any deviation counts as an outlier.
    sd: Vec<f64>,
}

impl Detector for OutlierCount {
    type Model = OutlierCountModel;
    fn fit(&self, train: ArrayView2<f64>) -> Result<OutlierCountModel, FitError> {
        check_training("Outlier count", train, Self::MIN_ROWS)?;
        let mean = column_means(train);
        let n = train.nrows() as f64;
        let sd = train
            .columns()
            .into_iter()
            .zip(&mean)
            .map(|(column, m)| {
                (column.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0)).sqrt()
            })
            .collect();
        Ok(OutlierCountModel { mean, sd })
    }
}

impl Scorer for OutlierCountModel {
    fn n_features(&self) -> usize {
        self.mean.len()
    }
    fn score_unchecked_len(&self, x: &[f64]) -> f64 {
        let outliers = x
            .iter()
            .zip(&self.mean)
            .zip(&self.sd)
            .filter(|((x, m), sd)| {
                let deviation = (*x - *m).abs();
                // sd = 0: any deviation is an outlier, none is not (avoids 0/0).
                if **sd > 0.0 {
                    deviation / **sd > Z_CUTOFF
                } else {
                    deviation > 0.0
                }
            })
            .count();
        -(outliers as f64)
    }
}

impl Registered for OutlierCount {
    const ID: &'static str = "outlier-count";
    const LABEL: &'static str = "Outlier count (z-score)";
    const MIN_ROWS: usize = 2;
    fn validate(model: &OutlierCountModel) -> Result<(), String> {
        let n = model.mean.len();
        check_loaded_vec("mean", &model.mean, n)?;
        check_loaded_vec("sd", &model.sd, n)?;
        if model.sd.iter().any(|s| *s < 0.0) {
            return Err("sd must not be negative".into());
        }
        Ok(())
    }
    fn heap_bytes(model: &OutlierCountModel) -> usize {
        super::vec_bytes(&model.mean) + super::vec_bytes(&model.sd)
    }
    /// The means and deviations of every row but one without refitting (`detect/left_out.rs`).
    fn leave_one_out_scores(&self, train: ArrayView2<f64>) -> Result<Vec<f64>, FitError> {
        if must_refit(Self::LABEL, train) {
            return refit_each_left_out(self, train);
        }
        let n = train.nrows();
        let (means, squares) = moments_without_each_row(train);
        let divisor = (n - 2) as f64;
        Ok((0..n)
            .map(|i| {
                let model = OutlierCountModel {
                    mean: means.row(i).to_vec(),
                    sd: squares
                        .row(i)
                        .iter()
                        .map(|sq| (sq / divisor).sqrt())
                        .collect(),
                };
                model.score_unchecked_len(&train.row(i).to_vec())
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn counts_features_beyond_1_96_sd() {
        // Feature 0: mean 0, sd √2. Feature 1: mean 10, sd √2.
        let m = OutlierCount
            .fit(array![[-1.0, 9.0], [1.0, 11.0]].view())
            .unwrap();
        assert_eq!(m.score(&[0.0, 10.0]).unwrap(), 0.0);
        assert_eq!(m.score(&[2.0, 10.0]).unwrap(), 0.0); // z = 1.414
        assert_eq!(m.score(&[3.0, 10.0]).unwrap(), -1.0); // z = 2.12
        assert_eq!(m.score(&[3.0, 13.0]).unwrap(), -2.0);
    }

    #[test]
    fn constant_feature_flags_any_deviation() {
        let m = OutlierCount
            .fit(array![[5.0, 0.0], [5.0, 1.0]].view())
            .unwrap();
        assert_eq!(m.score(&[5.0, 0.5]).unwrap(), 0.0);
        assert_eq!(m.score(&[5.1, 0.5]).unwrap(), -1.0);
    }

    #[test]
    fn leave_one_out_equals_refitting_on_every_bundled_subject() {
        use crate::detect::left_out::tests::bundled_subjects;
        let subjects = bundled_subjects(40);
        assert!(subjects.len() > 100, "the bundled sets load");
        let constant = array![[5.0, 0.0], [5.0, 1.0], [5.0, 3.0], [5.0, 2.0]];
        for train in subjects.iter().chain([&constant]) {
            let fast = OutlierCount.leave_one_out_scores(train.view()).unwrap();
            assert_eq!(
                fast,
                refit_each_left_out(&OutlierCount, train.view()).unwrap()
            );
        }
        // Two rows: each refit would have one, too few; the error is the refit's.
        let two = array![[1.0, 2.0], [3.0, 4.0]];
        assert!(matches!(
            OutlierCount.leave_one_out_scores(two.view()),
            Err(FitError::TooFewSamples { got: 1, .. })
        ));
    }
}
