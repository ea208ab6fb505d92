//! Arbitrary `host\npath` inputs: path normalisation never panics and its output is a fixed
//! point; host canonicalisation is idempotent; a lookup (raw or canonical host, normalised
//! path) never panics; the same host and path given to the builder as a rule are refused with
//! an error or built into a table that can be looked up, without panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use portcullis_router::{
    PathType, RouteTable, RouteTableBuilder, canonical_host, normalize_path, split_host_port,
};

fn table() -> &'static RouteTable<u8> {
    static TABLE: OnceLock<RouteTable<u8>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut b = RouteTableBuilder::new();
        b.add(Some("a.test"), "/api", PathType::Prefix, 1).unwrap();
        b.add(Some("a.test"), "/api/v1/x", PathType::Exact, 2)
            .unwrap();
        b.add(Some("*.b.test"), "/", PathType::Prefix, 3).unwrap();
        b.add(None, "/static/", PathType::ImplementationSpecific, 4)
            .unwrap();
        b.add(None, "/", PathType::Prefix, 5).unwrap();
        b.set_default_backend(6).unwrap();
        b.build()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let (authority, raw) = input.split_once('\n').unwrap_or(("a.test", input));
    let host = split_host_port(authority).map_or(authority, |(h, _)| h);
    let canonical = canonical_host(host);
    if let Some(c) = &canonical {
        let again = canonical_host(c).expect("a canonical host stays valid");
        assert_eq!(again, *c, "host canonicalisation is idempotent");
    }
    if let Ok(norm) = normalize_path(raw) {
        let again = normalize_path(&norm).expect("normalised paths normalise");
        assert_eq!(again, norm, "normalisation is idempotent");
        let _ = table().lookup(host, &norm);
        if let Some(c) = &canonical {
            let _ = table().lookup(c, &norm);
        }
    }
    for path_type in [PathType::Exact, PathType::Prefix] {
        let mut b = RouteTableBuilder::new();
        if b.add(Some(host), raw, path_type, 7u8).is_ok() {
            let t = b.build();
            if let (Some(c), Ok(norm)) = (&canonical, normalize_path(raw)) {
                if !host.starts_with('*') {
                    let _ = t.lookup(c, &norm);
                }
            }
        }
    }
});
