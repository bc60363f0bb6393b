//! Score fusion: the tempo-tolerant Manhattan and the outlier count, each normalised per user
//! and added with equal weights. The product's default detector (`docs/detectors.md` gives its
//! error rates beside every other detector's on each bundled data set).
//!
//! The two parts fail in different places: the tempo-tolerant distance forgives a user who has
//! become faster since enrolment (the CMU benchmark, where the genuine test comes sessions
//! later), while the outlier count, which caps what any one timing can cost, is the better
//! detector on the phone and keypad sets. Their scores are on different scales, so each part's
//! score is turned into a z-score against that part's leave-one-out scores on the user's own
//! training samples — how far below the user's typical held-out score an attempt lands, in the
//! user's own spreads — and the two z-scores are added. Equal weights are the choice that needs
//! no tuning on any data set. Its thresholds, like the parts', are percentiles of held-out
//! scores, one per security level ([`SecurityLevel`](super::SecurityLevel)).

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use super::params::held_out_scores;
use super::{
    Detector, FitError, OutlierCount, OutlierCountModel, Registered, Scorer, TempoTolerant,
    TempoTolerantModel, Thresholds, check_training,
};

/// The least spread a part's leave-one-out scores are taken to have, in that part's units (one
/// outlying feature, or one unit of tempo-tolerant distance): training samples that all score
/// alike must not make one part's z-scores unbounded.
pub const MIN_SPREAD: f64 = 1.0;

/// Training rows below which the outlier count is left out: its leave-one-out models would be
/// fitted on two rows or fewer, whose standard deviations say little (a feature that happened
/// to agree twice would flag any attempt).
pub const OUTLIER_MIN_ROWS: usize = 4;

/// The largest typical score a loaded model may normalise by (a part's scores are sums over
/// the features, far smaller): a tampered file cannot push a z-score to infinity.
const MAX_NORM_MEAN: f64 = 1e9;

/// The fused detector (no parameters: the parts keep their own, the weights are equal).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fusion;

/// Fitted [`Fusion`]: the parts, each with how its scores are normalised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FusionModel {
    tempo: Part<TempoTolerantModel>,
    /// Absent when fitted on fewer than [`OUTLIER_MIN_ROWS`] rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    outlier: Option<Part<OutlierCountModel>>,
}

/// One part: its fitted model, and the mean and spread of its leave-one-out scores on the
/// user's training samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Part<M> {
    model: M,
    mean: f64,
    sd: f64,
}

impl<M: Scorer> Part<M> {
    /// `model` normalised by `held_out`, its scores on the training rows each left out.
    fn new(model: M, held_out: &[f64]) -> Result<Part<M>, FitError> {
        let n = held_out.len() as f64;
        let mean = held_out.iter().sum::<f64>() / n;
        let squares: f64 = held_out.iter().map(|s| (s - mean) * (s - mean)).sum();
        let sd = if held_out.len() > 1 {
            (squares / (n - 1.0)).sqrt()
        } else {
            0.0
        };
        let part = Part {
            model,
            mean,
            sd: sd.max(MIN_SPREAD),
        };
        part.check().map_err(|e| {
            FitError::InvalidParam(format!(
                "the training samples' scores are out of range: {e}"
            ))
        })?;
        Ok(part)
    }

    fn z(&self, score: f64) -> f64 {
        (score - self.mean) / self.sd
    }

    fn check(&self) -> Result<(), String> {
        if !self.mean.is_finite() || self.mean.abs() > MAX_NORM_MEAN {
            return Err(format!("mean {} is beyond ±{MAX_NORM_MEAN}", self.mean));
        }
        if !self.sd.is_finite() || self.sd < MIN_SPREAD {
            return Err(format!(
                "sd {} is not a finite number ≥ {MIN_SPREAD}",
                self.sd
            ));
        }
        Ok(())
    }
}

impl Detector for Fusion {
    type Model = FusionModel;
    fn fit(&self, train: ArrayView2<f64>) -> Result<FusionModel, FitError> {
        Ok(self.fit_held_out(train)?.0)
    }
}

impl Fusion {
    /// The model, and the fused score of each training row held out (computed once: the
    /// parts' held-out scores also set their normalisation).
    fn fit_held_out(&self, train: ArrayView2<f64>) -> Result<(FusionModel, Vec<f64>), FitError> {
        check_training(Self::LABEL, train, Self::MIN_ROWS)?;
        let tempo = TempoTolerant.fit(train)?;
        let tempo_held_out = held_out_scores(&TempoTolerant, &tempo, train)?;
        let tempo = Part::new(tempo, &tempo_held_out)?;
        let (outlier, outlier_held_out) = if train.nrows() >= OUTLIER_MIN_ROWS {
            let outlier = OutlierCount.fit(train)?;
            let held_out = held_out_scores(&OutlierCount, &outlier, train)?;
            (Some(Part::new(outlier, &held_out)?), Some(held_out))
        } else {
            (None, None)
        };
        let model = FusionModel { tempo, outlier };
        let fused = model.fuse(tempo_held_out, outlier_held_out);
        Ok((model, fused))
    }
}

