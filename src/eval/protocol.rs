//! The Killourhy & Maxion evaluation protocol: per subject, train on its first samples, score
//! its later samples as genuine and the first few samples of every other subject as impostors.
//!
//! The work is split into one job per subject ([`Evaluation::run_subject`]) so that a front-end
//! can spread it over threads; [`Evaluation::summarise`] combines the results.

use std::ops::Range;

use ndarray::{Array2, Axis, s};
use serde::Serialize;
use thiserror::Error;

use super::cmu::Dataset;
use super::eer::error_rates;
use crate::detect::{DetectorParams, FitError, LengthMismatch, Scorer};

/// Which samples train and test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Protocol {
    /// Rows of each subject to train on.
    pub train: Range<usize>,
    /// Rows of each subject scored as genuine.
    pub genuine: Range<usize>,
    /// How many first rows of every other subject are scored as impostors.
    pub impostor_rows: usize,
}

impl Protocol {
    /// The paper's protocol: train on the first `train_samples` of reps 1–200, genuine test
    /// 201–400, impostors the first 5 reps of each other subject.
    pub fn cmu(train_samples: usize) -> Protocol {
        Protocol {
            train: 0..train_samples,
            genuine: 200..400,
            impostor_rows: 5,
        }
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

/// One subject's rates, averaged over seeds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubjectResult {
    /// The subject.
    pub subject: String,
    /// Equal-error rate.
    pub eer: f64,
    /// False-alarm rate at zero miss.
    pub zero_miss_far: f64,
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
    /// Per-subject rates.
    pub subjects: Vec<SubjectResult>,
}

/// One detector evaluated on one dataset under one protocol.
#[derive(Debug, Clone)]
pub struct Evaluation<'a> {
    data: &'a Dataset,
    protocol: Protocol,
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
        if protocol.train.is_empty() || protocol.genuine.is_empty() || protocol.impostor_rows == 0 {
            return Err(EvalError::InvalidProtocol(format!(
                "{protocol:?} has an empty part"
            )));
        }
        if data.subjects.len() < 2 {
            return Err(EvalError::InvalidProtocol(
                "at least 2 subjects are needed".into(),
            ));
        }
        let needed = 0..protocol
            .train
            .end
            .max(protocol.genuine.end)
            .max(protocol.impostor_rows);
        if let Some(subject) = data
            .subjects
            .iter()
            .find(|s| s.samples_ms.nrows() < needed.end)
        {
            return Err(EvalError::NotEnoughRows {
                subject: subject.id.clone(),
                rows: subject.samples_ms.nrows(),
                needed,
            });
        }
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
        let (mut eer, mut zero_miss_far) = (0.0, 0.0);
        for &seed in &self.seeds {
            let (genuine, impostor) = self.subject_scores(index, seed)?;
            let rates = error_rates(&genuine, &impostor)
                .expect("protocol guarantees non-empty genuine and impostor sets");
            eer += rates.eer;
            zero_miss_far += rates.zero_miss_far;
        }
        let n = self.seeds.len() as f64;
        Ok(SubjectResult {
            subject: self.data.subjects[index].id.clone(),
            eer: eer / n,
            zero_miss_far: zero_miss_far / n,
        })
    }

    /// Subject `index`'s genuine and impostor scores with the detector fitted with `seed`
    /// (for ROC and DET curves).
    pub fn subject_scores(
        &self,
        index: usize,
        seed: u64,
    ) -> Result<(Vec<f64>, Vec<f64>), EvalError> {
        let subject = &self.data.subjects[index];
        let train = subject
            .samples_ms
            .slice(s![self.protocol.train.clone(), ..]);
        let genuine = subject
            .samples_ms
            .slice(s![self.protocol.genuine.clone(), ..]);
        let model = self
            .params
            .clone()
            .with_seed(seed)
            .fit(train)
            .map_err(|source| EvalError::Fit {
                subject: subject.id.clone(),
                source,
            })?;
        Ok((
            model.score_rows(genuine)?,
            model.score_rows(self.impostor_rows(index).view())?,
        ))
    }

    /// The seeds averaged over.
    pub fn seeds(&self) -> &[u64] {
        &self.seeds
    }

    fn impostor_rows(&self, index: usize) -> Array2<f64> {
        let parts: Vec<_> = self
            .data
            .subjects
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != index)
            .map(|(_, s)| s.samples_ms.slice(s![..self.protocol.impostor_rows, ..]))
            .collect();
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
        DetectorResult {
            name: self.params.kind().id().to_string(),
            eer_mean,
            eer_sd: variance.sqrt(),
            zero_miss_far_mean: subjects.iter().map(|s| s.zero_miss_far).sum::<f64>() / n,
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
