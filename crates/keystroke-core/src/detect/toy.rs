//! A toy detector for tests (feature `toy-detector`): genuineness is minus the largest absolute
//! difference from the training rows' mean, in ms. It exists to show — and test — that adding a
//! detector takes this one file plus one line of the registry: the server fits, stores, loads
//! and scores it like any other.

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use super::{
    Detector, FitError, Registered, Scorer, check_loaded_vec, check_training, column_means,
};

/// The toy detector's parameters (none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Toy;

/// A fitted [`Toy`]: the training mean.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToyModel {
    mean: Vec<f64>,
}

impl Detector for Toy {
    type Model = ToyModel;
    fn fit(&self, train: ArrayView2<f64>) -> Result<ToyModel, FitError> {
        check_training("Toy", train, 1)?;
        Ok(ToyModel {
            mean: column_means(train),
        })
    }
}

impl Scorer for ToyModel {
    fn n_features(&self) -> usize {
        self.mean.len()
    }
    fn score_unchecked_len(&self, x: &[f64]) -> f64 {
        -x.iter()
            .zip(&self.mean)
            .map(|(v, m)| (v - m).abs())
            .fold(0.0, f64::max)
    }
}

impl Registered for Toy {
    const ID: &'static str = "toy";
    const LABEL: &'static str = "Toy (largest deviation; tests only)";
    fn validate(model: &ToyModel) -> Result<(), String> {
        check_loaded_vec("mean", &model.mean, model.mean.len())
    }
    fn heap_bytes(model: &ToyModel) -> usize {
        super::vec_bytes(&model.mean)
    }
}
