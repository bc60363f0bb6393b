//! A live impostor demo: one user's attempts as they were judged — score, verdict, who the
//! operator said typed it (set in advance or after) and the attempt's events — saved as a JSON
//! file, opened again, and exported as CSV; and why a verdict fell: each timing's deviation
//! from the user's samples.
//!
//! ```json
//! {"format": "keystroke-workbench/demo", "version": 1, "user_id": "alice",
//!  "attempts": [{"number": 1, "at": "2026-12-04T10:00:00.000000", "score": 0.12,
//!                "accepted": true, "label": "genuine", "typist": "alice",
//!                "keystroke_data": [...]}]}
//! ```

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::auth::TYPICAL_Z;
use crate::capture::KeyEvent;
use crate::detect::SecurityLevel;
use crate::detect::tempo::robust_template;
use crate::eval::{Attempt, Label, SessionRates};
use crate::features::feature_names;
use crate::store::{LocalTime, atomic};

/// `format` of demo files.
pub const DEMO_FORMAT: &str = "keystroke-workbench/demo";

/// Why a demo file could not be read or written, naming the file.
#[derive(Debug, Error)]
pub enum DemoError {
    /// The file system refused.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// `read` or `write`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// Not a demo file (or another format or version).
    #[error("{} is not a {DEMO_FORMAT} version 1 or 2 file: {why}", path.display())]
    NotDemo {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        why: String,
    },
}

/// One judged attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoAttempt {
    /// Its number in the demo, from 1.
    pub number: usize,
    /// When it was judged (local time).
    pub at: LocalTime,
    /// `confidence_score` (≥ 0 accepts; −1 for an attempt refused before scoring).
    pub score: f64,
    /// The verdict.
    pub accepted: bool,
    /// Why it was rejected, when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Whether the enrolled user (genuine) or someone else (impostor) typed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Label>,
    /// Who typed it, as the operator named them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typist: Option<String>,
    /// The security level it was judged at (absent for a model with one threshold, and in
    /// demos saved before levels), so a demo whose level changed part-way reads right.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_level: Option<SecurityLevel>,
    /// Its events.
    pub keystroke_data: Vec<KeyEvent>,
}

/// A demo: the attempts at one user's model, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoSession {
    /// Always [`DEMO_FORMAT`].
    pub format: String,
    /// Format version: 2 when an attempt records its security level, else 1 (older builds
    /// read those); set when written.
    pub version: u32,
    /// The user whose model judged.
    pub user_id: String,
    /// The attempts.
    pub attempts: Vec<DemoAttempt>,
}

impl DemoSession {
    /// Whether this demo may be saved over `existing` without losing anything: the same
    /// user's demo, every attempt of which is one of this demo's first (their labels may have
    /// changed since).
    pub fn extends(&self, existing: &DemoSession) -> bool {
        self.user_id == existing.user_id
            && existing.attempts.len() <= self.attempts.len()
            && existing
                .attempts
                .iter()
                .zip(&self.attempts)
                .all(|(old, new)| old.number == new.number && old.at == new.at)
    }

    /// An empty demo against `user`'s model.
    pub fn new(user: &str) -> DemoSession {
        DemoSession {
            format: DEMO_FORMAT.into(),
            version: 1,
            user_id: user.into(),
            attempts: Vec::new(),
        }
    }

    /// The session's false-acceptance and false-rejection counts over its labelled attempts.
    pub fn rates(&self) -> SessionRates {
        SessionRates::of(&self.scored())
    }

    /// The attempts as scores and labels.
    pub fn scored(&self) -> Vec<Attempt> {
        self.attempts
            .iter()
            .map(|a| Attempt {
                score: a.score,
                label: a.label,
            })
            .collect()
    }

    /// Reads a demo file.
    pub fn read(path: &Path) -> Result<DemoSession, DemoError> {
        let bytes = std::fs::read(path).map_err(|source| DemoError::Io {
            action: "read",
            path: path.into(),
            source,
        })?;
        let not_demo = |why: String| DemoError::NotDemo {
            path: path.into(),
            why,
        };
        let session: DemoSession =
            serde_json::from_slice(&bytes).map_err(|e| not_demo(e.to_string()))?;
        if session.format != DEMO_FORMAT || !(1..=2).contains(&session.version) {
            return Err(not_demo(format!(
                "it is {:?} version {}",
                session.format, session.version
            )));
        }
        Ok(session)
    }

