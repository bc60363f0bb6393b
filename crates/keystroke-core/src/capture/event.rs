//! Keystroke events in the API's JSON format (`{"key", "event", "timestamp"}`), decoded from
//! untrusted JSON with an error that names the offending element and field.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

/// Longest key name accepted, in characters.
pub const MAX_KEY_CHARS: usize = 32;

/// Most events one sample may hold.
pub const MAX_EVENTS: usize = 512;

/// Press or release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyAction {
    /// The key went down.
    Down,
    /// The key came up.
    Up,
}

/// One key press or release, as a client reports it. Deserialising (a stored samples file) checks
/// it as [`KeyEvent::new`] does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "UncheckedKeyEvent")]
pub struct KeyEvent {
    /// The key's name as the client reports it (compared as given, case-sensitive).
    pub key: String,
    /// Press or release.
    #[serde(rename = "event")]
    pub action: KeyAction,
    /// Milliseconds from an arbitrary origin; finite and ≥ 0.
    #[serde(rename = "timestamp")]
    pub timestamp_ms: f64,
}

/// A [`KeyEvent`] as read, before its checks.
#[derive(Deserialize)]
struct UncheckedKeyEvent {
    key: String,
    event: KeyAction,
    timestamp: f64,
}

impl TryFrom<UncheckedKeyEvent> for KeyEvent {
    type Error = String;

    fn try_from(event: UncheckedKeyEvent) -> Result<Self, String> {
        KeyEvent::new(event.key, event.event, event.timestamp)
    }
}

/// Why a list of events could not be decoded.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum EventError {
    /// `keystroke_data` is not an array.
    #[error("keystroke_data must be an array of events, got {0}")]
    NotAnArray(&'static str),
    /// More events than [`MAX_EVENTS`].
    #[error("keystroke_data has {0} events; at most {MAX_EVENTS} are accepted")]
    TooMany(usize),
    /// One element is malformed.
    #[error("keystroke_data[{index}]: {problem}")]
    Element {
        /// Position of the element in the array.
        index: usize,
        /// What is wrong with it.
        problem: String,
    },
}

/// JSON type name for error messages.
pub fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl KeyEvent {
    /// Builds an event, checking the key name and the timestamp.
    pub fn new(
        key: impl Into<String>,
        action: KeyAction,
        timestamp_ms: f64,
    ) -> Result<Self, String> {
        let key = key.into();
        check_key(&key)?;
        check_timestamp(timestamp_ms)?;
        Ok(KeyEvent {
            key,
            action,
            timestamp_ms,
        })
    }

    /// Decodes the `keystroke_data` array of a request body.
    pub fn list_from_json(value: &Value) -> Result<Vec<KeyEvent>, EventError> {
        let items = value
            .as_array()
            .ok_or(EventError::NotAnArray(json_type(value)))?;
        if items.len() > MAX_EVENTS {
            return Err(EventError::TooMany(items.len()));
        }
        items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                Self::from_json(item).map_err(|problem| EventError::Element { index, problem })
            })
            .collect()
    }

    fn from_json(value: &Value) -> Result<KeyEvent, String> {
        let object = value
            .as_object()
            .ok_or_else(|| format!("must be an object, got {}", json_type(value)))?;
        let field = |name: &str| {
            object
                .get(name)
                .ok_or_else(|| format!("missing \"{name}\""))
        };
        let key = match field("key")? {
            Value::String(key) => key.clone(),
            other => {
                return Err(format!(
                    "\"key\" must be a string, got {}",
                    json_type(other)
                ));
            }
        };
        let action = match field("event")? {
            Value::String(s) if s == "down" => KeyAction::Down,
            Value::String(s) if s == "up" => KeyAction::Up,
            Value::String(s) => {
                return Err(format!("\"event\" must be \"down\" or \"up\", got {s:?}"));
            }
            other => {
                return Err(format!(
                    "\"event\" must be a string, got {}",
                    json_type(other)
                ));
            }
        };
        let timestamp_ms = match field("timestamp")? {
            // serde_json turns out-of-range literals such as 1e999 into a parse error, so a
            // number here is finite; the check below still guards the other constructors.
            Value::Number(n) => n.as_f64().ok_or("\"timestamp\" is not representable")?,
            other => {
                return Err(format!(
                    "\"timestamp\" must be a number of milliseconds, got {}",
                    json_type(other)
                ));
            }
        };
        KeyEvent::new(key, action, timestamp_ms)
    }
}

