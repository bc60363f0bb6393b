//! A live imposter-testing session: attempts scored by a user's model and labelled by the
//! operator as genuine or imposter, with the session's error rates and score histogram.

use serde::{Deserialize, Serialize};

/// Who the operator says typed an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    /// The enrolled user.
    Genuine,
    /// Someone else (also read as `impostor`, the spelling the workbench shows).
    #[serde(alias = "impostor")]
    Imposter,
}

/// One scored attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// `confidence_score` (≥ 0 is accepted).
    pub score: f64,
    /// The operator's label, once given.
    pub label: Option<Label>,
}

impl Attempt {
    /// Whether the model accepted it.
    pub fn accepted(&self) -> bool {
        self.score >= 0.0
    }
}

/// Counts behind the session's FAR and FRR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionRates {
    /// Attempts labelled genuine.
    pub genuine: usize,
    /// Of those, rejected.
    pub false_rejects: usize,
    /// Attempts labelled imposter.
    pub imposter: usize,
    /// Of those, accepted.
    pub false_accepts: usize,
}

impl SessionRates {
    /// Counts the labelled attempts.
    pub fn of(attempts: &[Attempt]) -> SessionRates {
        let mut rates = SessionRates::default();
        for attempt in attempts {
            match attempt.label {
                Some(Label::Genuine) => {
                    rates.genuine += 1;
                    rates.false_rejects += usize::from(!attempt.accepted());
                }
                Some(Label::Imposter) => {
                    rates.imposter += 1;
                    rates.false_accepts += usize::from(attempt.accepted());
                }
                None => {}
            }
        }
        rates
    }

    /// False-rejection rate, once a genuine attempt is labelled.
    pub fn frr(&self) -> Option<f64> {
        (self.genuine > 0).then(|| self.false_rejects as f64 / self.genuine as f64)
    }

    /// False-acceptance rate, once an imposter attempt is labelled.
    pub fn far(&self) -> Option<f64> {
        (self.imposter > 0).then(|| self.false_accepts as f64 / self.imposter as f64)
    }
}

/// Counts of `scores` in `bins` equal bins over `[low, high]` (values outside go to the end
/// bins). Returns each bin's centre and count.
pub fn histogram(scores: &[f64], low: f64, high: f64, bins: usize) -> Vec<(f64, usize)> {
    let bins = bins.max(1);
    let width = if high > low {
        (high - low) / bins as f64
    } else {
        1.0
    };
    let mut counts = vec![0usize; bins];
    for &score in scores.iter().filter(|s| s.is_finite()) {
        let bin = ((score - low) / width)
            .floor()
            .clamp(0.0, (bins - 1) as f64) as usize;
        counts[bin] += 1;
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(i, n)| (low + width * (i as f64 + 0.5), n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(score: f64, label: Option<Label>) -> Attempt {
        Attempt { score, label }
    }

    #[test]
    fn rates_count_labelled_attempts_only() {
        let attempts = [
            attempt(0.1, Some(Label::Genuine)),
            attempt(-0.2, Some(Label::Genuine)),
            attempt(0.05, Some(Label::Imposter)),
            attempt(-0.3, Some(Label::Imposter)),
            attempt(-0.4, Some(Label::Imposter)),
            attempt(0.3, None),
        ];
        let rates = SessionRates::of(&attempts);
        assert_eq!(rates.frr(), Some(0.5));
        assert_eq!(rates.far(), Some(1.0 / 3.0));
        assert_eq!(SessionRates::of(&[]).far(), None);
    }

    #[test]
    fn histogram_bins_with_clamped_ends() {
        let h = histogram(&[-1.0, -0.05, 0.0, 0.04, 0.2, f64::NAN], -0.1, 0.1, 4);
        let counts: Vec<usize> = h.iter().map(|(_, n)| *n).collect();
        assert_eq!(counts, [1, 1, 2, 1]);
        assert!((h[0].0 + 0.075).abs() < 1e-12);
    }
}