    /// Writes the demo as JSON, atomically (a crash or a full disk leaves the old file or the
    /// whole new one).
    pub fn write(&self, path: &Path) -> Result<(), DemoError> {
        // Version 2 adds the attempts' security levels; a demo without them stays version 1,
        // which older builds read.
        let levels = self.attempts.iter().any(|a| a.security_level.is_some());
        let file = DemoSession {
            version: if levels { 2 } else { 1 },
            ..self.clone()
        };
        atomic::replace(path, |out| {
            serde_json::to_writer_pretty(&mut *out, &file)?;
            out.write_all(b"\n")
        })
        .map_err(|source| DemoError::Io {
            action: "write",
            path: path.into(),
            source,
        })
    }

    /// The attempts as CSV, a row each:
    /// `number,at,user_id,label,typist,score,verdict,reason,security_level`.
    pub fn to_csv(&self) -> String {
        let mut csv =
            String::from("number,at,user_id,label,typist,score,verdict,reason,security_level\n");
        for a in &self.attempts {
            let label = match a.label {
                Some(Label::Genuine) => "genuine",
                Some(Label::Imposter) => "impostor",
                None => "",
            };
            let fields = [
                a.number.to_string(),
                a.at.to_string(),
                self.user_id.clone(),
                label.into(),
                a.typist.clone().unwrap_or_default(),
                a.score.to_string(),
                if a.accepted { "accepted" } else { "rejected" }.into(),
                a.reason.clone().unwrap_or_default(),
                a.security_level.map_or("", SecurityLevel::id).into(),
            ];
            let quoted: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
            csv.push_str(&quoted.join(","));
            csv.push('\n');
        }
        csv
    }

    /// Writes [`DemoSession::to_csv`] to `path`, atomically.
    pub fn export_csv(&self, path: &Path) -> Result<(), DemoError> {
        atomic::replace(path, |out| out.write_all(self.to_csv().as_bytes())).map_err(|source| {
            DemoError::Io {
                action: "write",
                path: path.into(),
                source,
            }
        })
    }
}

/// A CSV field, quoted when it holds a comma, quote or line break.
pub fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// How far one timing of an attempt lies from the user's samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Deviation {
    /// The timing (`H.p`, `DD.p.a`, `UD.p.a`: hold, down-down, up-down).
    pub feature: String,
    /// The attempt's value, ms.
    pub value_ms: f64,
    /// The samples' median, ms.
    pub centre_ms: f64,
    /// `(value − median) / spread`, the spread shrunk towards a prior as enrolment quality
    /// does: beyond ±[`TYPICAL_Z`] the timing is unlike the user's.
    pub z: f64,
}

impl Deviation {
    /// Whether the timing lies outside the user's band (±[`TYPICAL_Z`] spreads).
    pub fn gave_away(&self) -> bool {
        self.z.abs() > TYPICAL_Z
    }
}

/// Each timing of attempt `x` against the user's samples `rows` (of the phrase `keys`); empty
/// when the lengths differ (another phrase) or there are no samples.
pub fn deviations(rows: ArrayView2<f64>, keys: &[String], x: &[f64]) -> Vec<Deviation> {
    if rows.nrows() == 0 || rows.ncols() != x.len() {
        return Vec::new();
    }
    let (centre, spread) = robust_template(rows);
    feature_names(keys)
        .into_iter()
        .zip(x)
        .zip(centre.iter().zip(&spread))
        .map(|((feature, &value_ms), (&centre_ms, &spread))| Deviation {
            feature,
            value_ms,
            centre_ms,
            z: (value_ms - centre_ms) / spread,
        })
        .collect()
}

