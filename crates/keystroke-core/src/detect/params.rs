//! The product's view of the detectors: parameters that say which one to fit, and the fitted
//! model of any of them, as tagged JSON (`{"name": "isolation-forest", …}`). Both hold a
//! registered detector ([`Registered`]) behind a trait object, so nothing here names one.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use ndarray::{ArrayView2, Axis};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::registry::{DEFAULT_DETECTOR, DetectorKind, Registered};
use super::security::Thresholds;
use super::{Detector, FitError, LengthMismatch, Scorer};

/// Which detector to fit, with its parameters.
#[derive(Clone)]
pub struct DetectorParams(Arc<dyn AnyParams>);

/// [`DetectorParams`] of one registered detector, type-erased.
trait AnyParams: fmt::Debug + Send + Sync {
    fn kind(&self) -> DetectorKind;
    fn fields(&self) -> Map<String, Value>;
    fn fit(&self, train: ArrayView2<f64>) -> Result<FittedDetector, FitError>;
    fn fit_with_thresholds(
        &self,
        train: ArrayView2<f64>,
    ) -> Result<(FittedDetector, Thresholds), FitError>;
    fn with_seed(&self, seed: u64) -> DetectorParams;
    fn for_ranking(&self) -> DetectorParams;
    fn leave_one_out(&self, train: ArrayView2<f64>) -> Result<Vec<f64>, FitError>;
    fn as_any(&self) -> &dyn Any;
}

impl<D: Registered> AnyParams for D {
    fn kind(&self) -> DetectorKind {
        DetectorKind::of::<D>()
    }
    fn fields(&self) -> Map<String, Value> {
        self.to_fields()
    }
    fn fit(&self, train: ArrayView2<f64>) -> Result<FittedDetector, FitError> {
        Ok(FittedDetector::of::<D>(Detector::fit(self, train)?))
    }
    fn fit_with_thresholds(
        &self,
        train: ArrayView2<f64>,
    ) -> Result<(FittedDetector, Thresholds), FitError> {
        let (model, thresholds) = Registered::fit_with_thresholds(self, train)?;
        Ok((FittedDetector::of::<D>(model), thresholds))
    }
    fn with_seed(&self, seed: u64) -> DetectorParams {
        DetectorParams::new(self.clone().with_seed(seed))
    }
    fn for_ranking(&self) -> DetectorParams {
        DetectorParams::new(self.clone().for_ranking())
    }
    fn leave_one_out(&self, train: ArrayView2<f64>) -> Result<Vec<f64>, FitError> {
        self.leave_one_out_scores(train)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl DetectorParams {
    /// Parameters of a registered detector.
    pub fn new<D: Registered>(params: D) -> DetectorParams {
        DetectorParams(Arc::new(params))
    }

    /// Which detector these are parameters of.
    pub fn kind(&self) -> DetectorKind {
        self.0.kind()
    }

    /// The parameters, when they are `D`'s.
    pub fn get<D: Registered>(&self) -> Option<&D> {
        self.0.as_any().downcast_ref::<D>()
    }

    /// The same parameters with another seed (no change for deterministic detectors).
    #[must_use]
    pub fn with_seed(self, seed: u64) -> Self {
        self.0.with_seed(seed)
    }

    /// The same detector without what only sets its decision threshold (the isolation forest's
    /// contamination becomes `auto`, which skips scoring the training rows), for threshold-free
    /// evaluation such as EER: the scores are unchanged.
    #[must_use]
    pub fn for_ranking(self) -> Self {
        self.0.for_ranking()
    }

    /// Fits the detector on `train` (rows = samples).
    pub fn fit(&self, train: ArrayView2<f64>) -> Result<FittedDetector, FitError> {
        self.0.fit(train)
    }

    /// Fits the detector on `train` and computes its [`thresholds`](FittedDetector::thresholds)
    /// on the same rows, as /train does: the same as `fit` then `thresholds`, in one pass
    /// over the held-out scores where the detector allows.
    pub fn fit_with_thresholds(
        &self,
        train: ArrayView2<f64>,
    ) -> Result<(FittedDetector, Thresholds), FitError> {
        self.0.fit_with_thresholds(train)
    }

    /// Each row's score under the detector fitted on the other rows of `train`.
    pub fn leave_one_out(&self, train: ArrayView2<f64>) -> Result<Vec<f64>, FitError> {
        self.0.leave_one_out(train)
    }

    fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("name".into(), self.kind().id().into());
        object.extend(self.0.fields());
        Value::Object(object)
    }
}

impl<D: Registered> From<D> for DetectorParams {
    fn from(params: D) -> Self {
        DetectorParams::new(params)
    }
}

impl Default for DetectorParams {
    fn default() -> Self {
        DEFAULT_DETECTOR.default_params()
    }
}

impl PartialEq for DetectorParams {
    fn eq(&self, other: &Self) -> bool {
        self.kind() == other.kind() && self.0.fields() == other.0.fields()
    }
}

impl fmt::Debug for DetectorParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for DetectorParams {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for DetectorParams {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (kind, fields) = DetectorKind::untag(Value::deserialize(deserializer)?)
            .map_err(serde::de::Error::custom)?;
        kind.params_from_fields(fields)
            .map_err(serde::de::Error::custom)
    }
}

/// A fitted model of any registered detector. Deserialising validates it
/// ([`Registered::validate`]): a loaded model scores without panicking whatever the file said.
#[derive(Clone)]
pub struct FittedDetector(Arc<dyn AnyModel>);

/// A fitted model of one registered detector, type-erased.
trait AnyModel: fmt::Debug + Send + Sync {
    fn kind(&self) -> DetectorKind;
    fn scorer(&self) -> &dyn Scorer;
    fn to_json(&self) -> serde_json::Result<Value>;
    fn heap_bytes(&self) -> usize;
    fn thresholds(&self, train: ArrayView2<f64>) -> Result<Thresholds, FitError>;
    fn level_scores(&self, train: ArrayView2<f64>) -> Result<Option<Vec<f64>>, FitError>;
    fn guard_scores(&self, train: ArrayView2<f64>) -> Result<Vec<f64>, FitError>;
    fn as_any(&self) -> &dyn Any;
}

/// `D`'s model, remembering that it is `D`'s.
struct Fitted<D: Registered>(D::Model);

/// A model as written: its detector's name, then its own fields.
#[derive(Serialize)]
struct Tagged<'a, M> {
    name: &'static str,
    #[serde(flatten)]
    model: &'a M,
}

