//! Times in store files: local time, ISO 8601 without a zone, microseconds — parsed once, when
//! the file is read, so an unreadable time is a damaged file and never a misreading (such as a
//! lockout that silently reads as "not locked").

use std::fmt;
use std::str::FromStr;

use chrono::{NaiveDateTime, Timelike};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How the store writes a time.
const WRITTEN: &str = "%Y-%m-%dT%H:%M:%S%.6f";

/// What it reads: any number of fractional digits, or none.
const READ: &str = "%Y-%m-%dT%H:%M:%S%.f";

/// A local time as store files hold it, to the microsecond (what a file keeps, so a time in
/// memory equals the same time read back).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalTime(NaiveDateTime);

impl LocalTime {
    /// The time.
    pub fn time(self) -> NaiveDateTime {
        self.0
    }
}

impl From<NaiveDateTime> for LocalTime {
    fn from(time: NaiveDateTime) -> Self {
        let micros = time.nanosecond() / 1_000 * 1_000;
        LocalTime(time.with_nanosecond(micros).unwrap_or(time))
    }
}

impl fmt::Display for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format(WRITTEN))
    }
}

impl FromStr for LocalTime {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        NaiveDateTime::parse_from_str(text, READ)
            .map(LocalTime::from)
            .map_err(|e| format!("{text:?} is not a local time: {e}"))
    }
}

impl Serialize for LocalTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LocalTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Formats a local time as the store and the API write it: ISO 8601, microseconds, no zone.
pub fn format_time(time: NaiveDateTime) -> String {
    LocalTime::from(time).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_it_writes_and_refuses_the_rest() {
        let t: LocalTime = "2026-12-02T10:11:12.345678".parse().unwrap();
        assert_eq!(t.to_string(), "2026-12-02T10:11:12.345678");
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(serde_json::from_str::<LocalTime>(&json).unwrap(), t);
        let whole: LocalTime = "2026-12-02T10:11:12".parse().unwrap();
        assert_eq!(whole.to_string(), "2026-12-02T10:11:12.000000");
        let precise = t.time() + chrono::Duration::nanoseconds(789);
        assert_eq!(
            LocalTime::from(precise),
            t,
            "kept to the microsecond, as written"
        );
        let err = serde_json::from_str::<LocalTime>("\"soon\"").unwrap_err();
        assert!(
            err.to_string().contains("\"soon\" is not a local time"),
            "{err}"
        );
    }
}
