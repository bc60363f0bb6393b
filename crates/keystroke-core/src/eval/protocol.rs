//! The Killourhy & Maxion evaluation protocol: per subject, train on its first samples, score
//! its later samples as genuine and the first few samples of every other subject as impostors.
//!
//! The work is split into one job per subject ([`Evaluation::run_subject`]) so that a front-end
//! can spread it over threads; [`Evaluation::summarise`] combines the results.

use std::ops::Range;

use ndarray::{Array2, Axis, s};
use serde::Serialize;
use thiserror::Error;

use super::bundled::CMU;
use super::dataset::{Dataset, Subject};
use super::eer::{error_rates, frr_at_far, rates_at};
use crate::detect::{
    COHORT_SAMPLES, DetectorParams, FitError, LengthMismatch, LevelThresholds, Scorer,
    SecurityLevel, Template,
};

/// Which samples train and test.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Protocol {
    /// How each subject's rows divide into training and genuine test.
    pub split: Split,
    /// How many first rows of every other subject are scored as impostors.
    pub impostor_rows: usize,
    /// Template update between training and test, if simulated.
    pub update: Option<UpdatePhase>,
}

/// How a subject's rows divide into training and genuine test rows; the rows between the two
/// are the update phase's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// Train on the first `train` rows; the genuine test is rows `genuine_from` to
    /// `genuine_to` (every later row when `None`).
    Reps {
        /// Training rows.
        train: usize,
        /// First genuine test row (≥ `train`).
        genuine_from: usize,
        /// End of the genuine test rows (exclusive); `None` for the subject's last row.
        genuine_to: Option<usize>,
    },
    /// Train on session `session` (its first `train` rows, or all), genuine test on every
    /// later session. A subject's rows must be in session order.
    Session {
        /// The training session.
        session: u32,
        /// Training rows taken from it (`None`: all).
        train: Option<usize>,
    },
}

/// The simulated use between enrolment and test: the subject's rows between its training and
/// genuine test rows arrive in time order and each is offered to the [`Template`]. After each,
/// an impostor attempt (rows `probe_rows` of the other subjects in turn, never the test
/// impostor rows) is scored against the guard, to measure how often the update would take an
/// impostor; probes are never added.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UpdatePhase {
    /// Accepted attempts the template keeps.
    pub window: usize,
    /// Rows of the other subjects used as impostor probes.
    pub probe_rows: Range<usize>,
    /// Percentile of the template rows' held-out scores an attempt must reach to be taken
    /// (the product's is [`UPDATE_GUARD_PERCENT`](crate::detect::UPDATE_GUARD_PERCENT)).
    pub guard_percent: f64,
    /// Whose samples the guard's cohort holds ([`cohort_guard`](crate::detect::cohort_guard)).
    pub cohort: Cohort,
    /// Rows of the other subjects that form the cohort (after the probes).
    pub cohort_rows: Range<usize>,
}

impl UpdatePhase {
    /// The product's update, keeping `window` attempts, for a protocol whose impostor rows
    /// are the first `impostor_rows` of each other subject: the probes are the next as many
    /// rows, and the cohort the [`COHORT_SAMPLES`] rows after those, of every other subject.
    pub fn new(window: usize, impostor_rows: usize) -> UpdatePhase {
        let probe_rows = impostor_rows..2 * impostor_rows;
        UpdatePhase {
            window,
            cohort_rows: probe_rows.end..probe_rows.end + COHORT_SAMPLES,
            probe_rows,
            guard_percent: crate::detect::UPDATE_GUARD_PERCENT,
            cohort: Cohort::Others,
        }
    }
}

/// Whose typing the update guard's cohort holds, for a subject under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cohort {
    /// Every other subject, as the product takes every other user enrolled on the phrase:
    /// the impostors probing the guard are people in the cohort (other samples of theirs).
    Others,
    /// Every second other subject (by position in the data set); the probes come from the
    /// rest, so no probing impostor is in the cohort.
    Half,
    /// No cohort: the percentile guard alone.
    None,
}

