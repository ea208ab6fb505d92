//! Table-driven tests for the request body processors; the cases live in `data/body_*.json`.

use portcullis_waf::body::{
    MultipartFlags, Pairs, parse_json, parse_json_partial, parse_multipart, parse_urlencoded,
    parse_xml, parse_xml_partial, parse_xml_values,
};
use serde_json::Value;

fn load(name: &str) -> Vec<Value> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn text<'a>(case: &'a Value, key: &str) -> &'a str {
    case[key]
        .as_str()
        .unwrap_or_else(|| panic!("{case}: missing string {key}"))
}

fn pairs(case: &Value, key: &str) -> Pairs {
    case[key]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|p| {
                    let s = |i: usize| p[i].as_str().unwrap().as_bytes().to_vec();
                    (s(0), s(1))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn show(pairs: &Pairs) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| {
            (
                String::from_utf8_lossy(n).into(),
                String::from_utf8_lossy(v).into(),
            )
        })
        .collect()
}

#[test]
fn urlencoded_table() {
    for case in load("body_urlencoded.json") {
        let sep = case["separator"].as_str().map_or(b'&', |s| s.as_bytes()[0]);
        let got = parse_urlencoded(text(&case, "input").as_bytes(), sep);
        assert_eq!(show(&got), show(&pairs(&case, "pairs")), "{}", case["name"]);
    }
}

#[test]
fn json_table() {
    for case in load("body_json.json") {
        let depth = case["depth"].as_u64().unwrap_or(512) as usize;
        let got = parse_json(text(&case, "input").as_bytes(), depth);
        if case["error"].as_bool() == Some(true) {
            assert!(
                got.is_err(),
                "{}: expected an error, got {got:?}",
                case["name"]
            );
            let (partial, error) = parse_json_partial(text(&case, "input").as_bytes(), depth);
            assert!(error.is_some(), "{}", case["name"]);
            if case.get("pairs").is_some() {
                assert_eq!(
                    show(&partial),
                    show(&pairs(&case, "pairs")),
                    "{}",
                    case["name"]
                );
            }
        } else {
            let got = got.unwrap_or_else(|e| panic!("{}: {e}", case["name"]));
            assert_eq!(show(&got), show(&pairs(&case, "pairs")), "{}", case["name"]);
        }
    }
}

#[test]
fn xml_table() {
    for case in load("body_xml.json") {
        let got = parse_xml(text(&case, "input").as_bytes());
        // Without the element tree: the same values and errors.
        let values = parse_xml_values(text(&case, "input").as_bytes());
        assert_eq!(
            values
                .as_ref()
                .map(|d| (d.text_values(), d.attribute_values())),
            got.as_ref()
                .map(|d| (d.text_values(), d.attribute_values())),
            "{}: parse_xml_values",
            case["name"]
        );
        if case["error"].as_bool() == Some(true) {
            assert!(got.is_err(), "{}: expected an error", case["name"]);
            let (partial, error) = parse_xml_partial(text(&case, "input").as_bytes());
            assert!(error.is_some(), "{}", case["name"]);
            if let Some(want) = case.get("partial_text") {
                let want: Vec<Vec<u8>> = want
                    .as_str()
                    .map(|t| t.as_bytes().to_vec())
                    .into_iter()
                    .collect();
                assert_eq!(partial.text_values(), want, "{}: partial", case["name"]);
            }
            continue;
        }
        let doc = got.unwrap_or_else(|e| panic!("{}: {e}", case["name"]));
        assert_eq!(
            doc.text_values(),
            vec![text(&case, "text").as_bytes().to_vec()],
            "{}",
            case["name"]
        );
        let attrs: Vec<Vec<u8>> = case["attrs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().as_bytes().to_vec())
            .collect();
        assert_eq!(doc.attribute_values(), attrs, "{}", case["name"]);
    }
}

fn flag_names(f: &MultipartFlags) -> Vec<&'static str> {
    let all = [
        ("strict_error", f.strict_error),
        ("boundary_quoted", f.boundary_quoted),
        ("boundary_whitespace", f.boundary_whitespace),
        ("data_before", f.data_before),
        ("data_after", f.data_after),
        ("header_folding", f.header_folding),
        ("lf_line", f.lf_line),
        ("crlf_lf_lines", f.crlf_lf_lines),
        ("missing_semicolon", f.missing_semicolon),
        ("invalid_quoting", f.invalid_quoting),
        ("invalid_part", f.invalid_part),
        ("invalid_header_folding", f.invalid_header_folding),
        ("file_limit_exceeded", f.file_limit_exceeded),
        ("unmatched_boundary", f.unmatched_boundary),
    ];
    all.iter().filter(|(_, on)| *on).map(|(n, _)| *n).collect()
}

#[test]
fn multipart_table() {
    for case in load("body_multipart.json") {
        let name = &case["name"];
        let out = parse_multipart(
            text(&case, "content_type").as_bytes(),
            text(&case, "body").as_bytes(),
        );
        assert_eq!(show(&out.args), show(&pairs(&case, "args")), "{name}: args");
        let mut want: Vec<&str> = case["flags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        want.sort_unstable();
        let mut got = flag_names(&out.flags);
        got.sort_unstable();
        assert_eq!(got, want, "{name}: flags");
        assert_eq!(
            out.error.is_some(),
            case["error"].as_bool().unwrap(),
            "{name}: error {:?}",
            out.error
        );
        if let Some(files) = case["files"].as_array() {
            let got: Vec<(String, String, u64, String)> = out
                .files
                .iter()
                .map(|f| {
                    let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
                    (
                        s(&f.name),
                        s(&f.filename),
                        f.size as u64,
                        s(&f.content_type),
                    )
                })
                .collect();
            let want: Vec<(String, String, u64, String)> = files
                .iter()
                .map(|f| {
                    let s = |i: usize| f[i].as_str().unwrap().to_string();
                    (s(0), s(1), f[2].as_u64().unwrap(), s(3))
                })
                .collect();
            assert_eq!(got, want, "{name}: files");
        }
        if case.get("part_headers").is_some() {
            assert_eq!(
                show(&out.part_headers),
                show(&pairs(&case, "part_headers")),
                "{name}: part headers"
            );
        }
    }
}
