//! The detectors the product knows, each registered once: a detector implements [`Registered`]
//! in its own file (its names, how its parameters and model are written, and any special rule
//! for its thresholds), declared beside the others in `detect/mod.rs`, and one line of
//! [`REGISTERED`] lists it. Everything else — the name on
//! the command line and in files, the GUI's choice, loading a model file, thresholds — goes
//! through [`DetectorKind`], [`DetectorParams`](super::DetectorParams) and
//! [`FittedDetector`](super::FittedDetector), which know no detector by name.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::str::FromStr;

use ndarray::ArrayView2;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::params::{DetectorParams, FittedDetector, held_out_scores, refit_each_left_out};
use super::security::Thresholds;
use super::{
    Detector, Euclidean, FitError, Fusion, IsolationForestParams, Mahalanobis, Manhattan,
    ManhattanScaled, NearestNeighbor, OutlierCount, Scorer, TempoTolerant,
};

/// Every detector, in the order front-ends list them. Adding a detector: its own file with an
/// `impl Registered` (declared in `detect/mod.rs`), and one line here. Ids must be unique
/// (a test checks).
const REGISTERED: &[DetectorKind] = &[
    DetectorKind::of::<Fusion>(),
    DetectorKind::of::<IsolationForestParams>(),
    DetectorKind::of::<TempoTolerant>(),
    DetectorKind::of::<ManhattanScaled>(),
    DetectorKind::of::<NearestNeighbor>(),
    DetectorKind::of::<OutlierCount>(),
    DetectorKind::of::<Mahalanobis>(),
    DetectorKind::of::<Manhattan>(),
    DetectorKind::of::<Euclidean>(),
    #[cfg(feature = "toy-detector")]
    DetectorKind::of::<super::toy::Toy>(),
];

/// The detector fitted when nothing says otherwise: the one with the lowest error rates across
/// the bundled data sets, not on one (`docs/detectors.md`, written by `eval --suite`).
pub const DEFAULT_DETECTOR: DetectorKind = DetectorKind::of::<Fusion>();

/// Percentile of the leave-one-out scores that sets a detector's own threshold unless it has its
/// own rule: about 5 % of genuine attempts rejected. The `convenient` security level's; the
/// other levels' are in [`SecurityLevel::percent`](super::SecurityLevel::percent).
pub const LOO_REJECT_PERCENT: f64 = 5.0;

/// Percentile of the training scores a sample must reach to update a template.
pub const UPDATE_GUARD_PERCENT: f64 = 30.0;

