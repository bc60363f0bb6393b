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
//! no tuning on any data set. The threshold, like the parts', comes from leave-one-out scores
//! ([`LOO_REJECT_PERCENT`](super::LOO_REJECT_PERCENT)).

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use super::params::held_out_scores;
use super::registry::{LOO_REJECT_PERCENT, UPDATE_GUARD_PERCENT};
use super::{
    Detector, FitError, OutlierCount, OutlierCountModel, Registered, Scorer, TempoTolerant,
    TempoTolerantModel, check_training, numpy_percentile,
};

/// The least spread a part's leave-one-out scores are taken to have, in that part's units (half
/// an outlying feature, or half a unit of tempo-tolerant distance): training samples that all
/// score alike must not make one part's z-scores unbounded.
pub const MIN_SPREAD: f64 = 1.0;

/// The fused detector (no parameters: the parts keep their own, the weights are equal).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fusion;

/// Fitted [`Fusion`]: both parts, and how each part's scores are normalised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FusionModel {
    tempo: TempoTolerantModel,
    outlier: OutlierCountModel,
    /// Mean and spread of the tempo-tolerant part's leave-one-out scores.
    tempo_norm: Norm,
    /// Mean and spread of the outlier count's leave-one-out scores.
    outlier_norm: Norm,
}

/// A part's typical score and spread on the user's training samples, held out one at a time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Norm {
    mean: f64,
    sd: f64,
}

impl Norm {
    /// Mean and sample standard deviation (at least [`MIN_SPREAD`]) of `scores`.
    fn of(scores: &[f64]) -> Norm {
        let n = scores.len() as f64;
        let mean = scores.iter().sum::<f64>() / n;
        let squares: f64 = scores.iter().map(|s| (s - mean) * (s - mean)).sum();
        let sd = if scores.len() > 1 {
            (squares / (n - 1.0)).sqrt()
        } else {
            0.0
        };
        Norm {
            mean,
            sd: sd.max(MIN_SPREAD),
        }
    }

    fn z(&self, score: f64) -> f64 {
        (score - self.mean) / self.sd
    }

    fn check(&self, name: &str) -> Result<(), String> {
        if !self.mean.is_finite() || !self.sd.is_finite() || self.sd < MIN_SPREAD {
            return Err(format!(
                "{name} must be finite with sd at least {MIN_SPREAD}"
            ));
        }
        Ok(())
    }
}

impl Detector for Fusion {
    type Model = FusionModel;
    fn fit(&self, train: ArrayView2<f64>) -> Result<FusionModel, FitError> {
        check_training("Fusion (tempo-tolerant + outlier count)", train, 2)?;
        let tempo = TempoTolerant.fit(train)?;
        let outlier = OutlierCount.fit(train)?;
        let tempo_norm = Norm::of(&held_out_scores(&TempoTolerant, &tempo, train)?);
        let outlier_norm = Norm::of(&held_out_scores(&OutlierCount, &outlier, train)?);
        Ok(FusionModel {
            tempo,
            outlier,
            tempo_norm,
            outlier_norm,
        })
    }
}

impl FusionModel {
    /// The fused score of each training row held out (each part's leave-one-out score,
    /// normalised as the model normalises it).
    fn held_out(&self, train: ArrayView2<f64>) -> Result<Vec<f64>, FitError> {
        let tempo = held_out_scores(&TempoTolerant, &self.tempo, train)?;
        let outlier = held_out_scores(&OutlierCount, &self.outlier, train)?;
        Ok(tempo
            .iter()
            .zip(&outlier)
            .map(|(&t, &o)| self.tempo_norm.z(t) + self.outlier_norm.z(o))
            .collect())
    }
}

impl Scorer for FusionModel {
    fn n_features(&self) -> usize {
        self.tempo.n_features()
    }
    fn score_unchecked_len(&self, x: &[f64]) -> f64 {
        self.tempo_norm.z(self.tempo.score_unchecked_len(x))
            + self.outlier_norm.z(self.outlier.score_unchecked_len(x))
    }
}

