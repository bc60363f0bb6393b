//! What the store keeps about a user: the metadata record (the commit point of every write) and
//! the fitted-model file.

use serde::{Deserialize, Serialize};

use super::versioned::FileFormat;
use super::{LocalTime, UserId};
use crate::detect::{
    DetectorKind, DetectorParams, FittedDetector, LengthMismatch, LevelThresholds, Scorer,
    SecurityLevel,
};
use crate::features::feature_len;

/// `<id>_metadata.json`. Version 2 adds `excluded` and `participant_records`; a metadata with
/// neither is still written as version 1, with the same keys and values as before (`format`
/// and `version` first), so older builds keep reading it.
pub const METADATA_FORMAT: FileFormat = FileFormat {
    name: "keystroke-workbench/metadata",
    version: 2,
};

/// `<id>.model.json`.
pub const MODEL_FORMAT: FileFormat = FileFormat {
    name: "keystroke-workbench/model",
    version: 1,
};

/// `<id>_throttle.json` (older builds; read, never written).
pub const THROTTLE_FORMAT: FileFormat = FileFormat {
    name: "keystroke-workbench/throttle",
    version: 1,
};

/// A user's failed-authentication state, kept across restarts: a line of `throttle.log` (older
/// builds wrote `<id>_throttle.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThrottleState {
    /// Failed /predict calls since the last success or lockout.
    pub consecutive_failures: u32,
    /// Lockouts since the last success (each doubles the next one).
    pub lockouts: u32,
    /// End of the current lockout, if any (a file with an unreadable time is damaged, never
    /// read as "not locked").
    pub locked_until: Option<LocalTime>,
}

/// A user's metadata. Written last by every change, it says what is committed: the first
/// `samples` rows of the features file and the first `samples_file_bytes` bytes of the samples
/// file; anything after them is the remains of an interrupted write and is ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// The user.
    pub user_id: UserId,
    /// Committed samples.
    pub samples: usize,
    /// Length of every feature vector (`3n − 2`).
    pub feature_length: usize,
    /// The enrolled phrase, as keys in press order.
    pub key_sequence: Vec<String>,
    /// The user's detector: the current model's, or the last one's while an exclusion left
    /// too few samples in use for a model (`trained_at` then absent).
    pub detector: Option<DetectorKind>,
    /// Its parameters.
    pub params: Option<DetectorParams>,
    /// When the current model was trained (local time, ISO 8601); absent without a model.
    pub trained_at: Option<LocalTime>,
    /// When the user was created.
    pub created_at: LocalTime,
    /// When the samples last changed (one added, excluded or restored).
    pub updated_at: LocalTime,
    /// Committed length of the samples file.
    pub samples_file_bytes: u64,
    /// Committed samples the operator excluded (0-based, ascending): kept in the files, never
    /// trained on, counted or exported, and restorable.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded: Vec<usize>,
    /// Some sample lines carry a participant record (`session`, `device`, `notes`), which
    /// builds before it cannot read: the metadata is then written as version 2, which they
    /// refuse as a whole rather than call the samples damaged.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub participant_records: bool,
}

impl Metadata {
    /// Checks internal consistency and that the record belongs to `user`.
    pub(super) fn validate(&self, user: &UserId) -> Result<(), String> {
        if &self.user_id != user {
            return Err(format!("it names user {:?}", self.user_id.as_str()));
        }
        if self.samples == 0 {
            return Err("it records 0 samples".into());
        }
        if self.feature_length != feature_len(self.key_sequence.len())
            || self.key_sequence.len() < 2
        {
            return Err(format!(
                "feature_length {} does not fit a key sequence of {} keys",
                self.feature_length,
                self.key_sequence.len()
            ));
        }
        if self.detector != self.params.as_ref().map(DetectorParams::kind) {
            return Err("detector and params disagree".into());
        }
        if !self.excluded.is_sorted_by(|a, b| a < b)
            || self
                .excluded
                .last()
                .is_some_and(|&last| last >= self.samples)
        {
            return Err(format!(
                "excluded samples {:?} are not distinct samples of the {} committed",
                self.excluded, self.samples
            ));
        }
        Ok(())
    }

    /// The format this record is written in: version 1 while nothing needs version 2 (an
    /// excluded sample, a participant record).
    pub(super) fn format(&self) -> FileFormat {
        if self.excluded.is_empty() && !self.participant_records {
            FileFormat {
                version: 1,
                ..METADATA_FORMAT
            }
        } else {
            METADATA_FORMAT
        }
    }

    /// The current model's detector (`None` without a model).
    pub fn trained_detector(&self) -> Option<DetectorKind> {
        self.detector.filter(|_| self.trained_at.is_some())
    }

    /// What the user's model is, in a few words: "scaled Manhattan, trained on 19 samples",
    /// or why there is none.
    pub fn model_summary(&self, min_samples: usize) -> String {
        match self.trained_detector() {
            Some(kind) => format!("{} trained on {}", kind.id(), self.active_samples()),
            None => format!(
                "no model ({} samples in use, {} needed)",
                self.active_samples(),
                min_samples.max(1)
            ),
        }
    }

    /// Samples in use: the committed ones less the excluded.
    pub fn active_samples(&self) -> usize {
        self.samples - self.excluded.len()
    }

    /// Whether committed sample `index` (0-based) is excluded.
    pub fn is_excluded(&self, index: usize) -> bool {
        self.excluded.binary_search(&index).is_ok()
    }

