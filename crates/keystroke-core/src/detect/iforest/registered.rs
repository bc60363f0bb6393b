//! The isolation forest as the product registers it, with its own rules: its threshold is
//! scikit-learn's `offset_`, its update guard comes from the training rows' own scores (refits
//! would be slow), its seed can be set, and ranking skips the contamination threshold.

use ndarray::ArrayView2;
use serde_json::{Map, Value};

use super::{Contamination, IsolationForest, IsolationForestParams};
use crate::detect::{FitError, Registered, Thresholds, UPDATE_GUARD_PERCENT, numpy_percentile};

impl Registered for IsolationForestParams {
    const ID: &'static str = "isolation-forest";
    const LABEL: &'static str = "Isolation forest";
    const RANDOMISED: bool = true;
    /// scikit-learn's `decision_function` at every level.
    const HAS_LEVELS: bool = false;

    fn to_fields(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(fields)) => fields,
            other => unreachable!("isolation-forest parameters serialise as an object: {other:?}"),
        }
    }

    fn from_fields(fields: Map<String, Value>) -> Result<Self, String> {
        serde_json::from_value(Value::Object(fields)).map_err(|e| e.to_string())
    }

    // The forest validates itself while deserialising.
    fn validate(_model: &IsolationForest) -> Result<(), String> {
        Ok(())
    }

    fn heap_bytes(model: &IsolationForest) -> usize {
        model.heap_bytes()
    }

    /// `offset_`, as scikit-learn's `decision_function` subtracts it; the update guard a
    /// percentile of the training rows' own scores ([`Registered::guard_scores`], without
    /// level scores); no levels.
    fn thresholds(model: &IsolationForest, train: ArrayView2<f64>) -> Result<Thresholds, FitError> {
        let mut scores = Self::guard_scores(model, train)?;
        Ok(Thresholds {
            threshold: model.offset(),
            update_guard: numpy_percentile(&mut scores, UPDATE_GUARD_PERCENT),
            levels: None,
        })
    }

    /// None: the contract keeps scikit-learn's `decision_function` at every level.
    fn level_scores(
        _model: &IsolationForest,
        _train: ArrayView2<f64>,
    ) -> Result<Option<Vec<f64>>, FitError> {
        Ok(None)
    }

    fn with_seed(self, seed: u64) -> Self {
        self.seed(seed)
    }

    fn for_ranking(self) -> Self {
        self.contamination(Contamination::Auto)
    }
}
