//! Anomaly detectors for keystroke timings: parameters in, fitted model out.
//!
//! Every detector implements [`Detector`] (its parameters) whose `fit` returns a [`Scorer`] (the
//! fitted model). Scores are *genuineness*: higher means more like the training data.
//! A detector the product offers is also [`Registered`] (its names, how its files are read, its
//! threshold rules), in its own file plus one line of the registry; [`DetectorParams`] and
//! [`FittedDetector`] hold any registered one: they name the detector, serialise to tagged JSON,
//! and validate what they load.

mod centroid;
pub mod fusion;
mod iforest;
mod left_out;
mod mahalanobis;
mod outlier_count;
mod params;
mod registry;
mod security;
mod template;
pub mod tempo;
#[cfg(feature = "toy-detector")]
pub mod toy;

use ndarray::ArrayView2;
use thiserror::Error;

pub use centroid::{
    Euclidean, EuclideanModel, Manhattan, ManhattanModel, ManhattanScaled, ManhattanScaledModel,
};
pub use fusion::{Fusion, FusionModel};
pub(crate) use iforest::numpy_percentile;
pub use iforest::{
    Contamination, IsolationForest, IsolationForestParams, MaxSamples, average_path_length,
};
pub(crate) use left_out::median_without;
pub use mahalanobis::{Mahalanobis, MahalanobisModel, NearestNeighbor, NearestNeighborModel};
pub use outlier_count::{OutlierCount, OutlierCountModel};
pub use params::{DetectorParams, FittedDetector};
pub use registry::{
    DEFAULT_DETECTOR, DetectorKind, LOO_REJECT_PERCENT, Registered, UPDATE_GUARD_PERCENT,
    UnknownDetector,
};
pub use security::{LevelThresholds, SecurityLevel, Thresholds};
pub use template::{COHORT_SAMPLES, DEFAULT_WINDOW, Template, TemplateModel, cohort_guard};
pub use tempo::{TempoTolerant, TempoTolerantModel};

/// Why a detector could not be fitted.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum FitError {
    /// Fewer training rows than the detector needs.
    #[error("{detector} needs at least {needed} training samples, got {got}")]
    TooFewSamples {
        /// The detector's name.
        detector: &'static str,
        /// Rows needed.
        needed: usize,
        /// Rows given.
        got: usize,
    },
    /// Rows of zero length.
    #[error("training samples have no features")]
    NoFeatures,
    /// A NaN or infinite value.
    #[error("training sample {row}, feature {column} is not finite ({value})")]
    NotFinite {
        /// Row index.
        row: usize,
        /// Column index.
        column: usize,
        /// The value.
        value: f64,
    },
    /// A parameter out of range.
    #[error("invalid parameter: {0}")]
    InvalidParam(String),
    /// Rows of another length than the model's.
    #[error(transparent)]
    Length(#[from] LengthMismatch),
}

/// A score was asked for a vector of the wrong length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("feature vector has {got} values, the model was trained on {expected}")]
pub struct LengthMismatch {
    /// Length the model was trained on.
    pub expected: usize,
    /// Length given.
    pub got: usize,
}

/// Detector parameters: fitting them on training rows gives a fitted model.
pub trait Detector {
    /// The fitted model.
    type Model: Scorer;
    /// Fits on `train` (rows = samples, columns = features).
    fn fit(&self, train: ArrayView2<f64>) -> Result<Self::Model, FitError>;
}

/// A fitted detector.
pub trait Scorer {
    /// Length of the feature vectors it was trained on.
    fn n_features(&self) -> usize;

    /// Genuineness of `x` (higher = more genuine). `x` has [`Scorer::n_features`] values; call
    /// [`Scorer::score`] when that is not already known.
    fn score_unchecked_len(&self, x: &[f64]) -> f64;

    /// Genuineness of `x` (higher = more genuine).
    fn score(&self, x: &[f64]) -> Result<f64, LengthMismatch> {
        check_len(self.n_features(), x)?;
        Ok(self.score_unchecked_len(x))
    }

    /// Genuineness of every row of `rows`.
    fn score_rows(&self, rows: ArrayView2<f64>) -> Result<Vec<f64>, LengthMismatch> {
        if rows.ncols() != self.n_features() {
            return Err(LengthMismatch {
                expected: self.n_features(),
                got: rows.ncols(),
            });
        }
        Ok(rows
            .rows()
            .into_iter()
            .map(|r| self.score_unchecked_len(&r.to_vec()))
            .collect())
    }
}

/// Checks a vector against the length a model expects.
pub(crate) fn check_len(expected: usize, x: &[f64]) -> Result<(), LengthMismatch> {
    if x.len() == expected {
        Ok(())
    } else {
        Err(LengthMismatch {
            expected,
            got: x.len(),
        })
    }
}

/// Checks training rows: at least `min_rows` rows, at least one feature, all finite.
pub(crate) fn check_training(
    detector: &'static str,
    train: ArrayView2<f64>,
    min_rows: usize,
) -> Result<(), FitError> {
    let (rows, columns) = train.dim();
    if rows < min_rows {
        return Err(FitError::TooFewSamples {
            detector,
            needed: min_rows,
            got: rows,
        });
    }
    if columns == 0 {
        return Err(FitError::NoFeatures);
    }
    if let Some(((row, column), &value)) = train.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(FitError::NotFinite { row, column, value });
    }
    Ok(())
}

/// Per-column mean of the training rows.
pub(crate) fn column_means(train: ArrayView2<f64>) -> Vec<f64> {
    let n = train.nrows() as f64;
    train.columns().into_iter().map(|c| c.sum() / n).collect()
}

/// Heap bytes of a vector of floats (with its header), for memory accounting.
pub(crate) fn vec_bytes(values: &[f64]) -> usize {
    std::mem::size_of_val(values) + std::mem::size_of::<Vec<f64>>()
}

/// Checks a loaded model's vector: not empty, of the expected length, finite values.
pub(crate) fn check_loaded_vec(name: &str, values: &[f64], len: usize) -> Result<(), String> {
    if values.is_empty() {
        return Err(format!("{name} is empty"));
    }
    if values.len() != len {
        return Err(format!(
            "{name} has {} values, expected {len}",
            values.len()
        ));
    }
    match values.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(format!("{name}[{i}] is not finite")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn training_check_names_the_non_finite_cell() {
        let x = array![[1.0, 2.0], [3.0, f64::NAN]];
        let err = check_training("test", x.view(), 1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "training sample 1, feature 1 is not finite (NaN)"
        );
    }

    #[test]
    fn training_check_counts_rows() {
        let x = array![[1.0, 2.0]];
        let err = check_training("Mahalanobis", x.view(), 2).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Mahalanobis needs at least 2 training samples, got 1"
        );
    }

    #[test]
    fn score_rejects_wrong_length() {
        let model = Euclidean
            .fit(array![[1.0, 2.0], [3.0, 4.0]].view())
            .unwrap();
        assert_eq!(
            model.score(&[1.0]),
            Err(LengthMismatch {
                expected: 2,
                got: 1
            })
        );
    }
}
