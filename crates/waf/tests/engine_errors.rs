//! Broken SecLang is rejected with `file:line: reason` (table in `data/engine_errors.json`: where, and a part of the reason),
//! including errors inside files reached through `Include`.

use portcullis_waf::Engine;
use serde_json::Value;
use std::path::Path;

fn data_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn compile(text: &str) -> Result<(), String> {
    let mut b = Engine::builder();
    b.add_text(text, "t", &data_dir())
        .map_err(|e| e.to_string())?;
    b.build().map(|_| ()).map_err(|e| e.to_string())
}

#[test]
fn broken_rules_give_file_line_and_reason() {
    let text = std::fs::read_to_string(data_dir().join("engine_errors.json")).unwrap();
    let cases: Vec<Value> = serde_json::from_str(&text).unwrap();
    let mut failures = Vec::new();
    for case in &cases {
        let rules = case["rules"].as_str().unwrap_or_default();
        let at = format!("{}: ", case["at"].as_str().unwrap_or_default());
        let want = case["contains"].as_str().unwrap_or_default();
        match compile(rules) {
            Ok(()) => failures.push(format!("{rules:?}: compiled, expected {at}...{want}")),
            Err(got) if got.starts_with(&at) && got.contains(want) => {}
            Err(got) => failures.push(format!("{rules:?}: got {got:?}, expected {at}...{want}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn error_in_included_file_names_that_file() {
    let dir = data_dir();
    let err = compile("Include engine_broken/*.conf").unwrap_err();
    let file = dir.join("engine_broken/broken.conf");
    assert_eq!(
        err,
        format!("{}:7: unsupported action \"frobnicate\"", file.display())
    );

    let mut b = Engine::builder();
    let err = b.add_file(&file).unwrap_err();
    assert_eq!(err.file, file.display().to_string());
    assert_eq!(err.line, 7);
}