impl FusionModel {
    /// The fused score of each training row held out (each part's leave-one-out score,
    /// normalised as the model normalises it).
    fn held_out(&self, train: ArrayView2<f64>) -> Result<Vec<f64>, FitError> {
        let tempo = held_out_scores(&TempoTolerant, &self.tempo.model, train)?;
        let outlier = match &self.outlier {
            Some(outlier) => Some(held_out_scores(&OutlierCount, &outlier.model, train)?),
            None => None,
        };
        Ok(self.fuse(tempo, outlier))
    }

    /// The parts' scores of the same rows, each normalised, summed.
    fn fuse(&self, tempo: Vec<f64>, outlier: Option<Vec<f64>>) -> Vec<f64> {
        let mut fused: Vec<f64> = tempo.into_iter().map(|t| self.tempo.z(t)).collect();
        if let (Some(part), Some(scores)) = (&self.outlier, outlier) {
            for (total, o) in fused.iter_mut().zip(scores) {
                *total += part.z(o);
            }
        }
        fused
    }
}

impl Scorer for FusionModel {
    fn n_features(&self) -> usize {
        self.tempo.model.n_features()
    }
    fn score_unchecked_len(&self, x: &[f64]) -> f64 {
        let tempo = self.tempo.z(self.tempo.model.score_unchecked_len(x));
        let outlier = self
            .outlier
            .as_ref()
            .map_or(0.0, |o| o.z(o.model.score_unchecked_len(x)));
        tempo + outlier
    }
}

