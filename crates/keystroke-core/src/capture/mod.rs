//! The capture model: key events as clients report them, and samples (one typing of the
//! phrase) paired from them.

mod event;
mod keys;
mod recorder;
mod sample;
mod shift;
pub mod source;

pub use event::json_type;
pub use event::{EventError, KeyAction, KeyEvent, MAX_EVENTS, MAX_KEY_CHARS};
pub use keys::canonical_key;
pub use recorder::{ABANDON_KEY, END_KEY, Recorded, Recorder, fit_to_phrase};
pub use sample::{MIN_PRESSES, Press, Sample, SampleError};
pub use shift::ShiftFold;
pub use source::{Capture, CaptureError, Participant};
