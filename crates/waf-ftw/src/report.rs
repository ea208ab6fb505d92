//! Per-stage results, the summary line, and JSON output.

use std::io::Write;
use std::path::Path;

use serde::Serialize;

/// How a stage ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Verdict {
    Passed,
    Failed,
    /// Listed in the overrides file; `would_pass` is what the run gave.
    Overridden {
        reason: String,
        would_pass: bool,
    },
}

/// The result of one stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StageResult {
    /// Test file path relative to the tests directory.
    pub file: String,
    pub rule_id: u64,
    pub test_id: u64,
    /// 1-based stage number within the test.
    pub stage: usize,
    pub verdict: Verdict,
    /// Why it failed (empty when it passed).
    pub problems: Vec<String>,
    /// Ids of the logged rules that matched, sorted.
    pub matched_ids: Vec<u64>,
    /// Status the client saw; None for a dropped connection.
    pub status: Option<u16>,
}

impl StageResult {
    /// "920100-4 stage 1" style name, as go-ftw titles tests.
    pub fn title(&self) -> String {
        format!("{}-{} stage {}", self.rule_id, self.test_id, self.stage)
    }
}

/// The outcome of a whole run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub stages: Vec<StageResult>,
    /// Files or stages that could not be loaded; each counts as a failure.
    pub load_errors: Vec<String>,
}

impl Report {
    pub fn passed(&self) -> usize {
        self.stages
            .iter()
            .filter(|s| s.verdict == Verdict::Passed)
            .count()
    }

    pub fn failed(&self) -> usize {
        self.stages
            .iter()
            .filter(|s| s.verdict == Verdict::Failed)
            .count()
            + self.load_errors.len()
    }

    pub fn overridden(&self) -> usize {
        self.stages
            .iter()
            .filter(|s| matches!(s.verdict, Verdict::Overridden { .. }))
            .count()
    }

    /// passed / (passed + failed); overridden stages are left out. 0 when nothing ran.
    pub fn pass_rate(&self) -> f64 {
        let total = self.passed() + self.failed();
        if total == 0 {
            0.0
        } else {
            self.passed() as f64 / total as f64
        }
    }

    /// The final line: `N passed, M failed` (plus overridden count and rate).
    pub fn summary(&self) -> String {
        format!(
            "{} passed, {} failed ({} overridden; pass rate {:.2}%)",
            self.passed(),
            self.failed(),
            self.overridden(),
            self.pass_rate() * 100.0
        )
    }

    /// One line per failure, then the summary line.
    pub fn print(&self, out: &mut dyn Write) -> std::io::Result<()> {
        for error in &self.load_errors {
            writeln!(out, "FAIL load: {error}")?;
        }
        for stage in self.stages.iter().filter(|s| s.verdict == Verdict::Failed) {
            writeln!(
                out,
                "FAIL {} ({}): {}",
                stage.title(),
                stage.file,
                stage.problems.join("; ")
            )?;
        }
        writeln!(out, "{}", self.summary())
    }

    /// Writes the whole report as JSON.
    pub fn write_json(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(path, text)
    }

    /// (title, verdict, matched ids, status) per stage: what must not depend on prefiltering.
    pub fn fingerprint(&self) -> Vec<(String, bool, Vec<u64>, Option<u16>)> {
        self.stages
            .iter()
            .map(|s| {
                let pass = match &s.verdict {
                    Verdict::Passed => true,
                    Verdict::Failed => false,
                    Verdict::Overridden { would_pass, .. } => *would_pass,
                };
                (
                    format!("{} {}", s.file, s.title()),
                    pass,
                    s.matched_ids.clone(),
                    s.status,
                )
            })
            .collect()
    }
}
