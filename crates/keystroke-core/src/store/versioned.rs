//! Versioned JSON files: every file carries `format` and `version`, checked before the rest is
//! decoded, so an unknown version or a foreign file is a clear error and never a misread.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// What a JSON store file is.
#[derive(Debug, Clone, Copy)]
pub struct FileFormat {
    /// The `format` value, e.g. `keystroke-workbench/model`.
    pub name: &'static str,
    /// The version this build writes; it reads 1 to this.
    pub version: u64,
}

/// Why a versioned file could not be decoded.
#[derive(Debug, Clone, PartialEq)]
pub enum DecodeError {
    /// Not JSON, or not the expected shape.
    Invalid(String),
    /// A JSON object without our `format` key (e.g. written by the old Flask backend).
    Foreign,
    /// Our format, a version this build does not read.
    UnknownVersion(u64),
}

/// A file's body under its `format` and `version` keys.
#[derive(Serialize)]
struct Versioned<'a, T> {
    format: &'static str,
    version: u64,
    #[serde(flatten)]
    body: &'a T,
}

/// Encodes `body` (which must serialise to an object) with `format` and `version` keys first,
/// straight into the bytes (no intermediate JSON tree: a model's trees are most of /train's
/// serialising).
pub fn encode<T: Serialize>(format: FileFormat, body: &T) -> serde_json::Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(&Versioned {
        format: format.name,
        version: format.version,
        body,
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Decodes a file written by [`encode`] with this format and a version it reads.
pub fn decode<T: DeserializeOwned>(format: FileFormat, bytes: &[u8]) -> Result<T, DecodeError> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| DecodeError::Invalid(e.to_string()))?;
    let Value::Object(mut object) = value else {
        return Err(DecodeError::Invalid("not a JSON object".into()));
    };
    match object.remove("format") {
        Some(Value::String(name)) if name == format.name => {}
        Some(other) => {
            return Err(DecodeError::Invalid(format!(
                "format is {other}, expected \"{}\"",
                format.name
            )));
        }
        None => return Err(DecodeError::Foreign),
    }
    let version = object
        .remove("version")
        .and_then(|v| v.as_u64())
        .ok_or_else(|| DecodeError::Invalid("missing or non-integer \"version\"".into()))?;
    if version == 0 || version > format.version {
        return Err(DecodeError::UnknownVersion(version));
    }
    serde_json::from_value(Value::Object(object)).map_err(|e| DecodeError::Invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    const FORMAT: FileFormat = FileFormat {
        name: "keystroke-workbench/test",
        version: 1,
    };

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        a: u32,
    }

    #[test]
    fn round_trips() {
        let bytes = encode(FORMAT, &Body { a: 3 }).unwrap();
        assert_eq!(decode::<Body>(FORMAT, &bytes), Ok(Body { a: 3 }));
    }

    #[test]
    fn rejects_newer_version() {
        let bytes = br#"{"format": "keystroke-workbench/test", "version": 7, "a": 1}"#;
        assert_eq!(
            decode::<Body>(FORMAT, bytes),
            Err(DecodeError::UnknownVersion(7))
        );
    }

    #[test]
    fn recognises_foreign_and_corrupt_files() {
        assert_eq!(
            decode::<Body>(FORMAT, br#"{"user_id": "x"}"#),
            Err(DecodeError::Foreign)
        );
        assert!(matches!(
            decode::<Body>(FORMAT, b"{\"format\": \"keystroke-wo"),
            Err(DecodeError::Invalid(_))
        ));
        assert!(matches!(
            decode::<Body>(FORMAT, b"[1]"),
            Err(DecodeError::Invalid(_))
        ));
    }
}
