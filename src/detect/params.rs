//! The product's view of the detectors: a name for each, parameters that say which one to fit,
//! and the fitted model of any of them, as tagged JSON (`{"name": "isolation-forest", …}`).

use std::fmt;
use std::str::FromStr;

use ndarray::{ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::{
    Contamination, Detector, Euclidean, EuclideanModel, FitError, IsolationForest,
    IsolationForestParams, Mahalanobis, MahalanobisModel, Manhattan, ManhattanModel,
    ManhattanScaled, ManhattanScaledModel, NearestNeighbor, NearestNeighborModel, OutlierCount,
    OutlierCountModel, Scorer, TempoTolerant, TempoTolerantModel,
};

/// Which detector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DetectorKind {
    /// Isolation forest (scikit-learn semantics).
    #[serde(rename = "isolation-forest")]
    IsolationForest,
    /// Scaled Manhattan.
    #[serde(rename = "manhattan-scaled")]
    ManhattanScaled,
    /// Nearest neighbour (Mahalanobis).
    #[serde(rename = "nn-mahalanobis")]
    NearestNeighbor,
    /// Outlier count (z-score).
    #[serde(rename = "outlier-count")]
    OutlierCount,
    /// Mahalanobis.
    #[serde(rename = "mahalanobis")]
    Mahalanobis,
    /// Manhattan.
    #[serde(rename = "manhattan")]
    Manhattan,
    /// Euclidean.
    #[serde(rename = "euclidean")]
    Euclidean,
    /// Tempo-tolerant Manhattan (for few enrolment samples).
    #[serde(rename = "tempo-tolerant")]
    TempoTolerant,
}

impl DetectorKind {
    /// Every detector.
    pub const ALL: [DetectorKind; 8] = [
        DetectorKind::IsolationForest,
        DetectorKind::TempoTolerant,
        DetectorKind::ManhattanScaled,
        DetectorKind::NearestNeighbor,
        DetectorKind::OutlierCount,
        DetectorKind::Mahalanobis,
        DetectorKind::Manhattan,
        DetectorKind::Euclidean,
    ];

    /// The identifier used on the command line and in files.
    pub fn id(self) -> &'static str {
        match self {
            DetectorKind::IsolationForest => "isolation-forest",
            DetectorKind::ManhattanScaled => "manhattan-scaled",
            DetectorKind::NearestNeighbor => "nn-mahalanobis",
            DetectorKind::OutlierCount => "outlier-count",
            DetectorKind::Mahalanobis => "mahalanobis",
            DetectorKind::Manhattan => "manhattan",
            DetectorKind::Euclidean => "euclidean",
            DetectorKind::TempoTolerant => "tempo-tolerant",
        }
    }

    /// The name the literature uses.
    pub fn label(self) -> &'static str {
        match self {
            DetectorKind::IsolationForest => "Isolation forest",
            DetectorKind::ManhattanScaled => "Manhattan (scaled)",
            DetectorKind::NearestNeighbor => "Nearest neighbour (Mahalanobis)",
            DetectorKind::OutlierCount => "Outlier count (z-score)",
            DetectorKind::Mahalanobis => "Mahalanobis",
            DetectorKind::Manhattan => "Manhattan",
            DetectorKind::Euclidean => "Euclidean",
            DetectorKind::TempoTolerant => "Tempo-tolerant Manhattan",
        }
    }

    /// Whether the fit depends on a seed.
    pub fn is_randomised(self) -> bool {
        self == DetectorKind::IsolationForest
    }

    /// Default parameters for this detector.
    pub fn default_params(self) -> DetectorParams {
        match self {
            DetectorKind::IsolationForest => {
                DetectorParams::IsolationForest(IsolationForestParams::default())
            }
            DetectorKind::ManhattanScaled => DetectorParams::ManhattanScaled,
            DetectorKind::NearestNeighbor => DetectorParams::NearestNeighbor,
            DetectorKind::OutlierCount => DetectorParams::OutlierCount,
            DetectorKind::Mahalanobis => DetectorParams::Mahalanobis,
            DetectorKind::Manhattan => DetectorParams::Manhattan,
            DetectorKind::Euclidean => DetectorParams::Euclidean,
            DetectorKind::TempoTolerant => DetectorParams::TempoTolerant,
        }
    }
}

impl fmt::Display for DetectorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl FromStr for DetectorKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        DetectorKind::ALL
            .into_iter()
            .find(|k| k.id() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = DetectorKind::ALL.iter().map(|k| k.id()).collect();
                format!("unknown detector {s:?}; known: {}", known.join(", "))
            })
    }
}

