//! `<id>_metadata.json`: never a panic; accepted metadata is consistent.
#![no_main]

use std::path::Path;

use keystroke_workbench::features::feature_len;
use keystroke_workbench::store::{UserId, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let user = UserId::parse("u").unwrap();
    if let Ok(metadata) = parse::metadata(&user, Path::new("u_metadata.json"), bytes) {
        assert_eq!(metadata.user_id, user);
        assert!(metadata.samples > 0);
        assert_eq!(
            metadata.feature_length,
            feature_len(metadata.key_sequence.len())
        );
    }
});