impl std::str::FromStr for Cohort {
    type Err = String;
    fn from_str(s: &str) -> Result<Cohort, String> {
        match s {
            "others" => Ok(Cohort::Others),
            "half" => Ok(Cohort::Half),
            "none" => Ok(Cohort::None),
            _ => Err(format!("unknown cohort {s:?}: others, half or none")),
        }
    }
}

impl Cohort {
    /// The name `--cohort` takes.
    pub fn id(self) -> &'static str {
        match self {
            Cohort::Others => "others",
            Cohort::Half => "half",
            Cohort::None => "none",
        }
    }

    /// Whether other subject `other` (by position in the data set) is in subject `index`'s
    /// cohort.
    pub fn holds(self, index: usize, other: usize) -> bool {
        match self {
            Cohort::Others => true,
            Cohort::Half => (index + other).is_multiple_of(2),
            Cohort::None => false,
        }
    }

    /// Whether other subject `other` probes subject `index`'s guard: every other subject but,
    /// under [`Cohort::Half`], those in the cohort.
    fn probes(self, index: usize, other: usize) -> bool {
        self != Cohort::Half || !self.holds(index, other)
    }
}

/// One subject's rows under a protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rows {
    /// Training rows.
    pub train: Range<usize>,
    /// Rows offered to the template update (empty without one).
    pub update: Range<usize>,
    /// Genuine test rows.
    pub genuine: Range<usize>,
}

impl Protocol {
    /// The paper's protocol: train on the first `train_samples` of reps 1–200, genuine test
    /// 201–400, impostors the first 5 reps of each other subject.
    pub fn cmu(train_samples: usize) -> Protocol {
        CMU.protocol(train_samples, None)
    }

    /// [`Protocol::cmu`] with template update: enrol on the first `train_samples`, then offer
    /// reps `train_samples + 1`–200 in order to a template keeping `window` attempts, probing
    /// the guard with reps 6–10 of the other subjects; then test as the paper does.
    pub fn cmu_with_update(train_samples: usize, window: usize) -> Protocol {
        CMU.protocol(train_samples, Some(window))
    }

    /// Training rows per subject, where the protocol fixes them.
    pub fn train_samples(&self) -> Option<usize> {
        match self.split {
            Split::Reps { train, .. } => Some(train),
            Split::Session { train, .. } => train,
        }
    }

    /// `subject`'s rows, or why it does not have the ones this protocol needs.
    pub fn rows(&self, subject: &Subject) -> Result<Rows, EvalError> {
        let n = subject.samples_ms.nrows();
        let short = |needed: Range<usize>| EvalError::NotEnoughRows {
            subject: subject.id.clone(),
            rows: n,
            needed,
        };
        let (train, genuine) = match self.split {
            Split::Reps {
                train,
                genuine_from,
                genuine_to,
            } => {
                if genuine_from < train {
                    return Err(EvalError::InvalidProtocol(format!(
                        "the genuine test starts at row {} but training takes rows 1–{train}",
                        genuine_from + 1
                    )));
                }
                let end = genuine_to.unwrap_or(n.max(genuine_from + 1));
                if end > n || end <= genuine_from {
                    return Err(short(0..end.max(genuine_from + 1)));
                }
                (0..train, genuine_from..end)
            }
            Split::Session { session, train } => {
                let sessions = &subject.sessions;
                let first = sessions.iter().position(|&s| s == session);
                let last = sessions.iter().rposition(|&s| s == session);
                let (Some(first), Some(last)) = (first, last) else {
                    return Err(EvalError::NoSession {
                        subject: subject.id.clone(),
                        session,
                    });
                };
                let in_order = sessions.windows(2).all(|w| w[0] <= w[1]);
                if !in_order {
                    return Err(EvalError::InvalidProtocol(format!(
                        "subject {}'s rows are not in session order",
                        subject.id
                    )));
                }
                let take = train.unwrap_or(last + 1 - first);
                if take == 0 || take > last + 1 - first {
                    return Err(short(first..first + take.max(1)));
                }
                if last + 1 == n {
                    return Err(EvalError::NoSession {
                        subject: subject.id.clone(),
                        session: session + 1,
                    });
                }
                (first..first + take, last + 1..n)
            }
        };
        if train.is_empty() {
            return Err(EvalError::InvalidProtocol("no training rows".into()));
        }
        let update = match self.update {
            Some(_) if train.end == genuine.start => {
                return Err(EvalError::InvalidProtocol(format!(
                    "template update needs rows between training (to row {}) and the genuine \
                     test (from row {})",
                    train.end,
                    genuine.start + 1
                )));
            }
            Some(_) => train.end..genuine.start,
            None => train.end..train.end,
        };
        Ok(Rows {
            train,
            update,
            genuine,
        })
    }
}

