//! Distance-to-mean detectors of Killourhy & Maxion (2009): Euclidean (squared distance),
//! Manhattan, and scaled Manhattan (each feature divided by its mean absolute deviation).

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use super::{
    Detector, FitError, Registered, Scorer, check_loaded_vec, check_training, column_means,
};

/// Euclidean detector: anomaly = Σ (y − μ)².
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Euclidean;

/// Fitted [`Euclidean`] detector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EuclideanModel {
    mean: Vec<f64>,
}

/// Manhattan detector: anomaly = Σ |y − μ|.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Manhattan;

/// Fitted [`Manhattan`] detector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManhattanModel {
    mean: Vec<f64>,
}

/// Scaled Manhattan detector: anomaly = Σ |y − μ| / a, a = mean |x − μ| per feature.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ManhattanScaled;

/// Fitted [`ManhattanScaled`] detector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManhattanScaledModel {
    mean: Vec<f64>,
    /// Mean absolute deviation per feature, floored (see [`spread_floor`]).
    mean_abs_dev: Vec<f64>,
}

impl Detector for Euclidean {
    type Model = EuclideanModel;
    fn fit(&self, train: ArrayView2<f64>) -> Result<EuclideanModel, FitError> {
        check_training("Euclidean", train, 1)?;
        Ok(EuclideanModel {
            mean: column_means(train),
        })
    }
}

impl Scorer for EuclideanModel {
    fn n_features(&self) -> usize {
        self.mean.len()
    }
    fn score_unchecked_len(&self, x: &[f64]) -> f64 {
        -x.iter()
            .zip(&self.mean)
            .map(|(x, m)| (x - m) * (x - m))
            .sum::<f64>()
    }
}

impl Detector for Manhattan {
    type Model = ManhattanModel;
    fn fit(&self, train: ArrayView2<f64>) -> Result<ManhattanModel, FitError> {
        check_training("Manhattan", train, 1)?;
        Ok(ManhattanModel {
            mean: column_means(train),
        })
    }
}

impl Scorer for ManhattanModel {
    fn n_features(&self) -> usize {
        self.mean.len()
    }
    fn score_unchecked_len(&self, x: &[f64]) -> f64 {
        -x.iter()
            .zip(&self.mean)
            .map(|(x, m)| (x - m).abs())
            .sum::<f64>()
    }
}

impl Detector for ManhattanScaled {
    type Model = ManhattanScaledModel;
    fn fit(&self, train: ArrayView2<f64>) -> Result<ManhattanScaledModel, FitError> {
        check_training("Manhattan (scaled)", train, 1)?;
        let mean = column_means(train);
        let n = train.nrows() as f64;
        let raw: Vec<f64> = train
            .columns()
            .into_iter()
            .zip(&mean)
            .map(|(column, m)| column.iter().map(|x| (x - m).abs()).sum::<f64>() / n)
            .collect();
        let floor = spread_floor(&raw);
        let mean_abs_dev = raw.into_iter().map(|a| a.max(floor)).collect();
        Ok(ManhattanScaledModel { mean, mean_abs_dev })
    }
}

impl Scorer for ManhattanScaledModel {
    fn n_features(&self) -> usize {
        self.mean.len()
    }
    fn score_unchecked_len(&self, x: &[f64]) -> f64 {
        -x.iter()
            .zip(&self.mean)
            .zip(&self.mean_abs_dev)
            .map(|((x, m), a)| (x - m).abs() / a)
            .sum::<f64>()
    }
}

/// Smallest spread a feature may have: a feature that never varied in training (a spread of 0,
/// possible with few samples) would otherwise turn any deviation into an infinite score. It is
/// 1 % of the smallest positive spread, or 1.0 when no feature varied.
pub(crate) fn spread_floor(spreads: &[f64]) -> f64 {
    spreads
        .iter()
        .copied()
        .filter(|a| *a > 0.0)
        .min_by(f64::total_cmp)
        .map_or(1.0, |a| a * 0.01)
}

impl Registered for ManhattanScaled {
    const ID: &'static str = "manhattan-scaled";
    const LABEL: &'static str = "Manhattan (scaled)";
    fn validate(model: &ManhattanScaledModel) -> Result<(), String> {
        let n = model.mean.len();
        check_loaded_vec("mean", &model.mean, n)?;
        check_loaded_vec("mean_abs_dev", &model.mean_abs_dev, n)?;
        if model.mean_abs_dev.iter().any(|a| *a <= 0.0) {
            return Err("mean_abs_dev must be positive".into());
        }
        Ok(())
    }
    fn heap_bytes(model: &ManhattanScaledModel) -> usize {
        super::vec_bytes(&model.mean) + super::vec_bytes(&model.mean_abs_dev)
    }
}

impl Registered for Manhattan {
    const ID: &'static str = "manhattan";
    const LABEL: &'static str = "Manhattan";
    fn validate(model: &ManhattanModel) -> Result<(), String> {
        check_loaded_vec("mean", &model.mean, model.mean.len())
    }
    fn heap_bytes(model: &ManhattanModel) -> usize {
        super::vec_bytes(&model.mean)
    }
}

impl Registered for Euclidean {
    const ID: &'static str = "euclidean";
    const LABEL: &'static str = "Euclidean";
    fn validate(model: &EuclideanModel) -> Result<(), String> {
        check_loaded_vec("mean", &model.mean, model.mean.len())
    }
    fn heap_bytes(model: &EuclideanModel) -> usize {
        super::vec_bytes(&model.mean)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn euclidean_is_negative_squared_distance_to_mean() {
        let m = Euclidean
            .fit(array![[0.0, 0.0], [2.0, 4.0]].view())
            .unwrap();
        assert_eq!(m.score(&[1.0, 2.0]).unwrap(), 0.0);
        assert_eq!(m.score(&[4.0, 6.0]).unwrap(), -(9.0 + 16.0));
    }

    #[test]
    fn manhattan_is_negative_l1_distance() {
        let m = Manhattan
            .fit(array![[0.0, 0.0], [2.0, 4.0]].view())
            .unwrap();
        assert_eq!(m.score(&[4.0, 6.0]).unwrap(), -(3.0 + 4.0));
    }

    #[test]
    fn scaled_manhattan_divides_by_mean_absolute_deviation() {
        // Feature 0: mean 1, MAD 1. Feature 1: mean 2, MAD 2.
        let m = ManhattanScaled
            .fit(array![[0.0, 0.0], [2.0, 4.0]].view())
            .unwrap();
        assert_eq!(m.score(&[4.0, 6.0]).unwrap(), -(3.0 / 1.0 + 4.0 / 2.0));
    }

    #[test]
    fn scaled_manhattan_floors_a_constant_feature() {
        let m = ManhattanScaled
            .fit(array![[5.0, 0.0], [5.0, 4.0]].view())
            .unwrap();
        let score = m.score(&[6.0, 2.0]).unwrap();
        assert!(score.is_finite());
        assert_eq!(score, -(1.0 / 0.02));
    }

    #[test]
    fn loaded_model_with_zero_spread_is_rejected() {
        let m = ManhattanScaledModel {
            mean: vec![1.0],
            mean_abs_dev: vec![0.0],
        };
        assert!(ManhattanScaled::validate(&m).is_err());
    }
}
