//! `<id>_throttle.json`: never a panic.
#![no_main]

use std::path::Path;

use keystroke_workbench::store::{UserId, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let user = UserId::parse("u").unwrap();
    let _ = parse::throttle(&user, Path::new("u_throttle.json"), bytes);
});
