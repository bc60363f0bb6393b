//! A /train or /predict body → user id, events, sample → features: never a panic, and whatever
//! is accepted gives one finite feature per slot.
#![no_main]

use keystroke_workbench::api::body::decode_sample;
use keystroke_workbench::features::{Features, feature_len, fingerprint};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    if let Ok((_user, sample)) = decode_sample(body) {
        let features = Features::of(&sample);
        assert_eq!(
            features.values_ms.len(),
            feature_len(features.key_sequence.len())
        );
        assert!(features.values_ms.iter().all(|v| v.is_finite()));
        fingerprint(&features.values_ms);
    }
});