/// Why an evaluation could not run.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum EvalError {
    /// The protocol asks for rows a subject does not have.
    #[error("subject {subject} has {rows} samples; the protocol needs rows {needed:?}")]
    NotEnoughRows {
        /// The subject.
        subject: String,
        /// Rows it has.
        rows: usize,
        /// Rows needed.
        needed: Range<usize>,
    },
    /// A subject has no rows of a session the protocol needs.
    #[error("subject {subject} has no rows of session {session}")]
    NoSession {
        /// The subject.
        subject: String,
        /// The session.
        session: u32,
    },
    /// The protocol is inconsistent.
    #[error("invalid protocol: {0}")]
    InvalidProtocol(String),
    /// The detector could not be fitted.
    #[error("subject {subject}: {source}")]
    Fit {
        /// The subject.
        subject: String,
        /// The cause.
        source: FitError,
    },
    /// Test and training vectors differ in length.
    #[error(transparent)]
    Length(#[from] LengthMismatch),
}

/// One subject's scores with one seed.
#[derive(Debug, Clone, PartialEq)]
pub struct SubjectScores {
    /// Scores of the genuine test rows.
    pub genuine: Vec<f64>,
    /// Scores of the impostor rows.
    pub impostor: Vec<f64>,
    /// The product's acceptance threshold for the final model (at the default security level
    /// where the detector has levels).
    pub threshold: f64,
    /// The final model's threshold at each security level (none for the isolation forest).
    pub levels: Option<LevelThresholds>,
    /// Share of the update phase's attempts the template took (0 without one).
    pub updates_taken: f64,
    /// Share of the impostor probes that would have passed the update guard (0 without one).
    pub impostor_updates: f64,
}

impl SubjectScores {
    /// The rates at each security level, where the model has levels.
    fn level_rates(&self) -> Option<Vec<LevelRates>> {
        let levels = self.levels?;
        let rates = SecurityLevel::ALL.map(|level| {
            let (frr, far) = rates_at(&self.genuine, &self.impostor, levels.at(level));
            LevelRates { level, far, frr }
        });
        Some(rates.to_vec())
    }
}

/// One subject's rates, averaged over seeds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubjectResult {
    /// The subject.
    pub subject: String,
    /// Equal-error rate.
    pub eer: f64,
    /// False-alarm rate at zero miss.
    pub zero_miss_far: f64,
    /// False-reject rate where at most 1 % of impostor samples are accepted.
    pub frr_at_far_1pc: f64,
    /// False-reject rate where at most 0.1 % of impostor samples are accepted (with 250
    /// impostor samples per subject, none: the zero-miss rate).
    pub frr_at_far_01pc: f64,
    /// False-reject rate at the product's threshold.
    pub threshold_frr: f64,
    /// False-accept rate at the product's threshold.
    pub threshold_far: f64,
    /// Share of update attempts taken.
    pub updates_taken: f64,
    /// Share of impostor probes that would have been taken.
    pub impostor_updates: f64,
    /// The rates at each security level (absent for the isolation forest).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub levels: Option<Vec<LevelRates>>,
}

/// False-accept and false-reject rates at one security level.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LevelRates {
    /// The level.
    pub level: SecurityLevel,
    /// Share of impostor attempts accepted.
    pub far: f64,
    /// Share of genuine attempts rejected.
    pub frr: f64,
}

