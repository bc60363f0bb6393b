//! The development data sets bundled under `sample_sessions/`, each with the protocol its
//! README gives: train on the first N repetitions, genuine test = every repetition after the
//! full enrolment (the same genuine samples whatever N), impostors = the first 5 repetitions of
//! every other subject.

use std::path::{Path, PathBuf};

use super::dataset::{DataError, Dataset, load_csv};
use super::protocol::{Protocol, Split, UpdatePhase};

/// A bundled data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BundledSet {
    /// Its id on the command line (`--set`).
    pub id: &'static str,
    /// What it is, in a few words.
    pub title: &'static str,
    /// Its CSV (CMU layout), relative to the repository root.
    pub path: &'static str,
    /// The full enrolment: repetitions 1–N train, N + 1 onwards are the genuine test.
    pub full_train: usize,
}

/// Impostor repetitions per other subject in every bundled protocol.
pub const IMPOSTOR_REPS: usize = 5;

/// The bundled sets, in the order reports list them.
pub const BUNDLED: [BundledSet; 3] = [
    BundledSet {
        id: "cmu",
        title: "CMU benchmark (desktop keyboard, precise clock; Killourhy & Maxion 2009)",
        path: "sample_sessions/cmu/DSL-StrongPasswordData.csv",
        full_train: 200,
    },
    BundledSet {
        id: "meu-mobile",
        title: "MEU-Mobile KSD (phone touch screen; Al-Obaidi & Al-Jarrah 2016)",
        path: "sample_sessions/meu_mobile/meu_mobile_ksd.csv",
        full_train: 25,
    },
    BundledSet {
        id: "keypad",
        title: "Keypad (numeric keypad, 15.6 ms clock; Monaco & Tappert 2018)",
        path: "sample_sessions/keypad/monaco_keypad.csv",
        full_train: 10,
    },
];

/// The CMU benchmark.
pub const CMU: BundledSet = BUNDLED[0];

impl BundledSet {
    /// The set with this id, or an error listing the ids.
    pub fn by_id(id: &str) -> Result<BundledSet, String> {
        BUNDLED.iter().copied().find(|s| s.id == id).ok_or_else(|| {
            let ids: Vec<&str> = BUNDLED.iter().map(|s| s.id).collect();
            format!("no bundled data set {id:?}; there are {}", ids.join(", "))
        })
    }

    /// Finds the set's file under the working directory, else in the source tree this crate
    /// was built from (the workspace root).
    pub fn locate(&self) -> Result<PathBuf, DataError> {
        let candidates = [
            PathBuf::from(self.path),
            Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join(self.path),
        ];
        candidates
            .iter()
            .find(|p| p.is_file())
            .cloned()
            .ok_or_else(|| DataError::Io {
                path: candidates[0].clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("not found here nor at {}", candidates[1].display()),
                ),
            })
    }

    /// Locates and loads the set.
    pub fn load(&self) -> Result<Dataset, DataError> {
        load_csv(&self.locate()?)
    }

    /// Train on the first `train` repetitions, test the ones after the full enrolment; with
    /// `update_window`, the repetitions between arrive in time order and update a template of
    /// that many accepted attempts (probed with impostor repetitions 6–10).
    pub fn protocol(&self, train: usize, update_window: Option<usize>) -> Protocol {
        Protocol {
            split: Split::Reps {
                train,
                genuine_from: self.full_train,
                genuine_to: None,
            },
            impostor_rows: IMPOSTOR_REPS,
            update: update_window.map(|window| UpdatePhase::new(window, IMPOSTOR_REPS)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_set_loads_with_enough_repetitions_for_its_protocol() {
        for set in BUNDLED {
            let data = set.load().unwrap();
            assert!(data.subjects.len() >= 30, "{}", set.id);
            let rows = data.subjects.iter().map(|s| s.samples_ms.nrows()).min();
            assert!(rows.unwrap() > set.full_train, "{}", set.id);
            assert_eq!(BundledSet::by_id(set.id), Ok(set));
        }
        assert!(
            BundledSet::by_id("x")
                .unwrap_err()
                .contains("cmu, meu-mobile, keypad")
        );
    }
}