impl<D: Registered> AnyModel for Fitted<D> {
    fn kind(&self) -> DetectorKind {
        DetectorKind::of::<D>()
    }
    fn scorer(&self) -> &dyn Scorer {
        &self.0
    }
    fn to_json(&self) -> serde_json::Result<Value> {
        serde_json::to_value(Tagged {
            name: D::ID,
            model: &self.0,
        })
    }
    fn heap_bytes(&self) -> usize {
        D::heap_bytes(&self.0)
    }
    fn thresholds(&self, train: ArrayView2<f64>) -> Result<Thresholds, FitError> {
        D::thresholds(&self.0, train)
    }
    fn level_scores(&self, train: ArrayView2<f64>) -> Result<Option<Vec<f64>>, FitError> {
        D::level_scores(&self.0, train)
    }
    fn guard_scores(&self, train: ArrayView2<f64>) -> Result<Vec<f64>, FitError> {
        D::guard_scores(&self.0, train)
    }
    fn as_any(&self) -> &dyn Any {
        &self.0
    }
}

impl<D: Registered> fmt::Debug for Fitted<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FittedDetector {
    /// A fitted model of the registered detector `D`.
    pub fn of<D: Registered>(model: D::Model) -> FittedDetector {
        FittedDetector(Arc::new(Fitted::<D>(model)))
    }

    /// Which detector this is.
    pub fn kind(&self) -> DetectorKind {
        self.0.kind()
    }

    /// The model, when it is `D`'s.
    pub fn get<D: Registered>(&self) -> Option<&D::Model> {
        self.0.as_any().downcast_ref::<D::Model>()
    }

    /// The model's thresholds, given the training rows it was fitted on
    /// ([`Registered::thresholds`]): its own threshold (the isolation forest's `offset_`, so
    /// that `score − threshold` is scikit-learn's `decision_function`; for the others a per-user
    /// one from held-out scores), the update guard, well above it (a guard against drifting
    /// towards an impostor), and the threshold at each security level.
    pub fn thresholds(&self, train: ArrayView2<f64>) -> Result<Thresholds, FitError> {
        self.0.thresholds(train)
    }

    /// The training rows' held-out scores that the security levels' thresholds are
    /// percentiles of ([`Registered::level_scores`]).
    pub fn level_scores(&self, train: ArrayView2<f64>) -> Result<Option<Vec<f64>>, FitError> {
        self.0.level_scores(train)
    }

