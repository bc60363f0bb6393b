//! Template update: the rows a user's model is fitted on are the enrolment samples, kept frozen as
//! an anchor, plus a sliding window of the most recent accepted attempts, so the model follows a
//! user whose typing speeds up with practice. An attempt only enters the window when it scores at
//! or above the model's [`update guard`](FittedDetector::thresholds), well above the
//! acceptance threshold, so a string of borderline impostor attempts cannot drag the template
//! towards the impostor.
//!
//! Where other people's typing of the phrase is known — the other users enrolled on it, their
//! first [`COHORT_SAMPLES`] samples each — an attempt must also score at or above the best of
//! theirs under the user's model ([`cohort_guard`]): an attempt that looks no more like the
//! user than someone else's typing does is not taken. That keeps the share of impostor
//! attempts taken under 1 % on every development set (`docs/detectors.md`), where the
//! percentile guard alone let in up to 5 %.

use std::collections::VecDeque;

use ndarray::{Array2, ArrayView2, Axis};

use super::{
    DetectorParams, FitError, FittedDetector, LengthMismatch, Scorer, SecurityLevel,
    UPDATE_GUARD_PERCENT,
};

/// Accepted attempts kept by default.
pub const DEFAULT_WINDOW: usize = 20;

/// Samples of each other person that the update guard compares an attempt with.
pub const COHORT_SAMPLES: usize = 5;

/// The best score under `model` of the cohort's samples (each view: one person's rows): an
/// attempt joins the template only at or above it. −∞ for an empty cohort.
pub fn cohort_guard<'a>(
    model: &FittedDetector,
    cohort: impl IntoIterator<Item = ArrayView2<'a, f64>>,
) -> Result<f64, LengthMismatch> {
    let mut best = f64::NEG_INFINITY;
    for rows in cohort {
        for score in model.score_rows(rows)? {
            best = best.max(score);
        }
    }
    Ok(best)
}

/// A model's rows under template update.
#[derive(Debug, Clone)]
pub struct Template {
    enrolment: Array2<f64>,
    recent: VecDeque<Vec<f64>>,
    window: usize,
    guard_percent: f64,
    /// Other people's samples of the phrase ([`cohort_guard`]); none when empty.
    cohort: Array2<f64>,
}

/// A template's current model and the score an update must reach.
#[derive(Debug, Clone)]
pub struct TemplateModel {
    /// The model fitted on the template's rows.
    pub model: FittedDetector,
    /// Its update guard.
    pub guard: f64,
}

impl Template {
    /// A template of `enrolment` (rows = samples) keeping up to `window` accepted attempts.
    pub fn new(enrolment: ArrayView2<f64>, window: usize) -> Template {
        Template {
            enrolment: enrolment.to_owned(),
            recent: VecDeque::with_capacity(window),
            window,
            guard_percent: UPDATE_GUARD_PERCENT,
            cohort: Array2::zeros((0, enrolment.ncols())),
        }
    }

    /// The template with other people's samples of the phrase as its cohort
    /// ([`cohort_guard`]).
    #[must_use]
    pub fn with_cohort(mut self, cohort: Array2<f64>) -> Template {
        self.cohort = cohort;
        self
    }

    /// The same template with its guard at `percent` (0–100) of the rows' guard scores
    /// ([`FittedDetector::update_guard_at`]) instead of [`UPDATE_GUARD_PERCENT`] (what
    /// `eval --guard-percentile` compares). An attempt must still be accepted, so a guard below
    /// the acceptance threshold (at the default security level) is that threshold.
    #[must_use]
    pub fn with_guard_percent(mut self, percent: f64) -> Template {
        assert!((0.0..=100.0).contains(&percent), "percentile {percent}");
        self.guard_percent = percent;
        self
    }

    /// A template whose window already holds `recent` (oldest first; only the newest `window`
    /// are kept).
    pub fn with_recent(
        enrolment: ArrayView2<f64>,
        recent: ArrayView2<f64>,
        window: usize,
    ) -> Template {
        let mut template = Template::new(enrolment, window);
        for row in recent.rows() {
            template.push(&row.to_vec());
        }
        template
    }

    /// The recent attempts, oldest first, as rows.
    pub fn recent_rows(&self) -> Array2<f64> {
        let mut rows = Array2::zeros((0, self.enrolment.ncols()));
        for row in &self.recent {
            rows.push(Axis(0), ndarray::aview1(row))
                .expect("attempts have the enrolment's length");
        }
        rows
    }

    /// Enrolment rows, then the recent attempts, oldest first.
    pub fn rows(&self) -> Array2<f64> {
        ndarray::concatenate(Axis(0), &[self.enrolment.view(), self.recent_rows().view()])
            .expect("attempts have the enrolment's length")
    }

    /// Fits `params` on the rows and computes the update guard, never below the acceptance
    /// threshold at the default security level (as /predict only updates with an accepted
    /// attempt).
    pub fn fit(&self, params: &DetectorParams) -> Result<TemplateModel, FitError> {
        let rows = self.rows();
        let (model, thresholds) = params.fit_with_thresholds(rows.view())?;
        let accepted = thresholds.at(SecurityLevel::default());
        let guard = if self.guard_percent == UPDATE_GUARD_PERCENT {
            thresholds.update_guard
        } else {
            model.update_guard_at(rows.view(), self.guard_percent)?
        };
        let cohort = cohort_guard(&model, [self.cohort.view()])
            .map_err(|e| FitError::InvalidParam(format!("cohort: {e}")))?;
        Ok(TemplateModel {
            model,
            guard: guard.max(accepted).max(cohort),
        })
    }