/// Which detector to fit, with its parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name")]
pub enum DetectorParams {
    /// Isolation forest.
    #[serde(rename = "isolation-forest")]
    IsolationForest(IsolationForestParams),
    /// Scaled Manhattan.
    #[serde(rename = "manhattan-scaled")]
    ManhattanScaled,
    /// Nearest neighbour (Mahalanobis).
    #[serde(rename = "nn-mahalanobis")]
    NearestNeighbor,
    /// Outlier count.
    #[serde(rename = "outlier-count")]
    OutlierCount,
    /// Mahalanobis.
    #[serde(rename = "mahalanobis")]
    Mahalanobis,
    /// Manhattan.
    #[serde(rename = "manhattan")]
    Manhattan,
    /// Euclidean.
    #[serde(rename = "euclidean")]
    Euclidean,
    /// Tempo-tolerant Manhattan.
    #[serde(rename = "tempo-tolerant")]
    TempoTolerant,
}

impl Default for DetectorParams {
    fn default() -> Self {
        DetectorKind::IsolationForest.default_params()
    }
}

impl DetectorParams {
    /// Which detector these are parameters of.
    pub fn kind(&self) -> DetectorKind {
        match self {
            DetectorParams::IsolationForest(_) => DetectorKind::IsolationForest,
            DetectorParams::ManhattanScaled => DetectorKind::ManhattanScaled,
            DetectorParams::NearestNeighbor => DetectorKind::NearestNeighbor,
            DetectorParams::OutlierCount => DetectorKind::OutlierCount,
            DetectorParams::Mahalanobis => DetectorKind::Mahalanobis,
            DetectorParams::Manhattan => DetectorKind::Manhattan,
            DetectorParams::Euclidean => DetectorKind::Euclidean,
            DetectorParams::TempoTolerant => DetectorKind::TempoTolerant,
        }
    }

    /// The same parameters with another seed (no change for deterministic detectors).
    pub fn with_seed(self, seed: u64) -> Self {
        match self {
            DetectorParams::IsolationForest(p) => DetectorParams::IsolationForest(p.seed(seed)),
            other => other,
        }
    }

    /// The same detector without what only sets its decision threshold (the isolation forest's
    /// contamination becomes `auto`, which skips scoring the training rows), for threshold-free
    /// evaluation such as EER: the scores are unchanged.
    pub fn for_ranking(self) -> Self {
        match self {
            DetectorParams::IsolationForest(p) => {
                DetectorParams::IsolationForest(p.contamination(Contamination::Auto))
            }
            other => other,
        }
    }

    /// Fits the detector on `train` (rows = samples).
    pub fn fit(&self, train: ArrayView2<f64>) -> Result<FittedDetector, FitError> {
        Ok(match self {
            DetectorParams::IsolationForest(p) => FittedDetector::IsolationForest(p.fit(train)?),
            DetectorParams::ManhattanScaled => {
                FittedDetector::ManhattanScaled(ManhattanScaled.fit(train)?)
            }
            DetectorParams::NearestNeighbor => {
                FittedDetector::NearestNeighbor(NearestNeighbor.fit(train)?)
            }
            DetectorParams::OutlierCount => FittedDetector::OutlierCount(OutlierCount.fit(train)?),
            DetectorParams::Mahalanobis => FittedDetector::Mahalanobis(Mahalanobis.fit(train)?),
            DetectorParams::Manhattan => FittedDetector::Manhattan(Manhattan.fit(train)?),
            DetectorParams::Euclidean => FittedDetector::Euclidean(Euclidean.fit(train)?),
            DetectorParams::TempoTolerant => {
                FittedDetector::TempoTolerant(TempoTolerant.fit(train)?)
            }
        })
    }
}

/// Percentile of the training scores a sample must reach to update a template.
pub const UPDATE_GUARD_PERCENT: f64 = 30.0;

/// Percentile of the leave-one-out scores that sets a non-forest detector's threshold: about 5 %
/// of genuine attempts rejected.
pub const LOO_REJECT_PERCENT: f64 = 5.0;

/// A fitted model of any detector. Deserialising validates it: a loaded model scores without
/// panicking whatever the file said.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", try_from = "Unchecked")]
pub enum FittedDetector {
    /// Isolation forest.
    #[serde(rename = "isolation-forest")]
    IsolationForest(IsolationForest),
    /// Scaled Manhattan.
    #[serde(rename = "manhattan-scaled")]
    ManhattanScaled(ManhattanScaledModel),
    /// Nearest neighbour (Mahalanobis).
    #[serde(rename = "nn-mahalanobis")]
    NearestNeighbor(NearestNeighborModel),
    /// Outlier count.
    #[serde(rename = "outlier-count")]
    OutlierCount(OutlierCountModel),
    /// Mahalanobis.
    #[serde(rename = "mahalanobis")]
    Mahalanobis(MahalanobisModel),
    /// Manhattan.
    #[serde(rename = "manhattan")]
    Manhattan(ManhattanModel),
    /// Euclidean.
    #[serde(rename = "euclidean")]
    Euclidean(EuclideanModel),
    /// Tempo-tolerant Manhattan.
    #[serde(rename = "tempo-tolerant")]
    TempoTolerant(TempoTolerantModel),
}

