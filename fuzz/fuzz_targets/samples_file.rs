//! `<id>_samples.jsonl`: never a panic; a stored sample that loads either rebuilds into a sample
//! with finite features or is refused with a message (as export and retraining do).
#![no_main]

use std::path::Path;

use keystroke_workbench::capture::Sample;
use keystroke_workbench::features::Features;
use keystroke_workbench::store::{UserId, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let user = UserId::parse("u").unwrap();
    if let Ok(samples) = parse::samples(&user, Path::new("u_samples.jsonl"), bytes) {
        for stored in samples {
            if let Ok(sample) = Sample::from_events(stored.keystroke_data) {
                assert!(Features::of(&sample).values_ms.iter().all(|v| v.is_finite()));
            }
        }
    }
});