    /// The committed samples in use (0-based, ascending).
    pub fn active_indices(&self) -> Vec<usize> {
        (0..self.samples)
            .filter(|&i| !self.is_excluded(i))
            .collect()
    }
}

/// `<id>.model.json`: a fitted detector and what it was trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    /// The user.
    pub user_id: UserId,
    /// When it was trained (local time, ISO 8601).
    pub trained_at: LocalTime,
    /// How many samples it was trained on: the first ones, less those excluded.
    pub trained_on_samples: usize,
    /// The phrase it was trained on.
    pub key_sequence: Vec<String>,
    /// Parameters it was fitted with.
    pub params: DetectorParams,
    /// The fitted detector.
    pub model: FittedDetector,
    /// The detector's own threshold ([`FittedDetector::thresholds`]): scores at or above it are
    /// genuine where the model has no `levels` (the isolation forest's `offset_`; for the
    /// others it equals `levels.convenient`).
    pub threshold: f64,
    /// Accepted attempts (`<id>_updates.npy`) it was trained on besides the samples.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub trained_on_updates: usize,
    /// Score an accepted attempt must reach to update the template
    /// ([`FittedDetector::thresholds`]); absent in models written before template update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_guard: Option<f64>,
    /// The threshold at each security level ([`FittedDetector::thresholds`]); absent for
    /// the isolation forest (`threshold` at every level) and in files written before levels,
    /// which get them when the store reads them ([`ModelFile::complete_levels`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub levels: Option<LevelThresholds>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl ModelFile {
    /// The threshold at `level` (`threshold` where the model has none per level).
    pub fn threshold_at(&self, level: SecurityLevel) -> f64 {
        self.levels
            .map_or(self.threshold, |levels| levels.at(level))
    }

    /// Whether `level` changes this model's threshold (not for the isolation forest).
    pub fn has_levels(&self) -> bool {
        self.levels.is_some()
    }

    /// `score − threshold at level`: non-negative means genuine. For the isolation forest this
    /// is scikit-learn's `decision_function` at every level. Always finite (JSON has no
    /// infinity): timings so far off that a distance overflows saturate at ±`f64::MAX`, and a
    /// NaN counts as −`f64::MAX`.
    pub fn decision_at(&self, level: SecurityLevel, x: &[f64]) -> Result<f64, LengthMismatch> {
        let decision = self.model.score(x)? - self.threshold_at(level);
        Ok(if decision.is_nan() {
            -f64::MAX
        } else {
            decision.clamp(-f64::MAX, f64::MAX)
        })
    }

    /// Gives a model written before security levels (its detector has them) its levels, from
    /// `rows`, those it was fitted on (the samples in use, then the template's updates): its own
    /// threshold stays the `convenient` one, so it judges there as it always did, and the
    /// stricter levels are the percentiles of its held-out scores, never looser than the level
    /// below. Nothing changes for a model with levels or a detector without them (the
    /// isolation forest). Refused (the model keeps its one threshold) where `rows` cannot be
    /// the rows it was fitted on: too few, or giving another threshold or update guard.
    pub fn complete_levels(&mut self, rows: ndarray::ArrayView2<f64>) -> Result<(), String> {
        let kind = self.params.kind();
        if self.levels.is_some() || !kind.has_levels() {
            return Ok(());
        }
        let needed = kind.min_rows().max(1);
        if rows.nrows() < needed {
            return Err(format!("{} training rows, it needs {needed}", rows.nrows()));
        }
        let learnt = self.model.thresholds(rows).map_err(|e| e.to_string())?;
        let same = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0);
        if !same(learnt.threshold, self.threshold)
            || self
                .update_guard
                .is_some_and(|g| !same(learnt.update_guard, g))
        {
            return Err(format!(
                "the stored rows give threshold {} and update guard {} where the file has {} and \
                 {:?}: they are not the rows it was trained on",
                learnt.threshold, learnt.update_guard, self.threshold, self.update_guard
            ));
        }
        if let Some(held_out) = learnt.levels {
            let balanced = held_out.balanced.max(self.threshold);
            self.levels = Some(LevelThresholds {
                convenient: self.threshold,
                balanced,
                strict: held_out.strict.max(balanced),
            });
        }
        Ok(())
    }

    /// Whether attempt `x` scores well enough to update the template.
    pub fn takes_update(&self, x: &[f64]) -> bool {
        self.update_guard
            .is_some_and(|guard| self.model.score(x).is_ok_and(|score| score >= guard))
    }

    pub(super) fn validate(&self, user: &UserId) -> Result<(), String> {
        if &self.user_id != user {
            return Err(format!("it names user {:?}", self.user_id.as_str()));
        }
        if let Some(guard) = self.update_guard
            && !guard.is_finite()
        {
            return Err(format!("update_guard {guard} is not finite"));
        }
        if !self.threshold.is_finite() {
            return Err(format!("threshold {} is not finite", self.threshold));
        }
        if let Some(levels) = &self.levels {
            if !self.params.kind().has_levels() {
                return Err(format!(
                    "it gives security levels to the {}, which judges by one threshold",
                    self.params.kind().label()
                ));
            }
            levels.validate()?;
        }
        if self.model.kind() != self.params.kind() {
            return Err("model and params are of different detectors".into());
        }
        if self.model.n_features() != feature_len(self.key_sequence.len()) {
            return Err(format!(
                "the model takes {} features, its key sequence gives {}",
                self.model.n_features(),
                feature_len(self.key_sequence.len())
            ));
        }
        Ok(())
    }
}
