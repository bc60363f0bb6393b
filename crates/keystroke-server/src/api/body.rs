//! Decoding the body of /train and /predict: `{"user_id": …, "keystroke_data": [events]}`.

use serde_json::Value;
use thiserror::Error;

use keystroke_core::capture::{EventError, KeyEvent, Sample, SampleError, json_type};
use keystroke_core::store::{UserId, UserIdError};

/// What is wrong with a request body; the text says what to fix (the 400 message).
#[derive(Debug, Error)]
pub enum BodyError {
    /// Not JSON.
    #[error("request body is not valid JSON: {0}")]
    NotJson(serde_json::Error),
    /// JSON, but not an object.
    #[error("request body must be a JSON object, got {0}")]
    NotObject(&'static str),
    /// A required field is absent.
    #[error("\"{0}\" is missing")]
    Missing(&'static str),
    /// `user_id` is not a string.
    #[error("\"user_id\" must be a string, got {0}")]
    UserIdNotString(&'static str),
    /// `user_id` is not a valid id.
    #[error(transparent)]
    UserId(#[from] UserIdError),
    /// An event is malformed.
    #[error(transparent)]
    Event(#[from] EventError),
    /// The events do not pair into a sample.
    #[error(transparent)]
    Sample(#[from] SampleError),
}

/// The user and the sample a request body carries, or what to fix.
pub fn decode_sample(body: &[u8]) -> Result<(UserId, Sample), BodyError> {
    let value: Value = serde_json::from_slice(body).map_err(BodyError::NotJson)?;
    let Value::Object(object) = value else {
        return Err(BodyError::NotObject(json_type(&value)));
    };
    let user = match object.get("user_id") {
        None => return Err(BodyError::Missing("user_id")),
        Some(Value::String(id)) => UserId::parse(id)?,
        Some(other) => return Err(BodyError::UserIdNotString(json_type(other))),
    };
    let data = object
        .get("keystroke_data")
        .ok_or(BodyError::Missing("keystroke_data"))?;
    let events = KeyEvent::list_from_json(data)?;
    let sample = Sample::from_events(events)?;
    Ok((user, sample))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(body: &str) -> String {
        decode_sample(body.as_bytes()).unwrap_err().to_string()
    }

    const EVENTS: &str = r#"[{"key":"a","event":"down","timestamp":0},{"key":"a","event":"up","timestamp":90},
        {"key":"b","event":"down","timestamp":150},{"key":"b","event":"up","timestamp":230.5}]"#;

    #[test]
    fn decodes_a_sample() {
        let (user, sample) = decode_sample(
            format!(r#"{{"user_id":"bob+x@lab.org","keystroke_data":{EVENTS}}}"#).as_bytes(),
        )
        .unwrap();
        assert_eq!(user.as_str(), "bob+x@lab.org");
        assert_eq!(sample.key_sequence(), ["a", "b"]);
    }

    #[test]
    fn says_what_to_fix() {
        assert!(error("").starts_with("request body is not valid JSON"));
        assert_eq!(
            error("[1]"),
            "request body must be a JSON object, got an array"
        );
        assert_eq!(error(r#"{"keystroke_data":[]}"#), "\"user_id\" is missing");
        assert_eq!(
            error(r#"{"user_id":7,"keystroke_data":[]}"#),
            "\"user_id\" must be a string, got a number"
        );
        assert_eq!(
            error(r#"{"user_id":"../x","keystroke_data":[]}"#),
            "user_id contains '/'; only A-Z a-z 0-9 . _ - @ + are allowed"
        );
        assert_eq!(error(r#"{"user_id":"a"}"#), "\"keystroke_data\" is missing");
        assert_eq!(
            error(r#"{"user_id":"a","keystroke_data":{}}"#),
            "keystroke_data must be an array of events, got an object"
        );
        assert_eq!(
            error(r#"{"user_id":"a","keystroke_data":[{"key":"a","event":"down","timestamp":5}]}"#),
            "key \"a\" pressed at 5 ms is never released"
        );
        assert!(
            error(
                r#"{"user_id":"a","keystroke_data":[{"key":"a","event":"down","timestamp":1e999}]}"#
            )
            .starts_with("request body is not valid JSON")
        );
    }
}
