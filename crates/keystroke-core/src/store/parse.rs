//! Every store file parsed from its bytes, exactly as [`Store`](super::Store) reads it: public so
//! that fuzz targets and property tests drive the very code a server runs on the files it opens.
//! `user` is whose file it is and `path` where it came from; both only go into error messages and
//! the ownership checks.

use std::path::Path;

use ndarray::Array2;
use serde::de::DeserializeOwned;

use super::records::{METADATA_FORMAT, MODEL_FORMAT, THROTTLE_FORMAT};
use super::versioned::{self, DecodeError, FileFormat};
use super::{Metadata, ModelFile, StoreError, StoredSample, ThrottleState, UserId, npy};

/// `<id>_metadata.json`. A JSON object without our `format` key is the old backend's
/// ([`StoreError::Legacy`]).
pub fn metadata(user: &UserId, path: &Path, bytes: &[u8]) -> Result<Metadata, StoreError> {
    record(user, path, METADATA_FORMAT, bytes, Metadata::validate)
}

/// `<id>.model.json`, checked to be a usable detector for the user's phrase.
pub fn model(user: &UserId, path: &Path, bytes: &[u8]) -> Result<ModelFile, StoreError> {
    record(user, path, MODEL_FORMAT, bytes, ModelFile::validate)
}

/// `<id>_throttle.json`.
pub fn throttle(user: &UserId, path: &Path, bytes: &[u8]) -> Result<ThrottleState, StoreError> {
    record(
        user,
        path,
        THROTTLE_FORMAT,
        bytes,
        |_: &ThrottleState, _| Ok(()),
    )
}

/// `<id>_features.npy`: a 2-D float64 matrix of finite values.
pub fn features(user: &UserId, path: &Path, bytes: &[u8]) -> Result<Array2<f64>, StoreError> {
    npy::parse(bytes).map_err(|message| corrupt(user, path, message))
}

/// The committed part of `<id>_samples.jsonl`: one JSON sample a line.
pub fn samples(user: &UserId, path: &Path, bytes: &[u8]) -> Result<Vec<StoredSample>, StoreError> {
    bytes
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_slice(line)
                .map_err(|e| corrupt(user, path, format!("line {}: {e}", i + 1)))
        })
        .collect()
}

/// Decodes a versioned JSON file of `user` and checks it with `validate`.
fn record<T: DeserializeOwned>(
    user: &UserId,
    path: &Path,
    format: FileFormat,
    bytes: &[u8],
    validate: impl FnOnce(&T, &UserId) -> Result<(), String>,
) -> Result<T, StoreError> {
    let record: T = versioned::decode(format, bytes).map_err(|e| match e {
        DecodeError::Invalid(message) => corrupt(user, path, message),
        DecodeError::Foreign if format.name == METADATA_FORMAT.name => StoreError::Legacy {
            user: user.clone(),
            path: path.to_path_buf(),
        },
        DecodeError::Foreign => corrupt(user, path, format!("not a {} file", format.name)),
        DecodeError::UnknownVersion(found) => StoreError::UnknownVersion {
            user: user.clone(),
            path: path.to_path_buf(),
            found,
            supported: format.version,
        },
    })?;
    validate(&record, user).map_err(|message| corrupt(user, path, message))?;
    Ok(record)
}

pub(super) fn corrupt(user: &UserId, path: &Path, message: String) -> StoreError {
    StoreError::Corrupt {
        user: user.clone(),
        path: path.to_path_buf(),
        message,
    }
}
