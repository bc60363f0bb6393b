//! Where a sample came from: the capture method and, for the browser collection page, the
//! browser and its measured timer resolution. Stored beside the sample's events so that an
//! evaluation or the workbench can keep only the samples of one source.

use thiserror::Error;

/// The workbench's global capture (rdev, about 1 ms).
pub const GLOBAL: &str = "global";
/// The workbench window's own key events (once per frame: lower precision).
pub const WINDOW: &str = "window";
/// The collection page the server serves to any browser.
pub const BROWSER: &str = "browser";
/// A session file opened in the workbench.
pub const FILE: &str = "file";
/// What a sample that names no source is taken as: sent over the API (the mobile app).
pub const API: &str = "api";
/// Every source a filter can name.
pub const SOURCES: [&str; 5] = [GLOBAL, WINDOW, BROWSER, FILE, API];

/// The longest source name, and the longest browser description.
pub const MAX_SOURCE_CHARS: usize = 16;
/// The longest browser description (`"Chrome 148"`, `"Firefox 133"`).
pub const MAX_BROWSER_CHARS: usize = 64;

/// How one sample was captured.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Capture {
    /// [`GLOBAL`], [`WINDOW`], [`BROWSER`], [`FILE`] or a client's own name.
    pub source: String,
    /// The browser family and major version, for [`BROWSER`].
    pub browser: Option<String>,
    /// The smallest step the capturing clock showed, in ms (a browser coarsens its timers).
    pub timer_resolution_ms: Option<f64>,
    /// Some key identities came from input events, not key events (a soft keyboard that
    /// reports `Unidentified`): its timings are of lower precision.
    pub low_precision: bool,
    /// The enrolment session it was typed in (the workbench's participant record).
    pub participant: Participant,
}

/// The workbench operator's record of an enrolment session, stored with each sample typed in
/// it (the participant is the user): all free text, each part optional.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Participant {
    /// The session's label (`"S1"`, `"day 2, lab B"`).
    pub session: Option<String>,
    /// The device or keyboard typed on.
    pub device: Option<String>,
    /// The operator's notes.
    pub notes: Option<String>,
}

/// The longest session label and device name kept, in characters.
pub const MAX_LABEL_CHARS: usize = 64;
/// The longest notes kept, in characters.
pub const MAX_NOTES_CHARS: usize = 500;

impl Participant {
    /// A record of these texts, each on one line (control characters become spaces) and cut
    /// to [`MAX_LABEL_CHARS`] or [`MAX_NOTES_CHARS`]; blank ones are absent.
    pub fn new(session: &str, device: &str, notes: &str) -> Participant {
        let text = |t: &str, max: usize| {
            let line: String = t
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .take(max)
                .collect();
            Some(line.trim().to_string()).filter(|t| !t.is_empty())
        };
        Participant {
            session: text(session, MAX_LABEL_CHARS),
            device: text(device, MAX_LABEL_CHARS),
            notes: text(notes, MAX_NOTES_CHARS),
        }
    }
}

/// Why a client's capture description was refused (a 400 message).
#[derive(Debug, Error, PartialEq)]
pub enum CaptureError {
    /// The source is not a short lower-case name.
    #[error("capture.source must be 1-{MAX_SOURCE_CHARS} characters of a-z 0-9 -, got {0:?}")]
    Source(String),
    /// The browser is too long or not printable ASCII.
    #[error("capture.browser must be at most {MAX_BROWSER_CHARS} printable ASCII characters")]
    Browser,
    /// The resolution is not a positive number of at most a second.
    #[error("capture.timer_resolution_ms must be a number above 0 and at most 1000, got {0}")]
    Resolution(f64),
}

impl Capture {
    /// A capture by `source` with nothing else known.
    pub fn of(source: &str) -> Capture {
        Capture {
            source: source.to_string(),
            ..Capture::default()
        }
    }

    /// Checks a description that came from a client.
    pub fn validate(&self) -> Result<(), CaptureError> {
        let name_ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        if self.source.is_empty()
            || self.source.len() > MAX_SOURCE_CHARS
            || !self.source.chars().all(name_ok)
        {
            return Err(CaptureError::Source(self.source.clone()));
        }
        if let Some(browser) = &self.browser
            && (browser.len() > MAX_BROWSER_CHARS
                || !browser.chars().all(|c| c == ' ' || c.is_ascii_graphic()))
        {
            return Err(CaptureError::Browser);
        }
        if let Some(resolution) = self.timer_resolution_ms
            && !(resolution > 0.0 && resolution <= 1000.0)
        {
            return Err(CaptureError::Resolution(resolution));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_participant_record_keeps_what_was_typed_and_drops_blanks() {
        let record = Participant::new(" S1 ", "", "left-handed");
        assert_eq!(record.session.as_deref(), Some("S1"));
        assert_eq!(record.device, None);
        assert_eq!(record.notes.as_deref(), Some("left-handed"));
        assert_eq!(Participant::new(" ", "", ""), Participant::default());
        let pasted = Participant::new("S1\x1b[2J\nday 2", &"k".repeat(100), &"n".repeat(600));
        assert_eq!(pasted.session.as_deref(), Some("S1 [2J day 2"));
        assert_eq!(
            pasted.device.map(|d| d.chars().count()),
            Some(MAX_LABEL_CHARS)
        );
        assert_eq!(
            pasted.notes.map(|n| n.chars().count()),
            Some(MAX_NOTES_CHARS)
        );
    }

    #[test]
    fn a_client_description_is_checked() {
        let browser = Capture {
            source: BROWSER.into(),
            browser: Some("Chrome 148".into()),
            timer_resolution_ms: Some(0.1),
            low_precision: true,
            participant: Participant::default(),
        };
        assert_eq!(browser.validate(), Ok(()));
        for bad in ["", "Browser", "a/b", "seventeen-chars-x"] {
            assert!(Capture::of(bad).validate().is_err(), "{bad:?}");
        }
        let long = Capture {
            browser: Some("x".repeat(65)),
            ..browser.clone()
        };
        assert_eq!(long.validate(), Err(CaptureError::Browser));
        let control = Capture {
            browser: Some("Chrome\n148".into()),
            ..browser.clone()
        };
        assert_eq!(control.validate(), Err(CaptureError::Browser));
        for resolution in [0.0, -1.0, f64::NAN, 1000.5] {
            let bad = Capture {
                timer_resolution_ms: Some(resolution),
                ..browser.clone()
            };
            assert!(bad.validate().is_err(), "{resolution}");
        }
    }
}