/// The mean of `rates` (each a list in [`SecurityLevel::ALL`]'s order), or `None` unless every
/// one has levels.
fn mean_level_rates<'a>(
    rates: impl ExactSizeIterator<Item = Option<&'a [LevelRates]>>,
) -> Option<Vec<LevelRates>> {
    let n = rates.len() as f64;
    let mut sums: Vec<LevelRates> = SecurityLevel::ALL
        .iter()
        .map(|&level| LevelRates {
            level,
            far: 0.0,
            frr: 0.0,
        })
        .collect();
    for one in rates {
        for (sum, rate) in sums.iter_mut().zip(one?) {
            sum.far += rate.far / n;
            sum.frr += rate.frr / n;
        }
    }
    Some(sums)
}

impl SubjectResult {
    /// The rates of `runs` (one per seed), averaged.
    pub fn of(subject: String, runs: &[SubjectScores]) -> SubjectResult {
        let n = runs.len() as f64;
        let mean = |f: &dyn Fn(&SubjectScores) -> f64| runs.iter().map(f).sum::<f64>() / n;
        let rates = |r: &SubjectScores| {
            error_rates(&r.genuine, &r.impostor)
                .expect("protocol guarantees non-empty genuine and impostor sets")
        };
        let frr = |r: &SubjectScores, far| {
            frr_at_far(&r.genuine, &r.impostor, far).expect("non-empty sets")
        };
        let per_run: Vec<Option<Vec<LevelRates>>> =
            runs.iter().map(SubjectScores::level_rates).collect();
        SubjectResult {
            subject,
            eer: mean(&|r| rates(r).eer),
            zero_miss_far: mean(&|r| rates(r).zero_miss_far),
            frr_at_far_1pc: mean(&|r| frr(r, 0.01)),
            frr_at_far_01pc: mean(&|r| frr(r, 0.001)),
            threshold_frr: mean(&|r| rates_at(&r.genuine, &r.impostor, r.threshold).0),
            threshold_far: mean(&|r| rates_at(&r.genuine, &r.impostor, r.threshold).1),
            updates_taken: mean(&|r| r.updates_taken),
            impostor_updates: mean(&|r| r.impostor_updates),
            levels: mean_level_rates(per_run.iter().map(Option::as_deref)),
        }
    }
}

/// A detector's result over all subjects.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DetectorResult {
    /// Detector id.
    pub name: String,
    /// Mean EER over subjects.
    pub eer_mean: f64,
    /// Standard deviation (n − 1) of the per-subject EERs.
    pub eer_sd: f64,
    /// Mean zero-miss false-alarm rate.
    pub zero_miss_far_mean: f64,
    /// Mean false-reject rate at a false-accept rate of 1 %.
    pub frr_at_far_1pc_mean: f64,
    /// Mean false-reject rate at a false-accept rate of 0.1 %.
    pub frr_at_far_01pc_mean: f64,
    /// Mean false-reject rate at the product's thresholds.
    pub threshold_frr_mean: f64,
    /// Mean false-accept rate at the product's thresholds.
    pub threshold_far_mean: f64,
    /// Mean share of update attempts taken.
    pub updates_taken_mean: f64,
    /// Mean share of impostor probes that would have been taken.
    pub impostor_updates_mean: f64,
    /// Mean rates at each security level (absent for the isolation forest).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub levels_mean: Option<Vec<LevelRates>>,
    /// Per-subject rates (not serialised: reports give the means).
    #[serde(skip_serializing)]
    pub subjects: Vec<SubjectResult>,
}

/// One detector evaluated on one dataset under one protocol.
#[derive(Debug, Clone)]
pub struct Evaluation<'a> {
    data: &'a Dataset,
    protocol: Protocol,
    rows: Vec<Rows>,
    params: DetectorParams,
    seeds: Vec<u64>,
}