impl Registered for Fusion {
    const ID: &'static str = "fusion";
    const LABEL: &'static str = "Fusion (tempo-tolerant + outlier count)";
    fn validate(model: &FusionModel) -> Result<(), String> {
        TempoTolerant::validate(&model.tempo).map_err(|e| format!("tempo: {e}"))?;
        OutlierCount::validate(&model.outlier).map_err(|e| format!("outlier: {e}"))?;
        if model.tempo.n_features() != model.outlier.n_features() {
            return Err(format!(
                "tempo takes {} features, outlier {}",
                model.tempo.n_features(),
                model.outlier.n_features()
            ));
        }
        model.tempo_norm.check("tempo_norm")?;
        model.outlier_norm.check("outlier_norm")
    }
    fn heap_bytes(model: &FusionModel) -> usize {
        TempoTolerant::heap_bytes(&model.tempo) + OutlierCount::heap_bytes(&model.outlier)
    }
    fn threshold(model: &FusionModel, train: ArrayView2<f64>) -> Result<f64, FitError> {
        Ok(numpy_percentile(
            &mut model.held_out(train)?,
            LOO_REJECT_PERCENT,
        ))
    }
    fn update_guard(model: &FusionModel, train: ArrayView2<f64>) -> Result<f64, FitError> {
        Ok(numpy_percentile(
            &mut model.held_out(train)?,
            UPDATE_GUARD_PERCENT,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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

    #[test]
    fn the_score_is_the_sum_of_the_parts_z_scores() {
        let train = rows();
        let model = Fusion.fit(train.view()).unwrap();
        let tempo = TempoTolerant.fit(train.view()).unwrap();
        let outlier = OutlierCount.fit(train.view()).unwrap();
        let norm = |scores: Vec<f64>| {
            let n = scores.len() as f64;
            let mean = scores.iter().sum::<f64>() / n;
            let sd = (scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
            (mean, sd.max(MIN_SPREAD))
        };
        // The parts' leave-one-out scores, by refitting on the other five rows.
        let loo = |fit_score: &dyn Fn(Array2<f64>, &[f64]) -> f64| -> Vec<f64> {
            (0..6)
                .map(|out| {
                    let rest: Vec<usize> = (0..6).filter(|&i| i != out).collect();
                    let others = train.select(ndarray::Axis(0), &rest);
                    fit_score(others, train.row(out).as_slice().unwrap())
                })
                .collect()
        };
        let (tm, ts) = norm(loo(&|t, x| {
            TempoTolerant.fit(t.view()).unwrap().score(x).unwrap()
        }));
        let (om, os) = norm(loo(&|t, x| {
            OutlierCount.fit(t.view()).unwrap().score(x).unwrap()
        }));
        let attempt = [130.0, 260.0, 130.0, 70.0];
        let expected = (tempo.score(&attempt).unwrap() - tm) / ts
            + (outlier.score(&attempt).unwrap() - om) / os;
        assert!((model.score(&attempt).unwrap() - expected).abs() < 1e-12);
        // Further from the user's timings scores lower.
        assert!(
            model.score(&attempt).unwrap() < model.score(&[100.0, 200.0, 100.0, 90.0]).unwrap()
        );
    }

    #[test]
    fn samples_that_all_agree_keep_the_z_scores_bounded() {
        let same = array![[100.0, 200.0, 100.0, 90.0], [100.0, 200.0, 100.0, 90.0]];
        let model = Fusion.fit(same.view()).unwrap();
        assert_eq!(model.tempo_norm.sd, MIN_SPREAD);
        assert_eq!(model.outlier_norm.sd, MIN_SPREAD);
        let score = model.score(&[101.0, 200.0, 100.0, 90.0]).unwrap();
        assert!(score.is_finite() && score > -1e6, "{score}");
        assert!(Fusion.fit(same.slice(ndarray::s![..1, ..])).is_err());
    }

    #[test]
    fn the_threshold_rejects_about_the_lowest_held_out_scores() {
        let train = rows();
        let model = Fusion.fit(train.view()).unwrap();
        let held_out = model.held_out(train.view()).unwrap();
        let threshold = Fusion::threshold(&model, train.view()).unwrap();
        let guard = Fusion::update_guard(&model, train.view()).unwrap();
        let lowest = held_out.iter().copied().fold(f64::INFINITY, f64::min);
        assert!(
            threshold >= lowest && threshold < guard,
            "{threshold} {guard}"
        );
    }

    #[test]
    fn a_loaded_model_is_checked() {
        let mut model = Fusion.fit(rows().view()).unwrap();
        assert!(Fusion::validate(&model).is_ok());
        model.outlier_norm.sd = 0.0;
        assert!(
            Fusion::validate(&model)
                .unwrap_err()
                .contains("outlier_norm")
        );
    }
}