/// A detector's parameters, registered with the product. The model must serialise as a JSON
/// object (a struct); the file adds a `name` key with [`ID`](Self::ID), so neither the model
/// nor the parameters may have a field called `name` (a test checks every registered one).
pub trait Registered:
    Detector<Model: Serialize + DeserializeOwned + fmt::Debug + Send + Sync + 'static>
    + Clone
    + Default
    + fmt::Debug
    + Send
    + Sync
    + 'static
{
    /// The identifier on the command line and in files (`"name"`); never change it once
    /// released, or model files stop loading.
    const ID: &'static str;
    /// The name the literature uses.
    const LABEL: &'static str;
    /// Whether the fit depends on a seed.
    const RANDOMISED: bool = false;
    /// The fewest training rows it fits on (and learns a threshold from).
    const MIN_ROWS: usize = 1;
    /// Whether its models keep a threshold per [`SecurityLevel`](super::SecurityLevel) (the
    /// isolation forest does not: [`level_scores`](Self::level_scores) is `None`).
    const HAS_LEVELS: bool = true;

    /// The parameters' fields as written in files, beside `name` (none by default: a detector
    /// without parameters).
    fn to_fields(&self) -> Map<String, Value> {
        Map::new()
    }

    /// Parameters from their fields (without `name`). By default there are none to read.
    fn from_fields(_fields: Map<String, Value>) -> Result<Self, String> {
        Ok(Self::default())
    }

    /// Checks a model read from a file, so that it scores without panicking whatever the file
    /// said.
    fn validate(model: &Self::Model) -> Result<(), String>;

    /// Approximate heap size of a model, in bytes (for caches that bound their memory).
    fn heap_bytes(model: &Self::Model) -> usize;

    /// The model fitted on `train` and its [`thresholds`](Self::thresholds) on the same rows:
    /// by default a fit, then the thresholds. A detector whose fit already computes the
    /// held-out scores the thresholds take overrides it to compute them once (with the same
    /// results).
    fn fit_with_thresholds(
        &self,
        train: ArrayView2<f64>,
    ) -> Result<(Self::Model, Thresholds), FitError> {
        let model = Detector::fit(self, train)?;
        let thresholds = Self::thresholds(&model, train)?;
        Ok((model, thresholds))
    }

    /// The model's thresholds, given the rows it was fitted on: by default percentiles of its
    /// [`level_scores`](Self::level_scores), computed once ([`Thresholds::from_held_out`]), so
    /// that about the same share of a genuine user's attempts is rejected at 5 enrolment
    /// samples as at 200. A detector without level scores (the isolation forest) overrides it.
    fn thresholds(model: &Self::Model, train: ArrayView2<f64>) -> Result<Thresholds, FitError> {
        let scores = Self::level_scores(model, train)?.ok_or_else(|| {
            FitError::InvalidParam(format!("{} has no held-out scores", Self::LABEL))
        })?;
        Ok(Thresholds::from_held_out(scores))
    }

    /// The scores whose percentiles are the model's thresholds at each
    /// [`SecurityLevel`](super::SecurityLevel): each row the model was fitted on, scored held
    /// out. `None` for a detector whose threshold is its own at every level (the isolation
    /// forest's `offset_`, as scikit-learn decides). The default refits `Self::default()` (a
    /// model does not keep its parameters): a detector whose parameters change its scores must
    /// override this.
    fn level_scores(
        model: &Self::Model,
        train: ArrayView2<f64>,
    ) -> Result<Option<Vec<f64>>, FitError> {
        Ok(Some(held_out_scores(&Self::default(), model, train)?))
    }

    /// The scores whose percentile is the update guard
    /// ([`Thresholds::update_guard`]): the [`level_scores`](Self::level_scores), or for a
    /// detector without them (the isolation forest) the training rows' own scores.
    fn guard_scores(model: &Self::Model, train: ArrayView2<f64>) -> Result<Vec<f64>, FitError> {
        match Self::level_scores(model, train)? {
            Some(scores) => Ok(scores),
            None => Ok(model.score_rows(train)?),
        }
    }

    /// Each row of `train`'s score under these parameters fitted on the other rows. By default
    /// the detector is refitted once per row; a detector whose fit has a quicker form for "every
    /// row but one" overrides this, giving the same scores.
    fn leave_one_out_scores(&self, train: ArrayView2<f64>) -> Result<Vec<f64>, FitError> {
        refit_each_left_out(self, train)
    }

    /// The same parameters with another seed (unchanged for deterministic detectors).
    #[must_use]
    fn with_seed(self, _seed: u64) -> Self {
        self
    }

    /// The same detector without what only sets its decision threshold, for threshold-free
    /// evaluation such as EER: the scores must be unchanged.
    #[must_use]
    fn for_ranking(self) -> Self {
        self
    }
}

/// What the registry keeps of a detector: its names and how to read its files.
trait Entry: Sync {
    fn id(&self) -> &'static str;
    fn label(&self) -> &'static str;
    fn is_randomised(&self) -> bool;
    fn min_rows(&self) -> usize;
    fn has_levels(&self) -> bool;
    fn default_params(&self) -> DetectorParams;
    fn params_from_fields(&self, fields: Map<String, Value>) -> Result<DetectorParams, String>;
    fn model_from_fields(&self, fields: Map<String, Value>) -> Result<FittedDetector, String>;
}

struct EntryOf<D>(PhantomData<fn() -> D>);

impl<D: Registered> EntryOf<D> {
    const ENTRY: &'static dyn Entry = &EntryOf::<D>(PhantomData);
}