impl<'a> Evaluation<'a> {
    /// Checks that every subject has the rows the protocol needs. `seeds` are used by
    /// randomised detectors (results are averaged over them) and ignored by the others.
    pub fn new(
        data: &'a Dataset,
        protocol: Protocol,
        params: DetectorParams,
        seeds: &[u64],
    ) -> Result<Evaluation<'a>, EvalError> {
        if protocol.impostor_rows == 0 {
            return Err(EvalError::InvalidProtocol("no impostor rows".into()));
        }
        if data.subjects.len() < 2 {
            return Err(EvalError::InvalidProtocol(
                "at least 2 subjects are needed".into(),
            ));
        }
        let others_need = protocol
            .update
            .as_ref()
            .map_or(0, |u| match u.cohort {
                Cohort::None => u.probe_rows.end,
                _ => u.probe_rows.end.max(u.cohort_rows.end),
            })
            .max(protocol.impostor_rows);
        if protocol
            .update
            .as_ref()
            .is_some_and(|u| u.cohort == Cohort::Half)
            && data.subjects.len() < 3
        {
            return Err(EvalError::InvalidProtocol(
                "a cohort of half the other subjects needs at least 3 subjects".into(),
            ));
        }
        let rows = data
            .subjects
            .iter()
            .map(|subject| {
                if subject.samples_ms.nrows() < others_need {
                    return Err(EvalError::NotEnoughRows {
                        subject: subject.id.clone(),
                        rows: subject.samples_ms.nrows(),
                        needed: 0..others_need,
                    });
                }
                protocol.rows(subject)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let seeds = if params.kind().is_randomised() {
            seeds.to_vec()
        } else {
            vec![0]
        };
        if seeds.is_empty() {
            return Err(EvalError::InvalidProtocol("no seeds given".into()));
        }
        Ok(Evaluation {
            data,
            protocol,
            rows,
            params,
            seeds,
        })
    }

    /// Number of jobs: one per subject.
    pub fn n_subjects(&self) -> usize {
        self.data.subjects.len()
    }

    /// Trains and tests subject `index`, averaging over seeds.
    pub fn run_subject(&self, index: usize) -> Result<SubjectResult, EvalError> {
        let runs = self
            .seeds
            .iter()
            .map(|&seed| self.subject_scores(index, seed))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SubjectResult::of(
            self.data.subjects[index].id.clone(),
            &runs,
        ))
    }

    /// Subject `index`'s scores with the detector fitted with `seed` (also for ROC and DET
    /// curves), after the update phase if the protocol has one.
    pub fn subject_scores(&self, index: usize, seed: u64) -> Result<SubjectScores, EvalError> {
        let subject = &self.data.subjects[index];
        let rows = &self.rows[index];
        let fit_error = |source| EvalError::Fit {
            subject: subject.id.clone(),
            source,
        };
        let params = self.params.clone().with_seed(seed);
        let window = self.protocol.update.as_ref().map_or(0, |u| u.window);
        let mut template =
            Template::new(subject.samples_ms.slice(s![rows.train.clone(), ..]), window);
        if let Some(update) = &self.protocol.update {
            template = template.with_guard_percent(update.guard_percent);
            if update.cohort != Cohort::None {
                let in_cohort = |other| update.cohort.holds(index, other);
                template = template.with_cohort(self.others_rows(
                    index,
                    update.cohort_rows.clone(),
                    in_cohort,
                ));
            }
        }
        let (mut updates_taken, mut impostor_updates) = (0.0, 0.0);
        if let Some(update) = &self.protocol.update {
            let probes = self.probe_rows(index, update.probe_rows.clone(), update.cohort);
            for (k, row) in rows.update.clone().enumerate() {
                let current = template.fit(&params).map_err(fit_error)?;
                let probe = probes.row(k % probes.nrows()).to_vec();
                if current.model.score(&probe)? >= current.guard {
                    impostor_updates += 1.0;
                }
                let attempt = subject.samples_ms.row(row).to_vec();
                if template.offer(&current, &attempt).map_err(fit_error)? {
                    updates_taken += 1.0;
                }
            }
            let offered = rows.update.len().max(1) as f64;
            (updates_taken, impostor_updates) =
                (updates_taken / offered, impostor_updates / offered);
        }
        let kept = template.rows();
        let (model, thresholds) = params.fit_with_thresholds(kept.view()).map_err(fit_error)?;
        let threshold = thresholds.at(SecurityLevel::default());
        let genuine = subject.samples_ms.slice(s![rows.genuine.clone(), ..]);
        Ok(SubjectScores {
            levels: thresholds.levels,
            genuine: model.score_rows(genuine)?,
            impostor: model.score_rows(self.impostor_rows(index).view())?,
            threshold,
            updates_taken,
            impostor_updates,
        })
    }

