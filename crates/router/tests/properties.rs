//! Randomised checks against a reference model (complementing the data tables): a
//! deterministic generator builds many small rule sets and requests, and every lookup is
//! compared with a naive reading of the Ingress v1 specification; `normalize_path` is fed
//! random strings and must never panic and always produce a canonical fixed point.

use std::borrow::Cow;

use portcullis_router::{MatchKind, PathType, RouteTableBuilder, normalize_path};

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const SEGMENTS: [&str; 5] = ["a", "b", "ab", "a;b", "A"];
const RULE_HOSTS: [Option<&str>; 5] = [
    None,
    Some("a.com"),
    Some("x.a.com"),
    Some("*.a.com"),
    Some("b.com"),
];
const REQUEST_HOSTS: [&str; 7] = [
    "a.com",
    "A.com:80",
    "x.a.com",
    "y.a.com",
    "z.y.a.com",
    "b.com.",
    "c.com",
];

fn random_path(rng: &mut Rng) -> String {
    let depth = rng.next() % 4;
    let mut path = String::new();
    for _ in 0..depth {
        path.push('/');
        path.push_str(rng.pick(&SEGMENTS));
    }
    if path.is_empty() || rng.next() % 3 == 0 {
        path.push('/');
    }
    path
}

/// The specification read naively: a list of accepted rules scanned linearly.
struct Model {
    rules: Vec<(Option<&'static str>, String, PathType, usize)>,
}

impl Model {
    fn host_matches(rule: &str, host: &str) -> bool {
        match rule.strip_prefix("*.") {
            Some(suffix) => host
                .split_once('.')
                .is_some_and(|(first, rest)| !first.is_empty() && rest == suffix),
            None => rule == host,
        }
    }

    fn lookup(&self, raw_host: &str, path: &str) -> Option<(usize, MatchKind)> {
        let host = raw_host.split(':').next().unwrap_or_default();
        let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
        let exact = |r: &&(Option<&str>, String, PathType, usize)| r.0 == Some(host.as_str());
        let wildcard = |r: &&(Option<&str>, String, PathType, usize)| {
            r.0.is_some_and(|h| h.starts_with("*.") && Self::host_matches(h, &host))
        };
        let group: Vec<_> = if self.rules.iter().any(|r| exact(&r)) {
            self.rules.iter().filter(exact).collect()
        } else if self.rules.iter().any(|r| wildcard(&r)) {
            self.rules.iter().filter(wildcard).collect()
        } else {
            self.rules.iter().filter(|r| r.0.is_none()).collect()
        };
        let trimmed = path.strip_suffix('/').unwrap_or(path);
        let mut best: Option<(usize, usize, MatchKind)> = None;
        for (_, rule_path, path_type, target) in group {
            let score = match path_type {
                PathType::Exact if rule_path == path => Some((path.len() + 1, MatchKind::Exact)),
                PathType::Exact => None,
                _ => {
                    let key = rule_path.strip_suffix('/').unwrap_or(rule_path);
                    let element_prefix = key.is_empty()
                        || trimmed == key
                        || trimmed
                            .strip_prefix(key)
                            .is_some_and(|r| r.starts_with('/'));
                    element_prefix.then_some((key.len(), MatchKind::Prefix))
                }
            };
            if let Some((len, kind)) = score {
                if best.is_none_or(|(l, _, _)| len > l) {
                    best = Some((len, *target, kind));
                }
            }
        }
        best.map(|(_, target, kind)| (target, kind))
    }
}

#[test]
fn lookup_agrees_with_the_naive_model() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let types = [
        PathType::Exact,
        PathType::Prefix,
        PathType::ImplementationSpecific,
    ];
    let mut compared = 0;
    for _ in 0..2_000 {
        let mut builder = RouteTableBuilder::new();
        let mut model = Model { rules: Vec::new() };
        for target in 0..(rng.next() % 8) as usize {
            let host = rng.pick(&RULE_HOSTS);
            let path = random_path(&mut rng);
            let path_type = rng.pick(&types);
            if builder.add(host, &path, path_type, target).is_ok() {
                model.rules.push((host, path, path_type, target));
            }
        }
        let table = builder.build();
        for _ in 0..20 {
            let host = rng.pick(&REQUEST_HOSTS);
            let path = random_path(&mut rng);
            let got = table.lookup(host, &path).map(|m| (*m.target, m.kind));
            let want = model.lookup(host, &path);
            assert_eq!(got, want, "host {host} path {path} rules {:?}", model.rules);
            compared += 1;
        }
    }
    assert_eq!(compared, 40_000);
}

#[test]
fn normalize_never_panics_and_reaches_a_fixed_point() {
    let alphabet = [
        "/", "/", ".", "..", "a", "%", "2", "e", "F", "f", ";", "\\", " ", "é", "%2e",
    ];
    let mut rng = Rng(0x0dd_ba11_cafe_f00d);
    let mut accepted = 0;
    for _ in 0..50_000 {
        let mut raw = String::from("/");
        for _ in 0..(rng.next() % 12) {
            raw.push_str(rng.pick(&alphabet));
        }
        let Ok(out) = normalize_path(&raw) else {
            continue;
        };
        accepted += 1;
        let out = out.into_owned();
        assert!(out.starts_with('/'), "{raw:?} → {out:?}");
        assert!(!out.contains("//"), "{raw:?} → {out:?}");
        for segment in out.split('/') {
            assert!(segment != "." && segment != "..", "{raw:?} → {out:?}");
        }
        assert!(out.is_ascii(), "{raw:?} → {out:?}");
        let again = normalize_path(&out);
        assert!(
            matches!(&again, Ok(Cow::Borrowed(p)) if *p == out),
            "{raw:?} → {out:?} → {again:?}"
        );
    }
    assert!(accepted > 1_000, "too few accepted inputs: {accepted}");
}

/// Found by `fuzz/fuzz_targets/route_normalize.rs`: a raw NUL byte was percent-encoded into
/// `%00`, which normalisation itself refuses (the output was not a fixed point, and a NUL
/// would have reached the upstream). Raw NUL is refused like `%00`.
#[test]
fn raw_nul_is_refused_like_encoded_nul() {
    assert_eq!(
        normalize_path("/api/v1/use\0\0\0\0rs"),
        Err(portcullis_router::PathError::EncodedNul)
    );
    assert_eq!(
        normalize_path("/a\0"),
        Err(portcullis_router::PathError::EncodedNul)
    );
    assert_eq!(normalize_path("/a%01").unwrap(), "/a%01");
}

/// Found by `fuzz/fuzz_targets/route_normalize.rs`: `X.B..` (two trailing dots, from the
/// authority `X.B..:83`) canonicalised to `x.b.`, which canonicalised again to `x.b`. A
/// host with two trailing dots has an empty label and can never match a rule host: `None`,
/// so it routes like any unknown host.
#[test]
fn host_with_two_trailing_dots_is_not_canonical() {
    use portcullis_router::{canonical_host, split_host_port};
    let (host, port) = split_host_port("X.B..:83").unwrap();
    assert_eq!((host, port), ("X.B..", Some(83)));
    assert_eq!(canonical_host(host), None);
    assert_eq!(canonical_host("X.B.").as_deref(), Some("x.b"));
    for host in ["a.test", "A.Test.", "a..b", "x.b", "x.b.:8080"] {
        if let Some(c) = canonical_host(host) {
            assert_eq!(canonical_host(&c).as_deref(), Some(&*c), "{host:?}");
        }
    }
}
