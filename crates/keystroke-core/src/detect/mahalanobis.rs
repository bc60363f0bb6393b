//! Mahalanobis and nearest-neighbour (Mahalanobis) detectors of Killourhy & Maxion (2009).
//!
//! Both use S⁺, the pseudo-inverse of the training covariance (n − 1), with singular values at
//! or below √ε · σ_max dropped, as R's `MASS::ginv` does. S is symmetric positive semi-definite,
//! so its singular values are its eigenvalues: with S = Σ λ_k u_k u_kᵀ, the quadratic form is
//! zᵀ S⁺ z = Σ_k (u_kᵀ z)² / λ_k = ‖W z‖², W's rows being u_k / √λ_k over the kept k. The fitted
//! models store W, so scoring is a projection and a sum of squares.

use nalgebra::{DMatrix, SymmetricEigen};
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use super::{
    Detector, FitError, Registered, Scorer, check_loaded_vec, check_training, column_means,
};

/// Mahalanobis detector: anomaly = (y − μ)ᵀ S⁺ (y − μ).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mahalanobis;

/// Fitted [`Mahalanobis`] detector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MahalanobisModel {
    mean: Vec<f64>,
    /// W, one row per kept eigenvector.
    projection: Vec<Vec<f64>>,
}

/// Nearest-neighbour (Mahalanobis) detector: anomaly = min over training rows x of
/// (y − x)ᵀ S⁺ (y − x).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NearestNeighbor;

/// Fitted [`NearestNeighbor`] detector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NearestNeighborModel {
    n_features: usize,
    /// W, one row per kept eigenvector.
    projection: Vec<Vec<f64>>,
    /// The training rows projected by W.
    projected_train: Vec<Vec<f64>>,
}

/// W for the training rows: rows u_k / √λ_k for the eigenvalues kept by `MASS::ginv`'s rule.
fn whitening(train: ArrayView2<f64>, mean: &[f64]) -> Vec<Vec<f64>> {
    let (n, d) = train.dim();
    let centred = DMatrix::from_fn(n, d, |r, c| train[(r, c)] - mean[c]);
    let covariance = centred.transpose() * &centred / (n as f64 - 1.0);
    let eigen = SymmetricEigen::new(covariance);
    let largest = eigen
        .eigenvalues
        .iter()
        .fold(0.0_f64, |m, l| m.max(l.abs()));
    let tolerance = f64::EPSILON.sqrt() * largest;
    eigen
        .eigenvalues
        .iter()
        .enumerate()
        .filter(|&(_, &lambda)| lambda > tolerance && lambda > 0.0)
        .map(|(k, &lambda)| {
            eigen
                .eigenvectors
                .column(k)
                .iter()
                .map(|u| u / lambda.sqrt())
                .collect()
        })
        .collect()
}

fn project(projection: &[Vec<f64>], z: impl Fn(usize) -> f64) -> Vec<f64> {
    projection
        .iter()
        .map(|w| w.iter().enumerate().map(|(j, w)| w * z(j)).sum())
        .collect()
}

impl Detector for Mahalanobis {
    type Model = MahalanobisModel;
    fn fit(&self, train: ArrayView2<f64>) -> Result<MahalanobisModel, FitError> {
        check_training("Mahalanobis", train, <Mahalanobis as Registered>::MIN_ROWS)?;
        let mean = column_means(train);
        let projection = whitening(train, &mean);
        Ok(MahalanobisModel { mean, projection })
    }
}

impl Scorer for MahalanobisModel {
    fn n_features(&self) -> usize {
        self.mean.len()
    }
    fn score_unchecked_len(&self, x: &[f64]) -> f64 {
        -project(&self.projection, |j| x[j] - self.mean[j])
            .iter()
            .map(|p| p * p)
            .sum::<f64>()
    }
}

impl Detector for NearestNeighbor {
    type Model = NearestNeighborModel;
    fn fit(&self, train: ArrayView2<f64>) -> Result<NearestNeighborModel, FitError> {
        check_training(
            "Nearest neighbour (Mahalanobis)",
            train,
            <NearestNeighbor as Registered>::MIN_ROWS,
        )?;
        let projection = whitening(train, &column_means(train));
        let projected_train = train
            .rows()
            .into_iter()
            .map(|row| project(&projection, |j| row[j]))
            .collect();
        Ok(NearestNeighborModel {
            n_features: train.ncols(),
            projection,
            projected_train,
        })
    }
}

impl Scorer for NearestNeighborModel {
    fn n_features(&self) -> usize {
        self.n_features
    }
    fn score_unchecked_len(&self, x: &[f64]) -> f64 {
        let y = project(&self.projection, |j| x[j]);
        let nearest = self
            .projected_train
            .iter()
            .map(|p| {
                p.iter()
                    .zip(&y)
                    .map(|(p, y)| (p - y) * (p - y))
                    .sum::<f64>()
            })
            .fold(f64::INFINITY, f64::min);
        -nearest
    }
}

