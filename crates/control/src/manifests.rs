//! The file provider: a directory of Kubernetes manifests → an [`ObjectSet`].
//!
//! Every `*.yaml`, `*.yml` and `*.json` file directly in the directory is read (not recursive;
//! names starting with `.` are skipped, which also skips editor swap files and the `..data`
//! links of a mounted ConfigMap), in file-name order. YAML files may hold several documents;
//! a document (or JSON file) may be a `kind: List` whose `items` are objects. Each object is
//! dispatched on `apiVersion`/`kind` into its k8s-openapi type:
//!
//! | apiVersion | kind |
//! |---|---|
//! | `networking.k8s.io/v1` (legacy `v1beta1` upgraded, see [`crate::legacy`]) | `Ingress` |
//! | `networking.k8s.io/v1` | `IngressClass` |
//! | `v1` | `Service`, `Secret` (type `kubernetes.io/tls` only) |
//! | `discovery.k8s.io/v1` | `EndpointSlice` |
//!
//! Parsing and dispatch live in [`crate::documents`]. Other kinds are skipped with a warning. A file that does not parse, or an object that does
//! not deserialise into its type, is an error naming the file, the document and the line where
//! known; [`load_dir`] then returns [`LoadError`] and the caller keeps its last good snapshot.
//! Invalid *content* (a bad path, a missing Service) is not a load error: the translation
//! reports it and applies the rest.

use std::path::{Path, PathBuf};

use crate::diagnostics::{Diagnostic, Source};
pub use crate::documents::parse_into;
use crate::objects::ObjectSet;

/// The result of reading a directory that parsed completely.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub objects: ObjectSet,
    /// Warnings and infos found while loading (never errors).
    pub diagnostics: Vec<Diagnostic>,
    /// Number of manifest files read.
    pub files: usize,
}

/// The directory could not be read, or at least one file did not parse.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", summary(.diagnostics))]
pub struct LoadError {
    /// All diagnostics of the attempt, the errors first.
    pub diagnostics: Vec<Diagnostic>,
}

fn summary(diagnostics: &[Diagnostic]) -> String {
    let errors: Vec<&Diagnostic> = diagnostics
        .iter()
        .filter(|d| d.severity == crate::Severity::Error)
        .collect();
    match errors.as_slice() {
        [] => "manifests could not be loaded".to_string(),
        [one] => format!("manifests rejected: {}: {}", one.source, one.reason),
        [first, rest @ ..] => format!(
            "manifests rejected: {}: {} (and {} more error(s))",
            first.source,
            first.reason,
            rest.len()
        ),
    }
}

/// Reads every manifest file in `dir`. Any file that fails to parse rejects the whole load.
pub fn load_dir(dir: &Path) -> Result<Loaded, LoadError> {
    let files = manifest_files(dir).map_err(|e| LoadError {
        diagnostics: vec![Diagnostic::error(
            Source::file(dir),
            format!("cannot read manifests directory: {e}"),
        )],
    })?;
    let mut loaded = Loaded {
        files: files.len(),
        ..Loaded::default()
    };
    for path in &files {
        match std::fs::read_to_string(path) {
            Ok(text) => parse_into(path, &text, &mut loaded.objects, &mut loaded.diagnostics),
            Err(e) => loaded.diagnostics.push(Diagnostic::error(
                Source::file(path),
                format!("cannot read: {e}"),
            )),
        }
    }
    if crate::has_errors(&loaded.diagnostics) {
        let mut diagnostics = loaded.diagnostics;
        diagnostics.sort_by_key(|d| std::cmp::Reverse(d.severity));
        return Err(LoadError { diagnostics });
    }
    Ok(loaded)
}

/// The manifest files of `dir`, sorted by name.
pub fn manifest_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let wanted = matches!(ext.as_deref(), Some("yaml" | "yml" | "json"));
        // `metadata` follows symlinks (ConfigMap mounts are symlinks to files).
        if wanted && !name.starts_with('.') && std::fs::metadata(&path)?.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}
