//! Session files: one user's samples as JSON in the API's event format, for saving and opening
//! enrolment sessions, moving users between stores, and the sample sessions converted from the
//! CMU benchmark.
//!
//! ```json
//! {"format": "keystroke-workbench/session", "version": 1, "user_id": "s002",
//!  "samples": [{"keystroke_data": [{"key": ".", "event": "down", "timestamp": 0.0}, …]}]}
//! ```

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::capture::{KeyAction, KeyEvent, Sample, SampleError};
use crate::eval::Dataset;
use crate::store::atomic;

/// Why a session file could not be read or written, naming the file.
#[derive(Debug, Error)]
pub enum SessionError {
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
    /// Not a session file's JSON.
    #[error("{} is not a session file: {source}", path.display())]
    NotSession {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        source: serde_json::Error,
    },
    /// A session file of another format or version.
    #[error("{} is {format:?} version {version}, expected {SESSION_FORMAT} version 1", path.display())]
    Version {
        /// The file.
        path: PathBuf,
        /// Its `format`.
        format: String,
        /// Its `version`.
        version: u32,
    },
    /// A sample whose events do not pair into presses.
    #[error("{}, sample {number}: {source}", path.display())]
    Sample {
        /// The file.
        path: PathBuf,
        /// The sample, from 1.
        number: usize,
        /// Why it does not pair.
        source: SampleError,
    },
}

/// `format` of session files.
pub const SESSION_FORMAT: &str = "keystroke-workbench/session";

/// A session file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionFile {
    /// Always [`SESSION_FORMAT`].
    pub format: String,
    /// Format version (1).
    pub version: u32,
    /// The user.
    pub user_id: String,
    /// Samples, oldest first.
    pub samples: Vec<SessionSample>,
}

/// One sample of a session file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionSample {
    /// Its events.
    pub keystroke_data: Vec<KeyEvent>,
}

impl SessionFile {
    /// A session of `user` with these samples' events.
    pub fn new(user: &str, samples: impl IntoIterator<Item = Vec<KeyEvent>>) -> SessionFile {
        SessionFile {
            format: SESSION_FORMAT.into(),
            version: 1,
            user_id: user.into(),
            samples: samples
                .into_iter()
                .map(|keystroke_data| SessionSample { keystroke_data })
                .collect(),
        }
    }

    /// Reads and checks a session file; every sample must pair into presses.
    pub fn read(path: &Path) -> Result<(SessionFile, Vec<Sample>), SessionError> {
        let bytes = std::fs::read(path).map_err(|source| SessionError::Io {
            action: "read",
            path: path.into(),
            source,
        })?;
        let file: SessionFile =
            serde_json::from_slice(&bytes).map_err(|source| SessionError::NotSession {
                path: path.into(),
                source,
            })?;
        if file.format != SESSION_FORMAT || file.version != 1 {
            return Err(SessionError::Version {
                path: path.into(),
                format: file.format,
                version: file.version,
            });
        }
        let samples = file
            .samples
            .iter()
            .enumerate()
            .map(|(i, s)| {
                Sample::from_events(s.keystroke_data.clone()).map_err(|source| {
                    SessionError::Sample {
                        path: path.into(),
                        number: i + 1,
                        source,
                    }
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((file, samples))
    }

    /// Writes the file (pretty JSON), atomically: a crash or a full disk leaves the old file
    /// or the whole new one.
    pub fn write(&self, path: &Path) -> Result<(), SessionError> {
        atomic::replace(path, |out| {
            serde_json::to_writer_pretty(&mut *out, self)?;
            out.write_all(b"\n")
        })
        .map_err(|source| SessionError::Io {
            action: "write",
            path: path.into(),
            source,
        })
    }

    /// Subject `subject` of the CMU benchmark as a session: repetitions `reps` turned back into
    /// key events (down at 0, up after the hold, next down after the down-down time).
    pub fn from_cmu(
        data: &Dataset,
        subject: &str,
        reps: std::ops::Range<usize>,
    ) -> Result<SessionFile, String> {
        let found = data
            .subjects
            .iter()
            .find(|s| s.id == subject)
            .ok_or_else(|| format!("no subject {subject} in the benchmark"))?;
        let keys = cmu_keys(&data.feature_names);
        let rows = found.samples_ms.nrows();
        if reps.end > rows || reps.is_empty() {
            return Err(format!(
                "{subject} has repetitions 0..{rows}, asked for {reps:?}"
            ));
        }
        let round = |ms: f64| (ms * 1e4).round() / 1e4;
        let samples = reps.map(|r| {
            let row = found.samples_ms.row(r);
            let mut events = Vec::with_capacity(2 * keys.len());
            let mut down = 0.0;
            for (k, key) in keys.iter().enumerate() {
                let hold = row[3 * k];
                events.push(KeyEvent {
                    key: key.clone(),
                    action: KeyAction::Down,
                    timestamp_ms: round(down),
                });
                events.push(KeyEvent {
                    key: key.clone(),
                    action: KeyAction::Up,
                    timestamp_ms: round(down + hold),
                });
                if k + 1 < keys.len() {
                    down += row[3 * k + 1];
                }
            }
            events
        });
        Ok(SessionFile::new(subject, samples))
    }
}

/// The typed keys of the benchmark's hold columns: `H.period` → `.`, `H.five` → `5`,
/// `H.Shift.r` → `R`, `H.Return` → `Enter`.
fn cmu_keys(feature_names: &[String]) -> Vec<String> {
    feature_names
        .iter()
        .filter_map(|name| name.strip_prefix("H."))
        .map(|key| {
            match key {
                "period" => ".",
                "five" => "5",
                "Shift.r" => "R",
                "Return" => "Enter",
                other => other,
            }
            .to_string()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::CMU;
    use crate::features::Features;

    #[test]
    fn cmu_repetitions_become_events_with_the_same_timings() {
        let data = CMU.load().unwrap();
        let session = SessionFile::from_cmu(&data, "s002", 0..3).unwrap();
        assert_eq!(session.samples.len(), 3);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s002.json");
        session.write(&path).unwrap();
        let (read, samples) = SessionFile::read(&path).unwrap();
        assert_eq!(read, session);
        let features = Features::of(&samples[1]);
        assert_eq!(
            features.key_sequence,
            [".", "t", "i", "e", "5", "R", "o", "a", "n", "l", "Enter"]
        );
        let row = data.subjects[0].samples_ms.row(1);
        for (ours, theirs) in features.values_ms.iter().zip(row) {
            assert!((ours - theirs).abs() < 1e-6, "{ours} vs {theirs}");
        }
    }

    #[test]
    fn damaged_sessions_say_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        std::fs::write(
            &path,
            br#"{"format": "other", "version": 1, "user_id": "a", "samples": []}"#,
        )
        .unwrap();
        assert!(
            SessionFile::read(&path)
                .unwrap_err()
                .to_string()
                .contains("expected keystroke-workbench/session")
        );
        let bad = SessionFile::new(
            "a",
            [vec![KeyEvent::new("a", KeyAction::Down, 1.0).unwrap()]],
        );
        bad.write(&path).unwrap();
        assert!(
            SessionFile::read(&path)
                .unwrap_err()
                .to_string()
                .contains("sample 1: key \"a\" pressed at 1 ms is never released")
        );
    }
}
