//! `<id>_features.npy`: never a panic, never an allocation the file does not back; an accepted
//! matrix holds exactly the file's data, all finite.
#![no_main]

use std::path::Path;

use keystroke_workbench::store::{UserId, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let user = UserId::parse("u").unwrap();
    if let Ok(matrix) = parse::features(&user, Path::new("u_features.npy"), bytes) {
        assert!(matrix.len() * 8 <= bytes.len());
        assert!(matrix.iter().all(|v| v.is_finite()));
    }
});
