//! `<id>.model.json`: never a panic; a model that loads scores any vector of its length to a
//! finite number and refuses any other length.
#![no_main]

use std::path::Path;

use keystroke_workbench::detect::SecurityLevel;
use keystroke_workbench::store::{UserId, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let user = UserId::parse("u").unwrap();
    if let Ok(model) = parse::model(&user, Path::new("u.model.json"), bytes) {
        let n = model.key_sequence.len() * 3 - 2;
        for level in SecurityLevel::ALL {
            for x in [vec![0.0; n], vec![100.0; n], vec![-1e6; n]] {
                let decision = model
                    .decision_at(level, &x)
                    .expect("a vector of the model's length");
                assert!(decision.is_finite());
            }
            assert!(model.decision_at(level, &vec![0.0; n + 1]).is_err());
        }
    }
});
