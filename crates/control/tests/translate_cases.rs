//! Table-driven translation tests: every directory under `tests/data/translate/` is a manifest
//! set plus an `expect.yaml` describing the routes, certificates and diagnostics it must
//! produce. The runner copies the set into a temporary directory, adds TLS Secrets generated
//! at test time (`secrets:` in `expect.yaml`), loads it with the file provider, translates it
//! and checks every expectation; all failures of all cases are reported together.
//!
//! `expect.yaml`:
//! ```yaml
//! description: what the case shows (and the issue/scenario it comes from)
//! watch_ingress_without_class: false   # TranslateOptions
//! secrets:                             # generated kubernetes.io/tls Secrets
//!   - {name: myapp-secret, namespace: default, hosts: [myapp.com]}
//! load_error: false                    # the whole load must be rejected
//! lookups:                             # route: null = no route (404)
//!   - {host: myapp.com, path: /blog, route: myapp.com/blog, ingress: default/x,
//!      endpoints: ["10.0.0.1:8080"], ssl_redirect: true, max_body_bytes: 1024}
//! tls: [{host: myapp.com, configured: true}]
//! diagnostics:                         # every error and warning must be listed
//!   - {severity: warning, contains: "deprecated"}
//! ```

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use portcullis_control::tls::{self_signed, self_signed_pem};
use portcullis_control::{Severity, TranslateOptions, load_dir, translate};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    description: String,
    #[serde(default)]
    watch_ingress_without_class: bool,
    #[serde(default)]
    secrets: Vec<GeneratedSecret>,
    #[serde(default)]
    load_error: bool,
    #[serde(default)]
    lookups: Vec<Lookup>,
    #[serde(default)]
    tls: Vec<TlsExpect>,
    #[serde(default)]
    diagnostics: Vec<DiagExpect>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GeneratedSecret {
    name: String,
    #[serde(default = "default_namespace")]
    namespace: String,
    hosts: Vec<String>,
}

fn default_namespace() -> String {
    "default".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Lookup {
    host: String,
    path: String,
    route: Option<String>,
    ingress: Option<String>,
    endpoints: Option<Vec<String>>,
    ssl_redirect: Option<bool>,
    max_body_bytes: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsExpect {
    host: String,
    configured: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DiagExpect {
    severity: String,
    contains: String,
}

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/translate")
}

#[test]
fn translate_cases() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 10, "expected the case directories");
    let mut failures = String::new();
    for dir in &dirs {
        if let Err(f) = run_case(dir) {
            let _ = writeln!(
                failures,
                "── {}:\n{f}",
                dir.file_name().unwrap().to_string_lossy()
            );
        }
    }
    assert!(failures.is_empty(), "translation cases failed:\n{failures}");
}