/// [`FittedDetector`] as read, before validation.
#[derive(Deserialize)]
#[serde(tag = "name")]
enum Unchecked {
    #[serde(rename = "isolation-forest")]
    IsolationForest(IsolationForest),
    #[serde(rename = "manhattan-scaled")]
    ManhattanScaled(ManhattanScaledModel),
    #[serde(rename = "nn-mahalanobis")]
    NearestNeighbor(NearestNeighborModel),
    #[serde(rename = "outlier-count")]
    OutlierCount(OutlierCountModel),
    #[serde(rename = "mahalanobis")]
    Mahalanobis(MahalanobisModel),
    #[serde(rename = "manhattan")]
    Manhattan(ManhattanModel),
    #[serde(rename = "euclidean")]
    Euclidean(EuclideanModel),
    #[serde(rename = "tempo-tolerant")]
    TempoTolerant(TempoTolerantModel),
}

impl TryFrom<Unchecked> for FittedDetector {
    type Error = String;
    fn try_from(model: Unchecked) -> Result<Self, String> {
        // The isolation forest validates itself while deserialising.
        Ok(match model {
            Unchecked::IsolationForest(m) => FittedDetector::IsolationForest(m),
            Unchecked::ManhattanScaled(m) => {
                m.validate().map(|()| FittedDetector::ManhattanScaled(m))?
            }
            Unchecked::NearestNeighbor(m) => {
                m.validate().map(|()| FittedDetector::NearestNeighbor(m))?
            }
            Unchecked::OutlierCount(m) => m.validate().map(|()| FittedDetector::OutlierCount(m))?,
            Unchecked::Mahalanobis(m) => m.validate().map(|()| FittedDetector::Mahalanobis(m))?,
            Unchecked::Manhattan(m) => m.validate().map(|()| FittedDetector::Manhattan(m))?,
            Unchecked::Euclidean(m) => m.validate().map(|()| FittedDetector::Euclidean(m))?,
            Unchecked::TempoTolerant(m) => {
                m.validate().map(|()| FittedDetector::TempoTolerant(m))?
            }
        })
    }
}

impl FittedDetector {
    /// Which detector this is.
    pub fn kind(&self) -> DetectorKind {
        match self {
            FittedDetector::IsolationForest(_) => DetectorKind::IsolationForest,
            FittedDetector::ManhattanScaled(_) => DetectorKind::ManhattanScaled,
            FittedDetector::NearestNeighbor(_) => DetectorKind::NearestNeighbor,
            FittedDetector::OutlierCount(_) => DetectorKind::OutlierCount,
            FittedDetector::Mahalanobis(_) => DetectorKind::Mahalanobis,
            FittedDetector::Manhattan(_) => DetectorKind::Manhattan,
            FittedDetector::Euclidean(_) => DetectorKind::Euclidean,
            FittedDetector::TempoTolerant(_) => DetectorKind::TempoTolerant,
        }
    }

    /// The score at and above which a sample is taken as genuine, given the training rows the
    /// model was fitted on: the isolation forest's `offset_` (so `score − threshold` is
    /// scikit-learn's `decision_function`); for the other detectors a per-user threshold from
    /// leave-one-out scores, their [`LOO_REJECT_PERCENT`]th percentile, so that about the same
    /// share of a genuine user's attempts is rejected at 5 enrolment samples as at 200.
    pub fn threshold(&self, train: ArrayView2<f64>) -> Result<f64, FitError> {
        match self {
            FittedDetector::IsolationForest(forest) => Ok(forest.offset()),
            other => other.loo_percentile(train, LOO_REJECT_PERCENT),
        }
    }

    /// The score a sample must reach for a template update to take it, well above the
    /// acceptance [`threshold`](Self::threshold) (a guard against drifting towards an impostor):
    /// the [`UPDATE_GUARD_PERCENT`]th percentile of leave-one-out scores (of the training rows'
    /// own scores for the isolation forest, whose refits would be slow).
    pub fn update_guard(&self, train: ArrayView2<f64>) -> Result<f64, FitError> {
        match self {
            FittedDetector::IsolationForest(_) => {
                let mut scores = self.score_rows(train)?;
                Ok(super::numpy_percentile(&mut scores, UPDATE_GUARD_PERCENT))
            }
            other => other.loo_percentile(train, UPDATE_GUARD_PERCENT),
        }
    }

