//! Diagnostics: what the control plane tells the operator about its input.
//!
//! Every problem found while loading manifests or translating objects becomes a [`Diagnostic`]
//! with a [`Severity`], a [`Source`] (a file, or a Kubernetes object and the file it came
//! from) and a human-readable reason. They are values, not log lines: the binary logs them and
//! counts them in metrics, `portcullis check` prints them, and the Kubernetes watcher turns the
//! ones about Ingresses into Events.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Worth knowing (an ignored foreign Ingress, a backend without ready endpoints).
    Info,
    /// Accepted, but probably not what was meant (deprecated shape, certificate not covering a
    /// host, a conflicting rule that lost to an older Ingress).
    Warning,
    /// Part of the input could not be used (missing Service or Secret, invalid path, a file
    /// that does not parse).
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a diagnostic comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Source {
    /// A manifest file, optionally a document (0-based) and a 1-based line in it.
    File {
        path: PathBuf,
        document: Option<usize>,
        line: Option<usize>,
    },
    /// A Kubernetes object; `file` is the manifest it was read from (file provider only).
    Object {
        kind: &'static str,
        namespace: String,
        name: String,
        file: Option<Arc<Path>>,
    },
    /// The directory or the process as a whole.
    General(String),
}

impl Source {
    pub fn file(path: &Path) -> Source {
        Source::File {
            path: path.to_path_buf(),
            document: None,
            line: None,
        }
    }

    /// `namespace/name` for an object source, else None.
    pub fn object_name(&self) -> Option<String> {
        match self {
            Source::Object {
                namespace, name, ..
            } => Some(format!("{namespace}/{name}")),
            _ => None,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::File {
                path,
                document,
                line,
            } => {
                write!(f, "{}", path.display())?;
                if let Some(line) = line {
                    write!(f, ":{line}")?;
                }
                if let Some(doc) = document {
                    write!(f, " (document {})", doc + 1)?;
                }
                Ok(())
            }
            Source::Object {
                kind,
                namespace,
                name,
                file,
            } => {
                write!(f, "{kind} {namespace}/{name}")?;
                if let Some(file) = file {
                    write!(f, " ({})", file.display())?;
                }
                Ok(())
            }
            Source::General(what) => f.write_str(what),
        }
    }
}

/// One finding about the input.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Diagnostic {
    pub severity: Severity,
    pub source: Source,
    pub reason: String,
}

impl Diagnostic {
    pub fn new(severity: Severity, source: Source, reason: impl Into<String>) -> Self {
        Diagnostic {
            severity,
            source,
            reason: reason.into(),
        }
    }

    pub fn error(source: Source, reason: impl Into<String>) -> Self {
        Self::new(Severity::Error, source, reason)
    }

    pub fn warning(source: Source, reason: impl Into<String>) -> Self {
        Self::new(Severity::Warning, source, reason)
    }

    pub fn info(source: Source, reason: impl Into<String>) -> Self {
        Self::new(Severity::Info, source, reason)
    }

    /// Emits this diagnostic as one `tracing` event at the matching level (infos at debug,
    /// since they repeat on every rebuild).
    pub fn log(&self) {
        let source = self.source.to_string();
        match self.severity {
            Severity::Error => tracing::error!(source = %source, "{}", self.reason),
            Severity::Warning => tracing::warn!(source = %source, "{}", self.reason),
            Severity::Info => tracing::debug!(source = %source, "{}", self.reason),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.severity, self.source, self.reason)
    }
}

/// Whether any diagnostic is an [`Severity::Error`].
pub fn has_errors(diagnostics: &[Diagnostic]) -> bool {
    diagnostics.iter().any(|d| d.severity == Severity::Error)
}

/// Counts by severity: `(errors, warnings, infos)`.
pub fn count(diagnostics: &[Diagnostic]) -> (usize, usize, usize) {
    diagnostics
        .iter()
        .fold((0, 0, 0), |(e, w, i), d| match d.severity {
            Severity::Error => (e + 1, w, i),
            Severity::Warning => (e, w + 1, i),
            Severity::Info => (e, w, i + 1),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_line_and_document() {
        let d = Diagnostic::error(
            Source::File {
                path: "m/app.yaml".into(),
                document: Some(1),
                line: Some(12),
            },
            "bad indentation",
        );
        assert_eq!(
            d.to_string(),
            "error: m/app.yaml:12 (document 2): bad indentation"
        );
    }

    #[test]
    fn display_names_object_and_file() {
        let d = Diagnostic::warning(
            Source::Object {
                kind: "Ingress",
                namespace: "default".into(),
                name: "web".into(),
                file: Some(Arc::from(Path::new("m/web.yaml"))),
            },
            "conflict",
        );
        assert_eq!(
            d.to_string(),
            "warning: Ingress default/web (m/web.yaml): conflict"
        );
        assert_eq!(count(&[d]), (0, 1, 0));
    }
}