fn run_case(case: &Path) -> Result<(), String> {
    let expect_text =
        std::fs::read_to_string(case.join("expect.yaml")).map_err(|e| e.to_string())?;
    let expect: Expect =
        serde_yaml::from_str(&expect_text).map_err(|e| format!("expect.yaml: {e}"))?;
    assert!(!expect.description.is_empty());
    let tmp = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(case).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() != "expect.yaml" {
            std::fs::copy(&path, tmp.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    let mut generated = String::new();
    for s in &expect.secrets {
        let hosts: Vec<&str> = s.hosts.iter().map(String::as_str).collect();
        let (cert, key) = self_signed_pem(&hosts).unwrap();
        let indent = |pem: &str| {
            pem.lines()
                .map(|l| format!("    {l}\n"))
                .collect::<String>()
        };
        let _ = write!(
            generated,
            "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: {}\n  namespace: {}\n\
             type: kubernetes.io/tls\nstringData:\n  tls.crt: |\n{}  tls.key: |\n{}",
            s.name,
            s.namespace,
            indent(&cert),
            indent(&key)
        );
    }
    if !generated.is_empty() {
        std::fs::write(tmp.path().join("zz-generated-secrets.yaml"), generated).unwrap();
    }

    let mut problems = Vec::new();
    let mut opts = TranslateOptions::new(self_signed(&["default.invalid"]).unwrap());
    opts.watch_ingress_without_class = expect.watch_ingress_without_class;
    let (translation, mut diagnostics) = match load_dir(tmp.path()) {
        Err(e) => {
            if !expect.load_error {
                return Err(format!("unexpected load error: {e}\n{:#?}", e.diagnostics));
            }
            // Diagnostics name the temporary copy; compare on file names only.
            let diags = e.diagnostics;
            check_diagnostics(&expect, &diags, &mut problems);
            return finish(problems, &diags);
        }
        Ok(loaded) => {
            if expect.load_error {
                return Err("expected the load to be rejected".into());
            }
            let t = translate(&loaded.objects, &opts, 7);
            (t, loaded.diagnostics)
        }
    };
    diagnostics.extend(translation.diagnostics.iter().cloned());
    let snapshot = &translation.snapshot;
    if snapshot.generation != 7 {
        problems.push("generation not carried".to_string());
    }
    for l in &expect.lookups {
        let got = snapshot.routes.lookup(&l.host, &l.path);
        let what = format!("lookup {} {}", l.host, l.path);
        match (got, &l.route) {
            (None, None) => {}
            (None, Some(want)) => problems.push(format!("{what}: no route, want {want}")),
            (Some(m), None) => {
                problems.push(format!("{what}: got route {}, want none", m.target.label))
            }
            (Some(m), Some(want)) => {
                let r = m.target;
                if &*r.label != want {
                    problems.push(format!("{what}: route {}, want {want}", r.label));
                }
                if let Some(ing) = &l.ingress {
                    if &*r.ingress != ing {
                        problems.push(format!("{what}: ingress {}, want {ing}", r.ingress));
                    }
                }
                if let Some(eps) = &l.endpoints {
                    let got: Vec<String> =
                        r.backend.endpoints.iter().map(|e| e.to_string()).collect();
                    if &got != eps {
                        problems.push(format!("{what}: endpoints {got:?}, want {eps:?}"));
                    }
                }
                if let Some(want) = l.ssl_redirect {
                    if r.policy.ssl_redirect != want {
                        problems.push(format!("{what}: ssl_redirect {}", r.policy.ssl_redirect));
                    }
                }
                if l.max_body_bytes != r.policy.max_body_bytes && l.max_body_bytes.is_some() {
                    problems.push(format!(
                        "{what}: max_body_bytes {:?}",
                        r.policy.max_body_bytes
                    ));
                }
            }
        }
    }
    for t in &expect.tls {
        if snapshot.tls.has_host(&t.host) != t.configured {
            problems.push(format!("tls {}: configured = {}", t.host, !t.configured));
        }
    }
    check_diagnostics(&expect, &diagnostics, &mut problems);
    finish(problems, &diagnostics)
}

fn check_diagnostics(
    expect: &Expect,
    diagnostics: &[portcullis_control::Diagnostic],
    problems: &mut Vec<String>,
) {
    let severity = |s: &str| match s {
        "error" => Severity::Error,
        "warning" => Severity::Warning,
        "info" => Severity::Info,
        other => panic!("bad severity {other} in expect.yaml"),
    };
    for want in &expect.diagnostics {
        let sev = severity(&want.severity);
        if !diagnostics
            .iter()
            .any(|d| d.severity == sev && d.to_string().contains(&want.contains))
        {
            problems.push(format!(
                "missing {} diagnostic containing {:?}",
                want.severity, want.contains
            ));
        }
    }
    for d in diagnostics
        .iter()
        .filter(|d| d.severity >= Severity::Warning)
    {
        let listed = expect
            .diagnostics
            .iter()
            .any(|w| severity(&w.severity) == d.severity && d.to_string().contains(&w.contains));
        if !listed {
            problems.push(format!("unexpected diagnostic: {d}"));
        }
    }
}

fn finish(
    problems: Vec<String>,
    diagnostics: &[portcullis_control::Diagnostic],
) -> Result<(), String> {
    if problems.is_empty() {
        return Ok(());
    }
    let mut out = problems.join("\n");
    out.push_str("\n  all diagnostics:");
    for d in diagnostics {
        let _ = write!(out, "\n    {d}");
    }
    Err(out)
}