impl<D: Registered> Entry for EntryOf<D> {
    fn id(&self) -> &'static str {
        D::ID
    }
    fn label(&self) -> &'static str {
        D::LABEL
    }
    fn is_randomised(&self) -> bool {
        D::RANDOMISED
    }
    fn min_rows(&self) -> usize {
        D::MIN_ROWS
    }
    fn has_levels(&self) -> bool {
        D::HAS_LEVELS
    }
    fn default_params(&self) -> DetectorParams {
        DetectorParams::new(D::default())
    }
    fn params_from_fields(&self, fields: Map<String, Value>) -> Result<DetectorParams, String> {
        D::from_fields(fields).map(DetectorParams::new)
    }
    fn model_from_fields(&self, fields: Map<String, Value>) -> Result<FittedDetector, String> {
        let model: D::Model =
            serde_json::from_value(Value::Object(fields)).map_err(|e| e.to_string())?;
        D::validate(&model)?;
        Ok(FittedDetector::of::<D>(model))
    }
}

/// Which detector: a registered one, compared by its [`id`](Self::id).
#[derive(Clone, Copy)]
pub struct DetectorKind(&'static dyn Entry);

impl DetectorKind {
    /// The kind of the registered detector `D`.
    pub const fn of<D: Registered>() -> DetectorKind {
        DetectorKind(EntryOf::<D>::ENTRY)
    }

    /// Every registered detector, in the order front-ends list them.
    pub const ALL: &'static [DetectorKind] = REGISTERED;

    /// Whether this is the registered detector `D`.
    pub fn is<D: Registered>(self) -> bool {
        self.id() == D::ID
    }

    /// The identifier used on the command line and in files.
    pub fn id(self) -> &'static str {
        self.0.id()
    }

    /// The name the literature uses.
    pub fn label(self) -> &'static str {
        self.0.label()
    }

    /// Whether the fit depends on a seed.
    pub fn is_randomised(self) -> bool {
        self.0.is_randomised()
    }

    /// The fewest training samples it fits on ([`Registered::MIN_ROWS`]): a setting that would
    /// train on fewer is refused up front.
    pub fn min_rows(self) -> usize {
        self.0.min_rows()
    }

    /// Whether its models keep a threshold per security level ([`Registered::HAS_LEVELS`]).
    pub fn has_levels(self) -> bool {
        self.0.has_levels()
    }

    /// Default parameters for this detector.
    pub fn default_params(self) -> DetectorParams {
        self.0.default_params()
    }

    pub(super) fn params_from_fields(
        self,
        fields: Map<String, Value>,
    ) -> Result<DetectorParams, String> {
        self.0.params_from_fields(fields)
    }

    pub(super) fn model_from_fields(
        self,
        fields: Map<String, Value>,
    ) -> Result<FittedDetector, String> {
        self.0.model_from_fields(fields)
    }

    /// The kind a file's tagged object names, and the object's other fields.
    pub(super) fn untag(value: Value) -> Result<(DetectorKind, Map<String, Value>), String> {
        let Value::Object(mut fields) = value else {
            return Err("a detector must be a JSON object with a \"name\"".into());
        };
        let kind = match fields.remove("name") {
            Some(Value::String(name)) => name.parse::<DetectorKind>().map_err(|e| e.to_string())?,
            Some(other) => return Err(format!("detector name must be a string, got {other}")),
            None => return Err("missing field `name` (the detector)".into()),
        };
        Ok((kind, fields))
    }
}

impl PartialEq for DetectorKind {
    fn eq(&self, other: &Self) -> bool {
        self.id() == other.id()
    }
}

impl Eq for DetectorKind {}

impl Hash for DetectorKind {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id().hash(state);
    }
}

impl fmt::Debug for DetectorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DetectorKind({})", self.id())
    }
}

impl fmt::Display for DetectorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// A name that is no registered detector's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown detector {name:?}; known: {}", known_ids().join(", "))]
pub struct UnknownDetector {
    /// The name given.
    pub name: String,
}

fn known_ids() -> Vec<&'static str> {
    DetectorKind::ALL.iter().map(|k| k.id()).collect()
}

impl FromStr for DetectorKind {
    type Err = UnknownDetector;
    fn from_str(s: &str) -> Result<Self, UnknownDetector> {
        DetectorKind::ALL
            .iter()
            .copied()
            .find(|k| k.id() == s)
            .ok_or_else(|| UnknownDetector { name: s.into() })
    }
}

impl Serialize for DetectorKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.id())
    }
}

impl<'de> Deserialize<'de> for DetectorKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let id = String::deserialize(deserializer)?;
        id.parse().map_err(serde::de::Error::custom)
    }
}
