//! `portcullis check`: load and translate a manifests directory, return every diagnostic.
//!
//! The same code path as a reload: a file that does not parse is an error (a reload would be
//! rejected), and every problem the translation finds is reported. The caller exits non-zero
//! when [`crate::has_errors`] is true.

use std::path::Path;

use crate::diagnostics::Diagnostic;
use crate::manifests::load_dir;
use crate::translate::{TranslateOptions, translate};

/// Everything wrong (or worth knowing) about the manifests in `dir`, errors first.
pub fn check(dir: &Path, opts: &TranslateOptions) -> Vec<Diagnostic> {
    let mut diagnostics = match load_dir(dir) {
        Err(e) => e.diagnostics,
        Ok(loaded) => {
            let mut all = loaded.diagnostics;
            all.extend(translate(&loaded.objects, opts, 1).diagnostics);
            all
        }
    };
    // Stable: keeps file/object order within one severity.
    diagnostics.sort_by_key(|d| std::cmp::Reverse(d.severity));
    diagnostics
}