    /// The update guard at `percent` instead of [`UPDATE_GUARD_PERCENT`](super::UPDATE_GUARD_PERCENT)
    /// (at that percentile it equals [`thresholds`](Self::thresholds)' `update_guard`): for
    /// evaluating other guards.
    pub fn update_guard_at(&self, train: ArrayView2<f64>, percent: f64) -> Result<f64, FitError> {
        let mut scores = self.0.guard_scores(train)?;
        Ok(super::numpy_percentile(&mut scores, percent))
    }

    /// Approximate heap size, in bytes (for caches that bound their memory).
    pub fn heap_bytes(&self) -> usize {
        self.0.heap_bytes()
    }

    fn to_json(&self) -> serde_json::Result<Value> {
        self.0.to_json()
    }
}

impl PartialEq for FittedDetector {
    fn eq(&self, other: &Self) -> bool {
        self.kind() == other.kind() && self.to_json().ok() == other.to_json().ok()
    }
}

impl fmt::Debug for FittedDetector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.kind())?;
        self.0.fmt(f)
    }
}

impl Serialize for FittedDetector {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json()
            .map_err(serde::ser::Error::custom)?
            .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for FittedDetector {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (kind, fields) = DetectorKind::untag(Value::deserialize(deserializer)?)
            .map_err(serde::de::Error::custom)?;
        kind.model_from_fields(fields)
            .map_err(serde::de::Error::custom)
    }
}

impl Scorer for FittedDetector {
    fn n_features(&self) -> usize {
        self.0.scorer().n_features()
    }
    fn score_unchecked_len(&self, x: &[f64]) -> f64 {
        self.0.scorer().score_unchecked_len(x)
    }
    fn score_rows(&self, rows: ArrayView2<f64>) -> Result<Vec<f64>, LengthMismatch> {
        self.0.scorer().score_rows(rows)
    }
}

/// Each row's score under `params` fitted on the other rows of `train`, refitting once per row
/// (the default [`Registered::leave_one_out_scores`]).
pub(super) fn refit_each_left_out<D: Detector>(
    params: &D,
    train: ArrayView2<f64>,
) -> Result<Vec<f64>, FitError> {
    let n = train.nrows();
    (0..n)
        .map(|left_out| {
            let rest: Vec<usize> = (0..n).filter(|&i| i != left_out).collect();
            let refitted = params.fit(train.select(Axis(0), &rest).view())?;
            Ok(refitted.score(&train.row(left_out).to_vec())?)
        })
        .collect()
}