    /// Offers an attempt `x` (of the enrolment's length): it is taken into the window, dropping
    /// the oldest attempt when full, if `current` scores it at or above its guard. Returns
    /// whether it was taken.
    pub fn offer(&mut self, current: &TemplateModel, x: &[f64]) -> Result<bool, FitError> {
        if self.window == 0 || current.model.score(x)? < current.guard {
            return Ok(false);
        }
        self.push(x);
        Ok(true)
    }

    /// Adds an attempt already judged worth taking, dropping the oldest when the window is
    /// full (nothing is kept with a window of 0).
    pub fn push(&mut self, x: &[f64]) {
        if self.window == 0 {
            return;
        }
        if self.recent.len() == self.window {
            self.recent.pop_front();
        }
        self.recent.push_back(x.to_vec());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::ManhattanScaled;
    use ndarray::array;

    #[test]
    fn takes_only_attempts_above_the_guard_and_keeps_the_newest() {
        let enrolment = array![[100.0, 200.0], [110.0, 210.0], [90.0, 190.0]];
        let mut template = Template::new(enrolment.view(), 2);
        let params = DetectorParams::new(ManhattanScaled);
        let current = template.fit(&params).unwrap();
        assert!(
            !template.offer(&current, &[400.0, 900.0]).unwrap(),
            "far off"
        );
        assert!(template.offer(&current, &[101.0, 201.0]).unwrap());
        assert!(template.offer(&current, &[99.0, 199.0]).unwrap());
        assert!(template.offer(&current, &[100.0, 200.0]).unwrap());
        assert_eq!(template.recent_rows().nrows(), 2);
        assert_eq!(
            template.rows(),
            array![
                [100.0, 200.0],
                [110.0, 210.0],
                [90.0, 190.0],
                [99.0, 199.0],
                [100.0, 200.0]
            ],
            "the enrolment stays; the oldest attempt left the window"
        );
        assert!(template.offer(&current, &[1.0]).is_err());
        let mut frozen = Template::new(enrolment.view(), 0);
        assert!(!frozen.offer(&current, &[100.0, 200.0]).unwrap());
        let resumed = Template::with_recent(enrolment.view(), template.recent_rows().view(), 1);
        assert_eq!(resumed.recent_rows(), array![[100.0, 200.0]]);
    }

    /// Five samples of two timings, enough for the default detector's thresholds.
    fn five_samples() -> Array2<f64> {
        array![
            [100.0, 200.0],
            [110.0, 210.0],
            [90.0, 190.0],
            [104.0, 185.0],
            [97.0, 220.0]
        ]
    }

    #[test]
    fn a_guard_never_falls_below_acceptance() {
        let enrolment = five_samples();
        let params = DetectorParams::default();
        let rows = enrolment.view();
        let model = params.fit(rows).unwrap();
        let thresholds = model.thresholds(rows).unwrap();
        let balanced = thresholds.levels.unwrap().at(SecurityLevel::default());
        let guard = |percent| {
            Template::new(rows, 5)
                .with_guard_percent(percent)
                .fit(&params)
                .unwrap()
                .guard
        };
        assert_eq!(guard(UPDATE_GUARD_PERCENT), thresholds.update_guard);
        assert_eq!(
            guard(0.0),
            balanced,
            "below acceptance: the acceptance threshold"
        );
        assert_eq!(guard(90.0), model.update_guard_at(rows, 90.0).unwrap());
        assert!(guard(90.0) > guard(UPDATE_GUARD_PERCENT));
    }

    #[test]
    fn an_attempt_no_closer_than_someone_elses_typing_is_not_taken() {
        let enrolment = five_samples();
        let params = DetectorParams::default();
        let alone = Template::new(enrolment.view(), 5);
        let plain = alone.fit(&params).unwrap();
        // Someone else types the phrase almost as the user does.
        let near = [101.0, 199.0];
        let cohort = array![[300.0, 500.0], near];
        let best = cohort_guard(&plain.model, [cohort.view()]).unwrap();
        assert_eq!(best, plain.model.score(&near).unwrap());
        assert!(best > plain.guard, "a cohort sample passes the plain guard");
        let mut guarded = Template::new(enrolment.view(), 5).with_cohort(cohort.clone());
        let current = guarded.fit(&params).unwrap();
        assert_eq!(current.guard, best);
        // An attempt as close as the other person's is taken; one a little further is not,
        // though the guard without a cohort takes it.
        let further = [102.0, 197.0];
        assert!(plain.model.score(&further).unwrap() >= plain.guard);
        assert!(!guarded.offer(&current, &further).unwrap());
        assert!(guarded.offer(&current, &near).unwrap());
        assert_eq!(
            cohort_guard(&plain.model, []).unwrap(),
            f64::NEG_INFINITY,
            "no cohort, no floor"
        );
        assert!(cohort_guard(&plain.model, [array![[1.0]].view()]).is_err());
    }
}
