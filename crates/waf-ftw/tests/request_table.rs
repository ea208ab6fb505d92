//! go-ftw request building, table-driven from `data/requests.yaml`.

use portcullis_waf_ftw::request;
use portcullis_waf_ftw::schema::Input;
use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    name: String,
    input: Input,
    want: Want,
}

#[derive(Deserialize)]
struct Want {
    method: String,
    uri: String,
    version: String,
    headers: Vec<(String, String)>,
    body: String,
}

#[test]
fn requests_are_built_like_go_ftw() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/requests.yaml");
    let cases: Vec<Case> = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(cases.len() >= 10);
    for case in cases {
        let got = request::build(&case.input).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let headers: Vec<(String, String)> = got
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    String::from_utf8_lossy(n).into(),
                    String::from_utf8_lossy(v).into(),
                )
            })
            .collect();
        assert_eq!(
            (got.method.as_str(), got.uri.as_str(), got.version.as_str()),
            (
                case.want.method.as_str(),
                case.want.uri.as_str(),
                case.want.version.as_str()
            ),
            "{}",
            case.name
        );
        assert_eq!(headers, case.want.headers, "{}", case.name);
        assert_eq!(
            String::from_utf8_lossy(&got.body),
            case.want.body,
            "{}",
            case.name
        );
    }
}