    /// The protocol.
    pub fn protocol(&self) -> &Protocol {
        &self.protocol
    }

    /// Subject `index`'s rows.
    pub fn rows(&self, index: usize) -> &Rows {
        &self.rows[index]
    }

    /// The seeds averaged over.
    pub fn seeds(&self) -> &[u64] {
        &self.seeds
    }

    fn impostor_rows(&self, index: usize) -> Array2<f64> {
        self.others_rows(index, 0..self.protocol.impostor_rows, |_| true)
    }

    /// Impostor probes: row `r` of every other subject not in `cohort` (all of them but under
    /// [`Cohort::Half`]) for each `r` in `rows`, subjects first.
    fn probe_rows(&self, index: usize, rows: Range<usize>, cohort: Cohort) -> Array2<f64> {
        let probing = |other| cohort.probes(index, other);
        let parts: Vec<Array2<f64>> = rows
            .map(|r| self.others_rows(index, r..r + 1, probing))
            .collect();
        let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
        ndarray::concatenate(Axis(0), &views).expect("all subjects have the same features")
    }

    /// Rows `rows` of every subject but `index` that `keep` keeps (by position), subject by
    /// subject; none when it keeps none (a cohort of half of two or three subjects).
    fn others_rows(
        &self,
        index: usize,
        rows: Range<usize>,
        keep: impl Fn(usize) -> bool,
    ) -> Array2<f64> {
        let parts: Vec<_> = self
            .data
            .subjects
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != index && keep(i))
            .map(|(_, s)| s.samples_ms.slice(s![rows.clone(), ..]))
            .collect();
        if parts.is_empty() {
            return Array2::zeros((0, self.data.subjects[index].samples_ms.ncols()));
        }
        ndarray::concatenate(Axis(0), &parts).expect("all subjects have the same features")
    }

    /// Combines per-subject results (in subject order) into the detector's result.
    pub fn summarise(&self, subjects: Vec<SubjectResult>) -> DetectorResult {
        let n = subjects.len() as f64;
        let eer_mean = subjects.iter().map(|s| s.eer).sum::<f64>() / n;
        let variance = subjects
            .iter()
            .map(|s| (s.eer - eer_mean).powi(2))
            .sum::<f64>()
            / (n - 1.0);
        let mean = |f: fn(&SubjectResult) -> f64| subjects.iter().map(f).sum::<f64>() / n;
        DetectorResult {
            name: self.params.kind().id().to_string(),
            eer_mean,
            eer_sd: variance.sqrt(),
            zero_miss_far_mean: mean(|s| s.zero_miss_far),
            frr_at_far_1pc_mean: mean(|s| s.frr_at_far_1pc),
            frr_at_far_01pc_mean: mean(|s| s.frr_at_far_01pc),
            threshold_frr_mean: mean(|s| s.threshold_frr),
            threshold_far_mean: mean(|s| s.threshold_far),
            updates_taken_mean: mean(|s| s.updates_taken),
            impostor_updates_mean: mean(|s| s.impostor_updates),
            levels_mean: mean_level_rates(subjects.iter().map(|s| s.levels.as_deref())),
            subjects,
        }
    }

    /// Runs every subject on the calling thread.
    pub fn run(&self) -> Result<DetectorResult, EvalError> {
        let results = (0..self.n_subjects())
            .map(|i| self.run_subject(i))
            .collect::<Result<_, _>>()?;
        Ok(self.summarise(results))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn subject(sessions: Vec<u32>) -> Subject {
        Subject {
            id: "s1".into(),
            samples_ms: Array2::zeros((sessions.len(), 4)),
            sessions,
        }
    }

    fn reps(train: usize, genuine_from: usize, update: bool) -> Protocol {
        Protocol {
            split: Split::Reps {
                train,
                genuine_from,
                genuine_to: None,
            },
            impostor_rows: 2,
            update: update.then_some(UpdatePhase {
                window: 3,
                probe_rows: 2..4,
                guard_percent: crate::detect::UPDATE_GUARD_PERCENT,
                cohort: Cohort::None,
                cohort_rows: 4..4,
            }),
        }
    }

    #[test]
    fn reps_train_first_update_between_and_test_the_rest() {
        let rows = reps(2, 5, true).rows(&subject(vec![1; 8])).unwrap();
        assert_eq!((rows.train, rows.update, rows.genuine), (0..2, 2..5, 5..8));
        let rows = reps(2, 2, false).rows(&subject(vec![1; 8])).unwrap();
        assert_eq!((rows.update, rows.genuine), (2..2, 2..8));
    }

    #[test]
    fn impossible_reps_are_refused_with_the_reason() {
        let s = subject(vec![1; 5]);
        let err = reps(2, 5, false).rows(&s).unwrap_err();
        assert_eq!(
            err.to_string(),
            "subject s1 has 5 samples; the protocol needs rows 0..6"
        );
        let err = reps(3, 3, true).rows(&s).unwrap_err();
        assert!(
            err.to_string()
                .contains("template update needs rows between"),
            "{err}"
        );
        assert!(reps(3, 2, false).rows(&s).is_err());
    }

    #[test]
    fn a_session_trains_and_later_sessions_test() {
        let s = subject(vec![1, 1, 1, 2, 2, 3]);
        let session = |session, train| Protocol {
            split: Split::Session { session, train },
            ..reps(1, 1, false)
        };
        let rows = session(1, None).rows(&s).unwrap();
        assert_eq!((rows.train, rows.genuine), (0..3, 3..6));
        let rows = session(2, Some(1)).rows(&s).unwrap();
        assert_eq!((rows.train, rows.genuine), (3..4, 5..6));
        assert_eq!(
            session(3, None).rows(&s).unwrap_err().to_string(),
            "subject s1 has no rows of session 4"
        );
        assert!(session(7, None).rows(&s).is_err());
        let unordered = subject(vec![1, 2, 1, 2]);
        assert!(session(1, None).rows(&unordered).is_err());
    }

    /// Three subjects typing alike but each at their own pace, 12 reps each.
    fn three_subjects() -> Dataset {
        let subjects = (0..3)
            .map(|k| Subject {
                id: format!("s{k}"),
                samples_ms: Array2::from_shape_fn((12, 4), |(rep, feature)| {
                    100.0 * (k + 1) as f64
                        + 10.0 * feature as f64
                        + ((rep * 7 + feature) % 5) as f64
                }),
                sessions: vec![1; 12],
            })
            .collect();
        Dataset {
            feature_names: (0..4).map(|f| format!("f{f}")).collect(),
            subjects,
            skipped: Vec::new(),
        }
    }

    #[test]
    fn cohorts_split_the_other_subjects_and_may_leave_one_without() {
        assert!(Cohort::Half.holds(0, 2) && Cohort::Half.probes(0, 1));
        assert!(!Cohort::Half.probes(0, 2) && !Cohort::Half.holds(0, 1));
        assert!(Cohort::Others.holds(0, 1) && Cohort::Others.probes(0, 1));
        assert!(!Cohort::None.holds(0, 1) && Cohort::None.probes(0, 1));
        let data = three_subjects();
        for cohort in [Cohort::Others, Cohort::Half, Cohort::None] {
            let mut update = UpdatePhase::new(20, 2);
            update.cohort = cohort;
            let protocol = Protocol {
                split: Split::Reps {
                    train: 3,
                    genuine_from: 9,
                    genuine_to: None,
                },
                impostor_rows: 2,
                update: Some(update),
            };
            let evaluation =
                Evaluation::new(&data, protocol, DetectorParams::default(), &[0]).unwrap();
            // Under `half`, subject 1 has no cohort (both others probe): it runs all the same.
            for i in 0..3 {
                evaluation.subject_scores(i, 0).unwrap();
            }
        }
    }
}