    /// The `percent`th percentile of each training row's score under the detector refitted on
    /// the other rows (the deterministic detectors have no parameters to remember). With too few
    /// rows to leave one out, the rows' own scores are used.
    fn loo_percentile(&self, train: ArrayView2<f64>, percent: f64) -> Result<f64, FitError> {
        let params = self.kind().default_params();
        let n = train.nrows();
        let loo = (0..n)
            .map(|left_out| {
                let rest: Vec<usize> = (0..n).filter(|&i| i != left_out).collect();
                let model = params.fit(train.select(Axis(0), &rest).view())?;
                Ok(model.score(&train.row(left_out).to_vec())?)
            })
            .collect::<Result<Vec<f64>, FitError>>();
        let mut scores = match loo {
            Ok(scores) if n >= 2 => scores,
            Err(FitError::TooFewSamples { .. }) | Ok(_) => self.score_rows(train)?,
            Err(e) => return Err(e),
        };
        Ok(super::numpy_percentile(&mut scores, percent))
    }

    /// Approximate heap size, in bytes (for caches that bound their memory).
    pub fn heap_bytes(&self) -> usize {
        match self {
            FittedDetector::IsolationForest(m) => m.heap_bytes(),
            FittedDetector::ManhattanScaled(m) => m.heap_bytes(),
            FittedDetector::NearestNeighbor(m) => m.heap_bytes(),
            FittedDetector::OutlierCount(m) => m.heap_bytes(),
            FittedDetector::Mahalanobis(m) => m.heap_bytes(),
            FittedDetector::Manhattan(m) => m.heap_bytes(),
            FittedDetector::Euclidean(m) => m.heap_bytes(),
            FittedDetector::TempoTolerant(m) => m.heap_bytes(),
        }
    }

    fn scorer(&self) -> &dyn Scorer {
        match self {
            FittedDetector::IsolationForest(m) => m,
            FittedDetector::ManhattanScaled(m) => m,
            FittedDetector::NearestNeighbor(m) => m,
            FittedDetector::OutlierCount(m) => m,
            FittedDetector::Mahalanobis(m) => m,
            FittedDetector::Manhattan(m) => m,
            FittedDetector::Euclidean(m) => m,
            FittedDetector::TempoTolerant(m) => m,
        }
    }
}

impl Scorer for FittedDetector {
    fn n_features(&self) -> usize {
        self.scorer().n_features()
    }
    fn score_unchecked_len(&self, x: &[f64]) -> f64 {
        self.scorer().score_unchecked_len(x)
    }
    fn score_rows(&self, rows: ArrayView2<f64>) -> Result<Vec<f64>, super::LengthMismatch> {
        self.scorer().score_rows(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;
    use serde_json::json;

    #[test]
    fn params_serialise_with_a_name_tag() {
        let p = DetectorParams::default().with_seed(3);
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["name"], "isolation-forest");
        assert_eq!(v["seed"], 3);
        assert_eq!(serde_json::from_value::<DetectorParams>(v).unwrap(), p);
        let m: DetectorParams =
            serde_json::from_value(json!({"name": "manhattan-scaled"})).unwrap();
        assert_eq!(m.kind(), DetectorKind::ManhattanScaled);
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
            DetectorParams::TempoTolerant,
            DetectorParams::ManhattanScaled,
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
            let threshold = model.threshold(train.view()).unwrap();
            // The 5th percentile of four values lies between the two lowest.
            assert!(
                threshold > loo[0] && threshold < loo[1],
                "{threshold} {loo:?}"
            );
            let guard = model.update_guard(train.view()).unwrap();
            assert!(guard > threshold, "the update guard is stricter");
        }
        // One row: nothing to leave out; its own score under the model.
        let one = train.slice(ndarray::s![..1, ..]);
        let model = DetectorParams::TempoTolerant.fit(one).unwrap();
        assert_eq!(model.threshold(one).unwrap(), 0.0);
        // Mahalanobis cannot be refitted on one row: the rows' own scores are used.
        let two = train.slice(ndarray::s![..2, ..]);
        let model = DetectorParams::Mahalanobis.fit(two).unwrap();
        assert!(model.threshold(two).unwrap().is_finite());
    }

    #[test]
    fn every_fitted_detector_round_trips() {
        let x = array![
            [1.0, 2.0, 0.5],
            [2.0, 1.0, 0.7],
            [3.0, 5.0, 0.2],
            [0.0, 2.5, 0.9]
        ];
        for kind in DetectorKind::ALL {
            let model = kind.default_params().fit(x.view()).unwrap();
            let json = serde_json::to_string(&model).unwrap();
            let back: FittedDetector = serde_json::from_str(&json).unwrap();
            assert_eq!(back.kind(), kind);
            assert_eq!(
                back.score(&[1.0, 1.0, 1.0]),
                model.score(&[1.0, 1.0, 1.0]),
                "{kind}"
            );
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
            Ok(DetectorKind::NearestNeighbor)
        );
        assert!(
            "svm"
                .parse::<DetectorKind>()
                .unwrap_err()
                .contains("known: isolation-forest")
        );
    }
}
