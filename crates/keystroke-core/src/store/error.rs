//! Why a store operation failed, with the user and the file; and the same said without paths,
//! for answers that leave the machine.

use std::io;
use std::path::PathBuf;

use thiserror::Error;

use super::{UserId, file_kind};
use crate::detect::FitError;

/// Why a store operation failed. Every variant says which user and file.
#[derive(Debug, Error)]
pub enum StoreError {
    /// A file-system operation failed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// On which path.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A file is damaged or inconsistent.
    #[error("user '{user}': {path} is corrupt: {message}")]
    Corrupt {
        /// The user.
        user: UserId,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A file of the whole store (not one user's) is damaged.
    #[error("{path} is corrupt: {message}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A file of a version this build does not read.
    #[error("user '{user}': {path} is version {found}, this build reads 1–{supported}")]
    UnknownVersion {
        /// The user.
        user: UserId,
        /// The file.
        path: PathBuf,
        /// Its version.
        found: u64,
        /// The newest version read.
        supported: u64,
    },
    /// Files of the old Flask backend, which are never trained from (and whose `.joblib`
    /// pickle is never opened).
    #[error("user '{user}' was enrolled by the old backend ({path}); they must enrol again")]
    Legacy {
        /// The user.
        user: UserId,
        /// The old metadata file.
        path: PathBuf,
    },
    /// The sample's keys differ from the enrolled phrase.
    #[error("typed keys differ from the enrolled phrase: enrolled [{}], typed [{}]", .enrolled.join(" "), .typed.join(" "))]
    PhraseMismatch {
        /// The enrolled key sequence.
        enrolled: Vec<String>,
        /// The sample's key sequence.
        typed: Vec<String>,
    },
    /// Training failed.
    #[error("user '{user}': cannot train: {source}")]
    Fit {
        /// The user.
        user: UserId,
        /// The cause.
        source: FitError,
    },
    /// Training was asked for a user with no samples.
    #[error("user '{0}' has no samples to train on")]
    NoSamples(UserId),
    /// A sample number beyond the user's committed samples.
    #[error("user '{user}' has no sample {number} (they have {samples})")]
    NoSuchSample {
        /// The user.
        user: UserId,
        /// The sample asked for, from 1.
        number: usize,
        /// The user's committed samples.
        samples: usize,
    },
}

/// Whether `error`, or an error it wraps (an encoder's, around the I/O error), is "no space".
fn is_full(error: &io::Error) -> bool {
    if matches!(
        error.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    ) {
        return true;
    }
    let mut next: Option<&(dyn std::error::Error + 'static)> = error
        .get_ref()
        .map(|inner| inner as &(dyn std::error::Error + 'static));
    while let Some(cause) = next {
        if cause.downcast_ref::<io::Error>().is_some_and(is_full) {
            return true;
        }
        next = cause.source();
    }
    false
}

impl StoreError {
    /// The device is full (or the user's disk quota used up): nothing was stored, and the
    /// store is as it was.
    pub fn is_disk_full(&self) -> bool {
        let StoreError::Io { source, .. } = self else {
            return false;
        };
        is_full(source)
    }

    /// A stored file cannot be read: `store check --repair` is what fixes it.
    pub fn is_damage(&self) -> bool {
        matches!(
            self,
            StoreError::Corrupt { .. }
                | StoreError::UnknownVersion { .. }
                | StoreError::Damaged { .. }
        )
    }

    /// The error without file-system paths (which stay in the log): what a client is told.
    pub fn public_message(&self) -> String {
        match self {
            StoreError::Io {
                action,
                path,
                source,
            } => format!("cannot {action} the {} file: {source}", file_kind(path)),
            StoreError::Corrupt { user, path, .. }
            | StoreError::UnknownVersion { user, path, .. } => {
                format!(
                    "user '{user}': the stored {} file is damaged; an administrator must run \
                     `keystroke-workbench store check --repair` on the model store",
                    file_kind(path)
                )
            }
            StoreError::Damaged { path, .. } => format!(
                "the stored {} file is damaged; an administrator must run \
                 `keystroke-workbench store check --repair` on the model store",
                file_kind(path)
            ),
            StoreError::Legacy { user, .. } => {
                format!("user '{user}' was enrolled by the old backend; they must enrol again")
            }
            other => other.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(path: &str, source: io::Error) -> StoreError {
        StoreError::Io {
            action: "append to",
            path: PathBuf::from(path),
            source,
        }
    }

    #[test]
    fn the_public_message_names_the_kind_of_file_not_its_path() {
        let error = io("/srv/models/alice_samples.jsonl", io::Error::other("bad"));
        let message = error.public_message();
        assert!(message.contains("samples file"), "{message}");
        assert!(
            !message.contains("/srv") && !message.contains("alice_samples"),
            "{message}"
        );
    }

    #[test]
    fn damage_names_the_repair_command() {
        let error = StoreError::Corrupt {
            user: UserId::parse("bob").unwrap(),
            path: PathBuf::from("/srv/models/bob_features.npy"),
            message: "truncated".into(),
        };
        assert!(error.is_damage());
        let message = error.public_message();
        assert!(message.contains("store check --repair"), "{message}");
        assert!(
            message.contains("features file") && !message.contains("/srv"),
            "{message}"
        );
    }

    #[test]
    #[cfg(unix)]
    fn a_full_disk_is_recognised_also_inside_an_encoders_error() {
        // ENOSPC.
        let enospc = || io::Error::from_raw_os_error(28);
        assert!(io("a_features.npy", enospc()).is_disk_full());
        assert!(io("a_features.npy", io::Error::other(enospc())).is_disk_full());
        assert!(!io("a_features.npy", io::Error::other("bad")).is_disk_full());
    }
}
