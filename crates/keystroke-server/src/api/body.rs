//! Decoding the body of /train and /predict: `{"user_id": …, "keystroke_data": [events]}`,
//! with two optional extension keys the collection page sends: `capture` (how the sample was
//! captured, stored with it) and `attempt_label` (who typed a /predict attempt, for the audit
//! log).

use serde_json::Value;
use thiserror::Error;

use keystroke_core::capture::{
    Capture, CaptureError, EventError, KeyEvent, Sample, SampleError, json_type, source,
};
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
    /// `capture` is not an object of the expected fields.
    #[error(
        "\"capture\" must be an object {{\"source\": string, \"browser\": string, \
         \"timer_resolution_ms\": number, \"precision\": \"high\" or \"low\"}}: {0}"
    )]
    CaptureShape(String),
    /// `capture` has a value out of range.
    #[error(transparent)]
    Capture(#[from] CaptureError),
    /// `capture.source` names one of the workbench's own sources.
    #[error(
        "capture.source {0:?} is the workbench's own (global, window, file) or the name of \
         samples with no source (api): a client names its own, e.g. \"browser\""
    )]
    ReservedSource(String),
    /// `attempt_label` is not one of the labels.
    #[error("\"attempt_label\" must be \"genuine\" or \"impostor\"")]
    Label,
}

/// Who typed a /predict attempt, as the client says (the collection page's impostor demo).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptLabel {
    /// The user themself.
    Genuine,
    /// Someone trying to pass as the user.
    Impostor,
}

impl AttemptLabel {
    /// `genuine` or `impostor`.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptLabel::Genuine => "genuine",
            AttemptLabel::Impostor => "impostor",
        }
    }
}

/// Everything a /train or /predict body carries.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// `user_id`.
    pub user: UserId,
    /// `keystroke_data`, paired into a sample.
    pub sample: Sample,
    /// The `capture` extension, checked.
    pub capture: Option<Capture>,
    /// The `attempt_label` extension.
    pub label: Option<AttemptLabel>,
}

/// The user and the sample a request body carries, or what to fix.
pub fn decode_sample(body: &[u8]) -> Result<(UserId, Sample), BodyError> {
    decode(body).map(|d| (d.user, d.sample))
}

/// A request body with its extension keys, or what to fix.
pub fn decode(body: &[u8]) -> Result<Decoded, BodyError> {
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
    let capture = match object.get("capture") {
        None | Some(Value::Null) => None,
        Some(value) => Some(decode_capture(value)?),
    };
    let label = match object.get("attempt_label") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s == "genuine" => Some(AttemptLabel::Genuine),
        Some(Value::String(s)) if s == "impostor" => Some(AttemptLabel::Impostor),
        Some(_) => return Err(BodyError::Label),
    };
    Ok(Decoded {
        user,
        sample,
        capture,
        label,
    })
}

fn decode_capture(value: &Value) -> Result<Capture, BodyError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields, rename = "capture object")]
    struct Wire {
        source: String,
        browser: Option<String>,
        timer_resolution_ms: Option<f64>,
        precision: Option<Precision>,
    }
    #[derive(serde::Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Precision {
        High,
        Low,
    }
    let wire: Wire = serde::Deserialize::deserialize(value)
        .map_err(|e| BodyError::CaptureShape(e.to_string()))?;
    let capture = Capture {
        source: wire.source,
        browser: wire.browser,
        timer_resolution_ms: wire.timer_resolution_ms,
        low_precision: wire.precision == Some(Precision::Low),
        participant: Default::default(),
    };
    capture.validate()?;
    if [source::GLOBAL, source::WINDOW, source::FILE, source::API]
        .contains(&capture.source.as_str())
    {
        return Err(BodyError::ReservedSource(capture.source));
    }
    Ok(capture)
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
    fn reads_the_collection_pages_extensions() {
        let body = format!(
            r#"{{"user_id":"p01","keystroke_data":{EVENTS},"attempt_label":"impostor",
               "capture":{{"source":"browser","browser":"Chrome 148","timer_resolution_ms":0.1,
                           "precision":"low"}}}}"#
        );
        let decoded = decode(body.as_bytes()).unwrap();
        assert_eq!(decoded.label, Some(AttemptLabel::Impostor));
        let capture = decoded.capture.unwrap();
        assert_eq!(capture.source, "browser");
        assert_eq!(capture.browser.as_deref(), Some("Chrome 148"));
        assert_eq!(capture.timer_resolution_ms, Some(0.1));
        assert!(capture.low_precision);
        let plain =
            decode(format!(r#"{{"user_id":"p01","keystroke_data":{EVENTS}}}"#).as_bytes()).unwrap();
        assert!(plain.capture.is_none() && plain.label.is_none());
        let nulls = format!(
            r#"{{"user_id":"p01","keystroke_data":{EVENTS},"capture":null,"attempt_label":null}}"#
        );
        let nulls = decode(nulls.as_bytes()).unwrap();
        assert!(nulls.capture.is_none() && nulls.label.is_none());
        for (extension, message) in [
            (r#""capture":"browser""#, "\"capture\" must be an object"),
            (
                r#""capture":{"source":"browser","x":1}"#,
                "unknown field `x`",
            ),
            (
                r#""capture":{"source":"Browser!"}"#,
                "capture.source must be",
            ),
            (
                r#""capture":{"source":"browser","timer_resolution_ms":0}"#,
                "capture.timer_resolution_ms must be",
            ),
            (r#""attempt_label":"carol""#, "\"attempt_label\" must be"),
            (r#""capture":{"source":"global"}"#, "is the workbench's own"),
            (r#""capture":{"source":"api"}"#, "is the workbench's own"),
        ] {
            let body = format!(r#"{{"user_id":"p01","keystroke_data":{EVENTS},{extension}}}"#);
            let got = error(&body);
            assert!(got.contains(message), "{extension}: {got}");
        }
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
