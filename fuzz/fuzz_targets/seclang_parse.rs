//! Arbitrary text as a SecLang rule file: compiling must return Ok or a `file:line` error,
//! never panic or hang (regex size limits bound the work).
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_waf::Engine;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut builder = Engine::builder();
    if builder
        .add_text(text, "fuzz.conf", std::path::Path::new("/nonexistent"))
        .is_ok()
    {
        let _ = builder.build();
    }
});
