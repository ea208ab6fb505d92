//! Table-driven tests: every `tests/data/*.yaml` file is loaded and run by this one runner.
//!
//! A file may hold three kinds of tables:
//! - `suites`: a set of rules (`rules`, all of which must be accepted), optional default
//!   backends (the first is kept, later ones must conflict), rules that must be refused
//!   (`rejected`, added after `rules`, with the expected `RouteError` variant) and requests
//!   (`requests`) with the expected backend (`~` = no route, 404) and optionally match kind, or
//!   the expected `PathError` variant when normalisation must refuse the path (400). A request
//!   `path` may carry a query string: it is cut off before normalisation, as the proxy does.
//! - `normalize`: `normalize_path` input → output or error variant; every output must come
//!   back unchanged and borrowed when normalised again.
//! - `split_host_port`: authority → host and port, or `invalid: true`.
//!
//! All failures are collected and printed together, each with its file, suite and row.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use portcullis_router::{
    MatchKind, PathError, PathType, RouteError, RouteTableBuilder, normalize_path, split_host_port,
};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DataFile {
    #[serde(default)]
    suites: Vec<Suite>,
    #[serde(default)]
    normalize: Vec<NormalizeCase>,
    #[serde(default)]
    split_host_port: Vec<SplitCase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Suite {
    name: String,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    rules: Vec<Rule>,
    #[serde(default)]
    default_backends: Vec<String>,
    #[serde(default)]
    rejected: Vec<RejectedRule>,
    #[serde(default)]
    requests: Vec<Request>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    #[serde(default)]
    host: Option<String>,
    path: String,
    #[serde(rename = "type")]
    path_type: PathTypeName,
    backend: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RejectedRule {
    #[serde(default)]
    host: Option<String>,
    path: String,
    #[serde(rename = "type")]
    path_type: PathTypeName,
    error: RouteErrorName,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    #[serde(default)]
    host: String,
    path: String,
    #[serde(default)]
    backend: Option<String>,
    #[serde(default)]
    kind: Option<MatchKindName>,
    #[serde(default)]
    error: Option<PathErrorName>,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NormalizeCase {
    input: String,
    #[serde(default)]
    output: Option<String>,
    #[serde(default)]
    error: Option<PathErrorName>,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SplitCase {
    input: String,
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    port: Option<u16>,
    #[serde(default)]
    invalid: bool,
}

#[derive(Deserialize, Clone, Copy)]
enum PathTypeName {
    Exact,
    Prefix,
    ImplementationSpecific,
}

impl From<PathTypeName> for PathType {
    fn from(name: PathTypeName) -> Self {
        match name {
            PathTypeName::Exact => PathType::Exact,
            PathTypeName::Prefix => PathType::Prefix,
            PathTypeName::ImplementationSpecific => PathType::ImplementationSpecific,
        }
    }
}

#[derive(Deserialize, Clone, Copy, Debug, PartialEq)]
enum RouteErrorName {
    InvalidHost,
    InvalidPath,
    Conflict,
}

fn route_error_name(e: &RouteError) -> RouteErrorName {
    match e {
        RouteError::InvalidHost { .. } => RouteErrorName::InvalidHost,
        RouteError::InvalidPath { .. } => RouteErrorName::InvalidPath,
        RouteError::Conflict { .. } => RouteErrorName::Conflict,
    }
}

#[derive(Deserialize, Clone, Copy, Debug, PartialEq)]
enum MatchKindName {
    Exact,
    Prefix,
    DefaultBackend,
}

fn match_kind_name(k: MatchKind) -> MatchKindName {
    match k {
        MatchKind::Exact => MatchKindName::Exact,
        MatchKind::Prefix => MatchKindName::Prefix,
        MatchKind::DefaultBackend => MatchKindName::DefaultBackend,
    }
}

#[derive(Deserialize, Clone, Copy, Debug, PartialEq)]
enum PathErrorName {
    NotAbsolute,
    BadEncoding,
    EscapesRoot,
    EncodedNul,
    AmbiguousDotSegment,
}

fn path_error_name(e: PathError) -> PathErrorName {
    match e {
        PathError::NotAbsolute => PathErrorName::NotAbsolute,
        PathError::BadEncoding => PathErrorName::BadEncoding,
        PathError::EscapesRoot => PathErrorName::EscapesRoot,
        PathError::EncodedNul => PathErrorName::EncodedNul,
        PathError::AmbiguousDotSegment => PathErrorName::AmbiguousDotSegment,
    }
}

/// Counts and failure messages of one run.
#[derive(Default)]
struct Report {
    rows: usize,
    failures: String,
}

impl Report {
    fn check(&mut self, ok: bool, context: impl FnOnce() -> String) {
        self.rows += 1;
        if !ok {
            let _ = writeln!(self.failures, "{}", context());
        }
    }
}

fn run_suite(file: &str, suite: &Suite, report: &mut Report) {
    let where_ = |what: String| format!("{file} / {}: {what}", suite.name);
    let mut builder = RouteTableBuilder::new();
    for rule in &suite.rules {
        let added = builder.add(
            rule.host.as_deref(),
            &rule.path,
            rule.path_type.into(),
            rule.backend.clone(),
        );
        report.check(added.is_ok(), || {
            where_(format!(
                "rule {:?} {} should be accepted: {added:?}",
                rule.host, rule.path
            ))
        });
    }
    for (i, backend) in suite.default_backends.iter().enumerate() {
        let set = builder.set_default_backend(backend.clone());
        let ok = if i == 0 {
            set.is_ok()
        } else {
            matches!(set, Err(RouteError::Conflict { .. }))
        };
        report.check(ok, || {
            where_(format!("default backend #{i} {backend}: {set:?}"))
        });
    }
    for rule in &suite.rejected {
        let added = builder.add(
            rule.host.as_deref(),
            &rule.path,
            rule.path_type.into(),
            "<rejected>".to_string(),
        );
        let got = added.as_ref().err().map(route_error_name);
        report.check(got == Some(rule.error), || {
            where_(format!(
                "rule {:?} {:?} should be refused with {:?}, got {added:?} ({})",
                rule.host,
                rule.path,
                rule.error,
                rule.note.as_deref().unwrap_or("")
            ))
        });
    }
    let table = builder.build();
    for request in &suite.requests {
        let raw_path = request.path.split('?').next().unwrap_or_default();
        let outcome = normalize_path(raw_path).map(|path| {
            table
                .lookup(&request.host, &path)
                .map(|m| (m.target.clone(), match_kind_name(m.kind)))
        });
        let ok = match (&outcome, request.error) {
            (Err(e), Some(expected)) => path_error_name(*e) == expected,
            (Ok(found), None) => {
                found.as_ref().map(|(b, _)| b) == request.backend.as_ref()
                    && request
                        .kind
                        .is_none_or(|k| found.as_ref().map(|(_, got)| *got) == Some(k))
            }
            _ => false,
        };
        report.check(ok, || {
            where_(format!(
                "request host {:?} path {:?}: expected backend {:?} kind {:?} error {:?}, got {outcome:?} ({})",
                request.host,
                request.path,
                request.backend,
                request.kind,
                request.error,
                request.note.as_deref().unwrap_or("")
            ))
        });
    }
    let _ = &suite.source;
}

fn run_file(path: &Path, report: &mut Report) {
    let name = path
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => return report.check(false, || format!("{name}: cannot read: {e}")),
    };
    let data: DataFile = match serde_yaml::from_str(&text) {
        Ok(data) => data,
        Err(e) => return report.check(false, || format!("{name}: cannot parse: {e}")),
    };
    for suite in &data.suites {
        run_suite(&name, suite, report);
    }
    for case in &data.normalize {
        let got = normalize_path(&case.input);
        let ok = match (&got, &case.output, case.error) {
            (Ok(out), Some(expected), None) => out == expected,
            (Err(e), None, Some(expected)) => path_error_name(*e) == expected,
            _ => false,
        };
        report.check(ok, || {
            format!(
                "{name} / normalize {:?}: expected {:?} / {:?}, got {got:?} ({})",
                case.input,
                case.output,
                case.error,
                case.note.as_deref().unwrap_or("")
            )
        });
    }
    // The canonical form is a fixed point, returned without allocation.
    for case in &data.normalize {
        let Some(output) = &case.output else { continue };
        let again = normalize_path(output);
        let fixed = matches!(&again, Ok(std::borrow::Cow::Borrowed(p)) if p == output);
        report.check(fixed, || {
            format!("{name} / normalize {output:?} is not a borrowed fixed point: {again:?}")
        });
    }
    for case in &data.split_host_port {
        let got = split_host_port(&case.input);
        let expected = if case.invalid {
            None
        } else {
            case.host.as_deref().map(|h| (h, case.port))
        };
        report.check(got == expected, || {
            format!(
                "{name} / split_host_port {:?}: expected {expected:?}, got {got:?}",
                case.input
            )
        });
    }
}

fn data_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn routing_tables() {
    let files = data_files();
    assert!(!files.is_empty(), "no data files in tests/data");
    let mut report = Report::default();
    for file in &files {
        run_file(file, &mut report);
    }
    eprintln!("{} rows from {} files", report.rows, files.len());
    assert!(
        report.failures.is_empty(),
        "failed rows:\n{}",
        report.failures
    );
}
