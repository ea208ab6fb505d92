//! Arbitrary request paths: normalisation never panics, its output is a fixed point, and a
//! lookup with it never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_router::{PathType, RouteTableBuilder, normalize_path};

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(norm) = normalize_path(raw) {
        let again = normalize_path(&norm).expect("normalised paths normalise");
        assert_eq!(again, norm, "normalisation is idempotent");
        let mut b = RouteTableBuilder::new();
        let _ = b.add(Some("a.test"), "/api", PathType::Prefix, 1u8);
        let _ = b.add(None, "/", PathType::Prefix, 2u8);
        let table = b.build();
        let _ = table.lookup("a.test", &norm);
    }
});