/// The timings that gave an attempt away, furthest first (at most `n`).
pub fn gave_away(deviations: &[Deviation], n: usize) -> Vec<&Deviation> {
    let mut out: Vec<&Deviation> = deviations.iter().filter(|d| d.gave_away()).collect();
    out.sort_by(|a, b| b.z.abs().total_cmp(&a.z.abs()));
    out.truncate(n);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::KeyAction;
    use ndarray::array;

    fn attempt(number: usize, score: f64, label: Option<Label>) -> DemoAttempt {
        DemoAttempt {
            number,
            at: chrono::NaiveDate::from_ymd_opt(2026, 12, 4)
                .unwrap()
                .and_hms_opt(10, 0, number as u32)
                .unwrap()
                .into(),
            score,
            accepted: score >= 0.0,
            reason: (score < 0.0).then(|| "Typing pattern anomaly detected".into()),
            label,
            typist: label.map(|l| match l {
                Label::Genuine => "alice".into(),
                Label::Imposter => "carol, \"the\" impostor".into(),
            }),
            security_level: (number > 1).then_some(SecurityLevel::Strict),
            keystroke_data: vec![KeyEvent::new("a", KeyAction::Down, 0.0).unwrap()],
        }
    }

    #[test]
    fn a_demo_round_trips_through_its_file_and_exports_a_row_per_attempt() {
        let dir = tempfile::tempdir().unwrap();
        let mut demo = DemoSession::new("alice");
        demo.attempts = vec![
            attempt(1, 0.2, Some(Label::Genuine)),
            attempt(2, -0.3, Some(Label::Imposter)),
            attempt(3, 0.1, Some(Label::Imposter)),
            attempt(4, 0.05, None),
        ];
        let path = dir.path().join("demo.json");
        demo.write(&path).unwrap();
        let read = DemoSession::read(&path).unwrap();
        assert_eq!(read.version, 2, "its attempts record their levels");
        assert_eq!(DemoSession { version: 1, ..read }, demo);
        let mut without = demo.clone();
        for attempt in &mut without.attempts {
            attempt.security_level = None;
        }
        without.write(&path).unwrap();
        assert_eq!(
            DemoSession::read(&path).unwrap().version,
            1,
            "as older builds wrote"
        );
        let rates = demo.rates();
        assert_eq!((rates.far(), rates.frr()), (Some(0.5), Some(0.0)));
        let csv = demo.to_csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 5);
        assert_eq!(
            lines[2],
            "2,2026-12-04T10:00:02.000000,alice,impostor,\"carol, \"\"the\"\" impostor\",-0.3,\
             rejected,Typing pattern anomaly detected,strict"
        );
        assert!(lines[1].ends_with(",accepted,,"), "{}", lines[1]);
        assert!(
            lines[4].ends_with(",,,0.05,accepted,,strict"),
            "{}",
            lines[4]
        );
    }

    #[test]
    fn a_demo_extends_only_its_own_earlier_saves() {
        let mut saved = DemoSession::new("alice");
        saved.attempts = vec![attempt(1, 0.2, None), attempt(2, -0.3, None)];
        let mut later = saved.clone();
        later.attempts[0].label = Some(Label::Genuine);
        later.attempts.push(attempt(3, 0.1, None));
        assert!(later.extends(&saved) && saved.extends(&saved));
        assert!(!saved.extends(&later), "it would lose attempt 3");
        let mut bobs = later.clone();
        bobs.user_id = "bob".into();
        assert!(!bobs.extends(&saved), "another user's demo");
        let mut other = later.clone();
        other.attempts[1] = attempt(2, -0.3, None);
        other.attempts[1].at = attempt(9, 0.0, None).at;
        assert!(!other.extends(&saved), "another demo of the same user");
    }

    #[test]
    fn a_file_of_another_kind_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("session.json");
        std::fs::write(&path, br#"{"format": "keystroke-workbench/session"}"#).unwrap();
        let err = DemoSession::read(&path).unwrap_err().to_string();
        assert!(
            err.contains("session.json is not a keystroke-workbench/demo"),
            "{err}"
        );
    }

    #[test]
    fn the_timings_outside_the_users_band_are_the_ones_that_gave_it_away() {
        let keys: Vec<String> = ["p", "a"].map(String::from).to_vec();
        // H.p, DD.p.a, UD.p.a, H.a
        let rows = array![
            [100.0, 200.0, 100.0, 90.0],
            [104.0, 210.0, 106.0, 95.0],
            [96.0, 190.0, 94.0, 85.0],
            [102.0, 205.0, 103.0, 92.0],
        ];
        let genuine = deviations(rows.view(), &keys, &[101.0, 202.0, 101.0, 91.0]);
        assert!(gave_away(&genuine, 3).is_empty(), "{genuine:?}");
        let impostor = deviations(rows.view(), &keys, &[100.0, 450.0, 350.0, 91.0]);
        let named: Vec<&str> = gave_away(&impostor, 3)
            .iter()
            .map(|d| d.feature.as_str())
            .collect();
        // Furthest first, in spreads: the up-down time varies less than the down-down.
        assert_eq!(named, ["UD.p.a", "DD.p.a"]);
        assert!(impostor[1].z > TYPICAL_Z);
        assert!(deviations(rows.view(), &keys, &[1.0]).is_empty());
    }
}