/// Each training row's leave-one-out score under `params`; with too few rows to leave one out,
/// the rows' own scores under `model` (fitted on all of `train`).
pub(super) fn held_out_scores<D: Registered>(
    params: &D,
    model: &D::Model,
    train: ArrayView2<f64>,
) -> Result<Vec<f64>, FitError> {
    match params.leave_one_out_scores(train) {
        Ok(scores) if train.nrows() >= 2 => Ok(scores),
        Err(FitError::TooFewSamples { .. }) | Ok(_) => Ok(model.score_rows(train)?),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{
        IsolationForestParams, Mahalanobis, ManhattanScaled, NearestNeighbor, TempoTolerant,
    };
    use ndarray::array;
    use serde_json::json;

    #[test]
    fn params_serialise_with_a_name_tag() {
        let p = DetectorParams::new(IsolationForestParams::default()).with_seed(3);
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["name"], "isolation-forest");
        assert_eq!(v["seed"], 3);
        assert_eq!(serde_json::from_value::<DetectorParams>(v).unwrap(), p);
        let m: DetectorParams =
            serde_json::from_value(json!({"name": "manhattan-scaled"})).unwrap();
        assert_eq!(m.kind(), DetectorKind::of::<ManhattanScaled>());
    }

    #[test]
    fn thresholds_come_from_left_out_rows() {
        let train = array![
            [100.0, 200.0, 100.0, 90.0],
            [110.0, 210.0, 100.0, 80.0],
            [90.0, 190.0, 100.0, 100.0],
            [105.0, 230.0, 120.0, 95.0],
        ];
        for params in [
            DetectorParams::new(TempoTolerant),
            DetectorParams::new(ManhattanScaled),
        ] {
            let model = params.fit(train.view()).unwrap();
            let mut loo: Vec<f64> = (0..4)
                .map(|i| {
                    let rest: Vec<usize> = (0..4).filter(|&j| j != i).collect();
                    let m = params.fit(train.select(Axis(0), &rest).view()).unwrap();
                    m.score(&train.row(i).to_vec()).unwrap()
                })
                .collect();
            loo.sort_by(f64::total_cmp);
            let thresholds = model.thresholds(train.view()).unwrap();
            let threshold = thresholds.threshold;
            // The 5th percentile of four values lies between the two lowest.
            assert!(
                threshold > loo[0] && threshold < loo[1],
                "{threshold} {loo:?}"
            );
            assert!(
                thresholds.update_guard > threshold,
                "the update guard is stricter"
            );
        }
        // One row: nothing to leave out; its own score under the model.
        let one = train.slice(ndarray::s![..1, ..]);
        let model = DetectorParams::new(TempoTolerant).fit(one).unwrap();
        assert_eq!(model.thresholds(one).unwrap().threshold, 0.0);
        // Mahalanobis cannot be refitted on one row: the rows' own scores are used.
        let two = train.slice(ndarray::s![..2, ..]);
        let model = DetectorParams::new(Mahalanobis).fit(two).unwrap();
        assert!(model.thresholds(two).unwrap().threshold.is_finite());
    }

    #[test]
    fn every_fitted_detector_round_trips() {
        let x = array![
            [1.0, 2.0, 0.5],
            [2.0, 1.0, 0.7],
            [3.0, 5.0, 0.2],
            [0.0, 2.5, 0.9]
        ];
        for &kind in DetectorKind::ALL {
            let model = kind.default_params().fit(x.view()).unwrap();
            let json = serde_json::to_string(&model).unwrap();
            let back: FittedDetector = serde_json::from_str(&json).unwrap();
            assert_eq!(back.kind(), kind);
            assert_eq!(
                back.score(&[1.0, 1.0, 1.0]),
                model.score(&[1.0, 1.0, 1.0]),
                "{kind}"
            );
            let thresholds = model.thresholds(x.view()).unwrap();
            assert_eq!(thresholds.levels.is_some(), kind.has_levels(), "{kind}");
            let (refit, at_once) = kind.default_params().fit_with_thresholds(x.view()).unwrap();
            assert_eq!(at_once, thresholds, "{kind}: one pass, the same thresholds");
            assert_eq!(refit.score(&[1.0, 1.0, 1.0]), model.score(&[1.0, 1.0, 1.0]));
            let guard = model
                .update_guard_at(x.view(), super::super::UPDATE_GUARD_PERCENT)
                .unwrap();
            assert_eq!(guard, thresholds.update_guard, "{kind}");
        }
    }

    #[test]
    fn registered_ids_are_unique_and_no_field_hides_the_name_tag() {
        let ids: std::collections::HashSet<&str> =
            DetectorKind::ALL.iter().map(|k| k.id()).collect();
        assert_eq!(ids.len(), DetectorKind::ALL.len(), "duplicate detector ids");
        let x = array![[1.0, 2.0], [2.0, 1.5], [3.0, 5.0], [0.5, 2.5], [1.5, 1.0]];
        for &kind in DetectorKind::ALL {
            let params = kind.default_params();
            assert!(!params.0.fields().contains_key("name"), "{kind}");
            assert_eq!(serde_json::to_value(&params).unwrap()["name"], kind.id());
            let model = params.fit(x.view()).unwrap();
            assert_eq!(serde_json::to_value(&model).unwrap()["name"], kind.id());
        }
    }

    #[test]
    fn loading_validates_classic_models() {
        let bad = json!({"name": "outlier-count", "mean": [1.0, 2.0], "sd": [1.0]});
        let err = serde_json::from_value::<FittedDetector>(bad).unwrap_err();
        assert!(
            err.to_string().contains("sd has 1 values, expected 2"),
            "{err}"
        );
    }

    #[test]
    fn ranking_params_score_the_same() {
        let x = array![[1.0, 2.0], [2.0, 1.0], [3.0, 5.0], [0.0, 2.5], [1.5, 1.5]];
        let full = DetectorParams::default().fit(x.view()).unwrap();
        let ranking = DetectorParams::default()
            .for_ranking()
            .fit(x.view())
            .unwrap();
        assert_eq!(full.score(&[2.0, 2.0]), ranking.score(&[2.0, 2.0]));
    }

    #[test]
    fn parses_detector_ids() {
        assert_eq!(
            "nn-mahalanobis".parse::<DetectorKind>(),
            Ok(DetectorKind::of::<NearestNeighbor>())
        );
        assert!(
            "svm"
                .parse::<DetectorKind>()
                .unwrap_err()
                .to_string()
                .contains("known: fusion, isolation-forest")
        );
    }
}