fn check_projection(projection: &[Vec<f64>], d: usize) -> Result<(), String> {
    if projection.len() > d {
        return Err(format!(
            "projection has {} rows, at most {d} expected",
            projection.len()
        ));
    }
    projection
        .iter()
        .enumerate()
        .try_for_each(|(k, w)| check_loaded_vec(&format!("projection[{k}]"), w, d))
}

impl Registered for NearestNeighbor {
    const ID: &'static str = "nn-mahalanobis";
    const LABEL: &'static str = "Nearest neighbour (Mahalanobis)";
    const MIN_ROWS: usize = 2;
    fn validate(model: &NearestNeighborModel) -> Result<(), String> {
        if model.n_features == 0 {
            return Err("n_features must be at least 1".into());
        }
        check_projection(&model.projection, model.n_features)?;
        if model.projected_train.is_empty() {
            return Err("projected_train is empty".into());
        }
        // Rows are empty when every training row was the same (nothing to project onto).
        let k = model.projection.len();
        match model
            .projected_train
            .iter()
            .position(|p| p.len() != k || p.iter().any(|v| !v.is_finite()))
        {
            Some(i) => Err(format!("projected_train[{i}] must have {k} finite values")),
            None => Ok(()),
        }
    }
    fn heap_bytes(model: &NearestNeighborModel) -> usize {
        model
            .projection
            .iter()
            .chain(&model.projected_train)
            .map(|r| super::vec_bytes(r))
            .sum()
    }
}

impl Registered for Mahalanobis {
    const ID: &'static str = "mahalanobis";
    const LABEL: &'static str = "Mahalanobis";
    const MIN_ROWS: usize = 2;
    fn validate(model: &MahalanobisModel) -> Result<(), String> {
        check_loaded_vec("mean", &model.mean, model.mean.len())?;
        check_projection(&model.projection, model.mean.len())
    }
    fn heap_bytes(model: &MahalanobisModel) -> usize {
        super::vec_bytes(&model.mean)
            + model
                .projection
                .iter()
                .map(|r| super::vec_bytes(r))
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn mahalanobis_matches_inverse_covariance_on_a_full_rank_case() {
        // Two uncorrelated features with variances 1 and 4 (sample covariance, n − 1).
        let x = array![[-1.0, -2.0], [1.0, -2.0], [-1.0, 2.0], [1.0, 2.0]];
        // var0 = 4/3, var1 = 16/3.
        let m = Mahalanobis.fit(x.view()).unwrap();
        let expected = -(1.0 / (4.0 / 3.0) + 4.0 / (16.0 / 3.0));
        assert!((m.score(&[1.0, 2.0]).unwrap() - expected).abs() < 1e-12);
    }

    #[test]
    fn mahalanobis_uses_pseudo_inverse_when_rank_deficient() {
        // All variation along (1, 1): the orthogonal direction is dropped, not infinite.
        let x = array![[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]];
        let m = Mahalanobis.fit(x.view()).unwrap();
        let off_axis = m.score(&[2.0, 0.0]).unwrap();
        assert!(off_axis.is_finite());
        // (1,-1) offset from the mean (1,1) is orthogonal to the data: distance 0.
        assert!(off_axis.abs() < 1e-12, "{off_axis}");
    }

    #[test]
    fn nearest_neighbor_is_zero_on_a_training_row() {
        let x = array![[1.0, 5.0], [2.0, 3.0], [4.0, 4.0], [0.0, 1.0]];
        let m = NearestNeighbor.fit(x.view()).unwrap();
        assert!(m.score(&[2.0, 3.0]).unwrap().abs() < 1e-12);
        assert!(m.score(&[10.0, -3.0]).unwrap() < -1.0);
    }

    #[test]
    fn identical_training_rows_give_a_loadable_model() {
        let x = array![[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]];
        for model in [
            crate::detect::DetectorParams::new(Mahalanobis)
                .fit(x.view())
                .unwrap(),
            crate::detect::DetectorParams::new(NearestNeighbor)
                .fit(x.view())
                .unwrap(),
        ] {
            let json = serde_json::to_string(&model).unwrap();
            let back: crate::detect::FittedDetector = serde_json::from_str(&json).unwrap();
            assert_eq!(back.score(&[5.0, 5.0]).unwrap(), 0.0);
        }
    }

    #[test]
    fn needs_two_samples() {
        assert!(matches!(
            Mahalanobis.fit(array![[1.0, 2.0]].view()),
            Err(FitError::TooFewSamples {
                needed: 2,
                got: 1,
                ..
            })
        ));
    }
}
