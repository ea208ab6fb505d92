//! Compile errors: every problem found while reading SecLang is reported with the file and
//! line of the directive that caused it.

use std::fmt;

/// An error found while loading or compiling SecLang; `Display` is `file:line: reason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct CompileError {
    /// File (or origin name given to `add_text`) holding the directive.
    pub file: String,
    /// 1-based line where the directive starts (0 when not tied to a line).
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

impl CompileError {
    /// Builds an error for `file:line`.
    pub fn new(file: &str, line: usize, reason: impl Into<String>) -> Self {
        CompileError {
            file: file.to_string(),
            line,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.reason)
    }
}

/// Result alias used by the parsing and compilation modules.
pub type CompileResult<T> = Result<T, CompileError>;

/// Where a directive came from; cheap to clone into rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// File name as given (or the origin passed to `add_text`).
    pub file: std::sync::Arc<str>,
    /// 1-based line of the directive's first line.
    pub line: usize,
}

impl Origin {
    /// An error located at this origin.
    pub fn error(&self, reason: impl Into<String>) -> CompileError {
        CompileError::new(&self.file, self.line, reason)
    }
}
