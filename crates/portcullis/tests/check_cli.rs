//! `portcullis check`: the example passes; broken input fails with the file and the reason.

mod common;

use std::process::Command;

use common::*;

fn check(args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN).arg("check").args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn repo(path: &str) -> String {
    format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_example_configuration_is_valid() {
    let (code, text) = check(&["--config", &repo("config/portcullis.yaml")]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("0 error(s)"), "{text}");
}

#[test]
fn unparsable_manifest_is_named_with_the_reason() {
    let s = Scratch::new("check-yaml");
    s.write_manifest("good.yaml", &ingress_yaml("a", "a.test", &[("/", "svc")]));
    s.write_manifest(
        "bad.yaml",
        "kind: Ingress\napiVersion: networking.k8s.io/v1\nspec: {rules: [\n",
    );
    let (code, text) = check(&["--manifests", &path_of(&s.manifests())]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("bad.yaml"), "{text}");
}

#[test]
fn invalid_path_and_missing_service_are_reported() {
    let s = Scratch::new("check-content");
    s.write_manifest(
        "ing.yaml",
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: { name: shop, namespace: default }\nspec:\n  rules:\n    - host: shop.test\n      http:\n        paths:\n          - { path: no-slash, pathType: Prefix, backend: { service: { name: nowhere, port: { number: 80 } } } }\n",
    );
    let (code, text) = check(&["--manifests", &path_of(&s.manifests())]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("default/shop"), "names the Ingress: {text}");
    assert!(text.contains("no-slash"), "names the bad path: {text}");
}

#[test]
fn config_file_errors_name_file_and_line() {
    let s = Scratch::new("check-config");
    let cfg = s.0.join("bad.yaml");
    std::fs::write(&cfg, "proxy:\n  access_log: true\n  no_such_option: 1\n").unwrap();
    let (code, text) = check(&[
        "--config",
        &path_of(&cfg),
        "--manifests",
        &path_of(&s.manifests()),
    ]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("bad.yaml:3"), "{text}");
    assert!(text.contains("no_such_option"), "{text}");
}

#[test]
fn missing_manifests_directory_is_an_error() {
    let (code, text) = check(&["--manifests", "/nonexistent/portcullis-manifests"]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("/nonexistent/portcullis-manifests"), "{text}");
}
