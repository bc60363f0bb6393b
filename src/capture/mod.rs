//! The capture model: key events as clients report them, and samples (one typing of the
//! phrase) paired from them.

mod event;
mod sample;

pub(crate) use event::json_type;
pub use event::{EventError, KeyAction, KeyEvent, MAX_EVENTS, MAX_KEY_CHARS};
pub use sample::{MIN_PRESSES, Press, Sample, SampleError};
