//! Table-driven transformation tests (`tests/data/transform_cases.json`: notable behaviours,
//! each with its reason) and name handling: every `t:` used by OWASP CRS must resolve.

use portcullis_waf::transform::Transform;
use serde_json::Value;

fn bytes(s: &str) -> Vec<u8> {
    s.chars().map(|c| c as u32 as u8).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn transform_table() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/transform_cases.json"
    );
    let cases: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json");
    let mut failures = Vec::new();
    for case in &cases {
        let s = |k: &str| case.get(k).and_then(Value::as_str).map(str::to_string);
        let name = s("t").unwrap_or_default();
        let t = Transform::from_name(&name).unwrap_or_else(|| panic!("unknown {name}"));
        let input = bytes(&s("input").unwrap_or_default());
        let want = match s("outputHex") {
            Some(h) => unhex(&h),
            None => bytes(&s("output").unwrap_or_default()),
        };
        let got = t.apply(&input);
        if got.as_ref() != want.as_slice() {
            failures.push(format!("{name} {input:?}: expected {want:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn names_round_trip_and_are_case_insensitive() {
    for t in Transform::all() {
        assert_eq!(Transform::from_name(t.name()), Some(t));
        assert_eq!(Transform::from_name(&t.name().to_uppercase()), Some(t));
    }
    assert_eq!(Transform::from_name("none"), None);
    assert_eq!(
        Transform::from_name("normalisePath"),
        Some(Transform::NormalizePath)
    );
    assert_eq!(
        Transform::from_name("base64decode"),
        Some(Transform::Base64Decode)
    );
}

#[test]
fn unchanged_values_are_borrowed() {
    for t in [
        Transform::Lowercase,
        Transform::UrlDecodeUni,
        Transform::HtmlEntityDecode,
        Transform::JsDecode,
        Transform::CssDecode,
        Transform::Utf8ToUnicode,
        Transform::RemoveNulls,
        Transform::CompressWhitespace,
        Transform::ReplaceComments,
        Transform::NormalizePath,
        Transform::Trim,
    ] {
        assert!(
            matches!(t.apply(b"plain text 123"), std::borrow::Cow::Borrowed(_)),
            "{} copied an unchanged value",
            t.name()
        );
    }
}

#[test]
fn every_crs_transformation_is_known() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/crs");
    let Ok(entries) = std::fs::read_dir(dir.join("rules")) else {
        eprintln!("SKIP: ../shared/crs not found");
        return;
    };
    let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    files.push(dir.join("crs-setup.conf.example"));
    let re = regex::Regex::new(r"\bt:([A-Za-z0-9]+)").expect("regex");
    let mut unknown = Vec::new();
    for f in files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "conf" || e == "example"))
    {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
            for c in re.captures_iter(line) {
                let name = &c[1];
                if name != "none" && Transform::from_name(name).is_none() {
                    unknown.push(format!("{}: t:{name}", f.display()));
                }
            }
        }
    }
    assert!(unknown.is_empty(), "{}", unknown.join("\n"));
}

/// Random bytes (biased towards the characters the decoders look at) through every
/// transformation and short chains: no panic, and `Borrowed` exactly when unchanged.
#[test]
fn random_inputs_never_panic() {
    const ALPHABET: &[u8] =
        b"%uU+&#x;\\/.*-<!>'\"^ \t\n\r\x0b\x0c\x00\xa0\xc2\xc3\xe2\xf0\xf5\xff\x80\xbf09afAFgzXn=";
    let mut state: u64 = 0x1234_5678_9abc_def1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let all: Vec<Transform> = Transform::all().collect();
    for _ in 0..4000 {
        let len = (next() % 40) as usize;
        let input: Vec<u8> = (0..len)
            .map(|_| {
                let r = next();
                if r % 4 == 0 {
                    (r >> 8) as u8
                } else {
                    ALPHABET[(r >> 8) as usize % ALPHABET.len()]
                }
            })
            .collect();
        for &t in &all {
            let out = t.apply(&input);
            if let std::borrow::Cow::Borrowed(b) = out {
                assert_eq!(b, &input[..], "{} borrowed a changed value", t.name());
            }
        }
        let chain = [
            all[(next() % all.len() as u64) as usize],
            all[(next() % all.len() as u64) as usize],
        ];
        let _ = Transform::apply_all(&chain, &input);
    }
}