impl Registered for Fusion {
    const ID: &'static str = "fusion";
    const LABEL: &'static str = "Fusion (tempo-tolerant + outlier count)";
    /// One sample has no spread to learn a threshold from: its held-out score would be its own
    /// perfect score, and every other attempt would fall below it.
    const MIN_ROWS: usize = 2;
    fn validate(model: &FusionModel) -> Result<(), String> {
        TempoTolerant::validate(&model.tempo.model).map_err(|e| format!("tempo: {e}"))?;
        model.tempo.check().map_err(|e| format!("tempo: {e}"))?;
        if let Some(outlier) = &model.outlier {
            OutlierCount::validate(&outlier.model).map_err(|e| format!("outlier: {e}"))?;
            outlier.check().map_err(|e| format!("outlier: {e}"))?;
            if outlier.model.n_features() != model.n_features() {
                return Err(format!(
                    "tempo takes {} features, outlier {}",
                    model.n_features(),
                    outlier.model.n_features()
                ));
            }
        }
        Ok(())
    }
    fn heap_bytes(model: &FusionModel) -> usize {
        TempoTolerant::heap_bytes(&model.tempo.model)
            + model
                .outlier
                .as_ref()
                .map_or(0, |o| OutlierCount::heap_bytes(&o.model))
    }
    fn level_scores(
        model: &FusionModel,
        train: ArrayView2<f64>,
    ) -> Result<Option<Vec<f64>>, FitError> {
        Ok(Some(model.held_out(train)?))
    }
    fn fit_with_thresholds(
        &self,
        train: ArrayView2<f64>,
    ) -> Result<(FusionModel, Thresholds), FitError> {
        let (model, held_out) = self.fit_held_out(train)?;
        Ok((model, Thresholds::from_held_out(held_out)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::params::refit_each_left_out;
    use crate::detect::{LOO_REJECT_PERCENT, UPDATE_GUARD_PERCENT, numpy_percentile};
    use ndarray::{Array2, array};

    /// Two keys (`H1, DD1, UD1, H2`), six samples that vary.
    fn rows() -> Array2<f64> {
        array![
            [100.0, 200.0, 100.0, 90.0],
            [110.0, 210.0, 100.0, 80.0],
            [90.0, 190.0, 100.0, 100.0],
            [105.0, 230.0, 125.0, 95.0],
            [95.0, 180.0, 85.0, 85.0],
            [100.0, 205.0, 105.0, 92.0],
        ]
    }

    /// Mean and sd (n − 1, at least [`MIN_SPREAD`]).
    fn norm(scores: &[f64]) -> (f64, f64) {
        let n = scores.len() as f64;
        let mean = scores.iter().sum::<f64>() / n;
        let sd = (scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        (mean, sd.max(MIN_SPREAD))
    }

    #[test]
    fn the_score_and_threshold_are_the_parts_z_scores_summed() {
        let train = rows();
        let model = Fusion.fit(train.view()).unwrap();
        let tempo_loo = refit_each_left_out(&TempoTolerant, train.view()).unwrap();
        let outlier_loo = refit_each_left_out(&OutlierCount, train.view()).unwrap();
        let (tm, ts) = norm(&tempo_loo);
        let (om, os) = norm(&outlier_loo);
        let fused = |t: f64, o: f64| (t - tm) / ts + (o - om) / os;
        let attempt = [130.0, 260.0, 130.0, 70.0];
        let tempo = TempoTolerant.fit(train.view()).unwrap();
        let outlier = OutlierCount.fit(train.view()).unwrap();
        let expected = fused(
            tempo.score(&attempt).unwrap(),
            outlier.score(&attempt).unwrap(),
        );
        assert!((model.score(&attempt).unwrap() - expected).abs() < 1e-12);
        // The threshold and guard: percentiles of the training rows' fused held-out scores.
        let mut held_out: Vec<f64> = tempo_loo
            .iter()
            .zip(&outlier_loo)
            .map(|(&t, &o)| fused(t, o))
            .collect();
        let thresholds = Fusion::thresholds(&model, train.view()).unwrap();
        assert_eq!(
            Fusion.fit_with_thresholds(train.view()).unwrap(),
            (model.clone(), thresholds),
            "fitted with its thresholds at once: the same"
        );
        let (threshold, guard) = (thresholds.threshold, thresholds.update_guard);
        assert_eq!(
            threshold,
            numpy_percentile(&mut held_out.clone(), LOO_REJECT_PERCENT)
        );
        assert_eq!(guard, numpy_percentile(&mut held_out, UPDATE_GUARD_PERCENT));
        assert!(threshold < guard);
        // Further from the user's timings scores lower.
        assert!(
            model.score(&attempt).unwrap() < model.score(&[100.0, 200.0, 100.0, 90.0]).unwrap()
        );
    }

    #[test]
    fn few_rows_fit_the_tempo_part_alone_and_agreeing_rows_stay_bounded() {
        let same = array![[100.0, 200.0, 100.0, 90.0], [100.0, 200.0, 100.0, 90.0]];
        let model = Fusion.fit(same.view()).unwrap();
        assert!(model.outlier.is_none());
        assert_eq!(model.tempo.sd, MIN_SPREAD);
        let tempo = TempoTolerant.fit(same.view()).unwrap();
        let attempt = [101.0, 200.0, 100.0, 90.0];
        assert_eq!(
            model.score(&attempt).unwrap(),
            model.tempo.z(tempo.score(&attempt).unwrap())
        );
        // One sample has no spread to learn a threshold from.
        assert!(matches!(
            Fusion.fit(same.slice(ndarray::s![..1, ..])),
            Err(FitError::TooFewSamples {
                needed: 2,
                got: 1,
                ..
            })
        ));
        let train = rows();
        let three = Fusion.fit(train.slice(ndarray::s![..3, ..])).unwrap();
        assert!(three.outlier.is_none());
        let four = Fusion.fit(train.slice(ndarray::s![..4, ..])).unwrap();
        assert!(four.outlier.is_some());
    }

    #[test]
    fn a_loaded_model_is_checked() {
        let model = Fusion.fit(rows().view()).unwrap();
        let json = serde_json::to_value(&model).unwrap();
        let load = |edit: &dyn Fn(&mut serde_json::Value)| {
            let mut json = json.clone();
            edit(&mut json);
            let model: FusionModel = serde_json::from_value(json).map_err(|e| e.to_string())?;
            Fusion::validate(&model)
        };
        assert_eq!(load(&|_| {}), Ok(()));
        let err = load(&|j| j["outlier"]["sd"] = 0.0.into()).unwrap_err();
        assert!(err.starts_with("outlier: sd 0"), "{err}");
        let err = load(&|j| j["tempo"]["mean"] = (-1e300).into()).unwrap_err();
        assert!(err.starts_with("tempo: mean"), "{err}");
        let err = load(&|j| {
            j["outlier"]["model"]["mean"] = serde_json::json!([1.0, 2.0]);
            j["outlier"]["model"]["sd"] = serde_json::json!([1.0, 2.0]);
        })
        .unwrap_err();
        assert!(err.contains("tempo takes 4 features, outlier 2"), "{err}");
        assert!(load(&|j| j["extra"] = 1.into()).is_err());
        // Without the outlier part (a model fitted on few rows) it loads.
        assert_eq!(
            load(&|j| drop(j.as_object_mut().unwrap().remove("outlier"))),
            Ok(())
        );
    }
}