fn check_key(key: &str) -> Result<(), String> {
    let chars = key.chars().count();
    if chars == 0 {
        return Err("\"key\" must not be empty".into());
    }
    if chars > MAX_KEY_CHARS {
        return Err(format!(
            "\"key\" has {chars} characters; at most {MAX_KEY_CHARS} are accepted"
        ));
    }
    Ok(())
}

fn check_timestamp(timestamp_ms: f64) -> Result<(), String> {
    if !timestamp_ms.is_finite() || timestamp_ms < 0.0 {
        return Err(format!(
            "\"timestamp\" must be a finite number ≥ 0, got {timestamp_ms}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode(value: Value) -> Result<Vec<KeyEvent>, EventError> {
        KeyEvent::list_from_json(&value)
    }

    #[test]
    fn decodes_integer_and_fractional_timestamps() {
        let events = decode(json!([
            {"key": "p", "event": "down", "timestamp": 100},
            {"key": "p", "event": "up", "timestamp": 250.5}
        ]))
        .unwrap();
        assert_eq!(events[0].action, KeyAction::Down);
        assert_eq!(events[1].timestamp_ms, 250.5);
    }

    #[test]
    fn rejects_non_array() {
        assert_eq!(
            decode(json!({"a": 1})),
            Err(EventError::NotAnArray("an object"))
        );
    }

    #[test]
    fn rejects_unknown_event_value_naming_the_index() {
        let err = decode(json!([
            {"key": "p", "event": "down", "timestamp": 1},
            {"key": "p", "event": "press", "timestamp": 2}
        ]))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "keystroke_data[1]: \"event\" must be \"down\" or \"up\", got \"press\""
        );
    }

    #[test]
    fn rejects_negative_timestamp() {
        let err = decode(json!([{"key": "p", "event": "down", "timestamp": -1}])).unwrap_err();
        assert!(
            err.to_string().contains("finite number ≥ 0, got -1"),
            "{err}"
        );
    }

    #[test]
    fn rejects_string_timestamp() {
        let err = decode(json!([{"key": "p", "event": "down", "timestamp": "5"}])).unwrap_err();
        assert!(err.to_string().contains("got a string"), "{err}");
    }

    #[test]
    fn rejects_empty_and_overlong_keys() {
        assert!(decode(json!([{"key": "", "event": "up", "timestamp": 1}])).is_err());
        let long = "k".repeat(33);
        assert!(decode(json!([{"key": long, "event": "up", "timestamp": 1}])).is_err());
        let ok = "é".repeat(32);
        assert!(decode(json!([{"key": ok, "event": "up", "timestamp": 1}])).is_ok());
    }

    #[test]
    fn rejects_missing_field() {
        let err = decode(json!([{"key": "p", "timestamp": 1}])).unwrap_err();
        assert_eq!(err.to_string(), "keystroke_data[0]: missing \"event\"");
    }

    #[test]
    fn rejects_more_than_512_events() {
        let one = json!({"key": "p", "event": "down", "timestamp": 1});
        let err = decode(Value::Array(vec![one; 513])).unwrap_err();
        assert_eq!(err, EventError::TooMany(513));
    }

    #[test]
    fn constructor_rejects_nan_and_infinity() {
        assert!(KeyEvent::new("a", KeyAction::Down, f64::NAN).is_err());
        assert!(KeyEvent::new("a", KeyAction::Down, f64::INFINITY).is_err());
    }
}
