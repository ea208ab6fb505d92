//! Walks a go-ftw test directory and runs every stage against a [`Waf`].

use std::path::{Path, PathBuf};

use crate::albedo;
use crate::overrides::Overrides;
use crate::report::{Report, StageResult, Verdict};
use crate::request;
use crate::schema::{Output, TestFile, scalar_text};
use crate::waf::{Exchange, Waf};

/// Which tests to run and how to judge them.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only tests whose title (`<rule_id>-<test_id>`) contains this text.
    pub include: Option<String>,
}

/// Runs every `*.yaml` file under `tests_dir` (sorted, recursive).
pub fn run_tests(
    waf: &dyn Waf,
    tests_dir: &Path,
    overrides: &Overrides,
    filter: &Filter,
) -> Report {
    let mut report = Report::default();
    let mut files = Vec::new();
    if let Err(e) = collect_yaml(tests_dir, &mut files) {
        report
            .load_errors
            .push(format!("{}: {e}", tests_dir.display()));
        return report;
    }
    files.sort();
    for path in files {
        let shown = path
            .strip_prefix(tests_dir)
            .unwrap_or(&path)
            .display()
            .to_string();
        let parsed = std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|text| serde_yaml::from_str::<TestFile>(&text).map_err(|e| e.to_string()));
        match parsed {
            Ok(file) => run_file(waf, &file, &shown, overrides, filter, &mut report),
            Err(e) => report.load_errors.push(format!("{shown}: {e}")),
        }
    }
    report
}

fn collect_yaml(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_yaml(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
    Ok(())
}

fn run_file(
    waf: &dyn Waf,
    file: &TestFile,
    shown: &str,
    overrides: &Overrides,
    filter: &Filter,
    report: &mut Report,
) {
    if file.meta.enabled == Some(false) {
        return;
    }
    let rule_id = file.rule_id.unwrap_or_else(|| rule_id_from_name(shown));
    for (index, test) in file.tests.iter().enumerate() {
        let test_id = test.test_id.unwrap_or(index as u64 + 1);
        let title = format!("{rule_id}-{test_id}");
        if filter
            .include
            .as_ref()
            .is_some_and(|f| !title.contains(f.as_str()))
        {
            continue;
        }
        for (n, wrapper) in test.stages.iter().enumerate() {
            let stage = wrapper.stage();
            let mut result = StageResult {
                file: shown.to_string(),
                rule_id,
                test_id,
                stage: n + 1,
                verdict: Verdict::Passed,
                problems: Vec::new(),
                matched_ids: Vec::new(),
                status: None,
            };
            match request::build(&stage.input) {
                Ok(req) => {
                    let exchange = waf.exchange(&req, &mut albedo::respond);
                    result.problems = check(&stage.output, &exchange);
                    result.matched_ids = logged_ids(&exchange);
                    result.status = exchange.status;
                }
                Err(e) => result.problems.push(format!("bad input: {e}")),
            }
            let passed = result.problems.is_empty();
            result.verdict = match overrides.reason(rule_id, test_id) {
                Some(reason) => Verdict::Overridden {
                    reason: reason.to_string(),
                    would_pass: passed,
                },
                None if passed => Verdict::Passed,
                None => Verdict::Failed,
            };
            report.stages.push(result);
        }
    }
}

/// `920100.yaml` → 920100 for files without `rule_id`.
fn rule_id_from_name(path: &str) -> u64 {
    let stem = Path::new(path)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("");
    stem.chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or(0)
}

fn logged_ids(exchange: &Exchange) -> Vec<u64> {
    let mut ids: Vec<u64> = exchange
        .hits
        .iter()
        .filter(|h| h.log)
        .map(|h| h.id)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Compares an exchange with the expected output, in go-ftw's order; returns the problems.
pub fn check(output: &Output, exchange: &Exchange) -> Vec<String> {
    let mut problems = Vec::new();
    let expect_error = output.expect_error.unwrap_or(false);
    let Some(status) = exchange.status else {
        if !expect_error {
            problems.push("connection dropped but no error expected".to_string());
        }
        return problems;
    };
    if let Some(want) = &output.status {
        let allowed: Vec<String> = match want {
            serde_yaml::Value::Sequence(list) => list.iter().filter_map(scalar_text).collect(),
            other => scalar_text(other).into_iter().collect(),
        };
        if !allowed.iter().any(|s| s.trim() == status.to_string()) {
            problems.push(format!(
                "status {status}, expected {}",
                allowed.join(" or ")
            ));
        }
    }
    if let Some(text) = &output.response_contains {
        let haystack = String::from_utf8_lossy(&exchange.response);
        if !haystack.contains(text.as_str()) {
            problems.push(format!("response does not contain {text:?}"));
        }
    }
    let ids = logged_ids(exchange);
    let missing: Vec<u64> = output
        .log
        .expect_ids
        .iter()
        .copied()
        .filter(|id| !ids.contains(id))
        .collect();
    if !missing.is_empty() {
        problems.push(format!(
            "expected ids {missing:?} not logged (logged: {ids:?})"
        ));
    }
    let unwanted: Vec<u64> = output
        .log
        .no_expect_ids
        .iter()
        .copied()
        .filter(|id| ids.contains(id))
        .collect();
    if !unwanted.is_empty() {
        problems.push(format!("unexpected ids {unwanted:?} logged"));
    }
    let log: Vec<String> = exchange
        .hits
        .iter()
        .filter(|h| h.log)
        .map(|h| h.log_line())
        .collect();
    let log = log.join("\n");
    let regex_check =
        |pattern: &str, want: bool, problems: &mut Vec<String>| match regex::RegexBuilder::new(
            pattern,
        )
        .size_limit(1 << 22)
        .build()
        {
            Ok(re) if re.is_match(&log) != want => {
                problems.push(format!(
                    "log {} match {pattern:?}",
                    if want { "does not" } else { "does" }
                ));
            }
            Ok(_) => {}
            Err(e) => problems.push(format!("bad regex {pattern:?}: {e}")),
        };
    if let Some(p) = &output.log.match_regex {
        regex_check(p, true, &mut problems);
    }
    if let Some(p) = &output.log.no_match_regex {
        regex_check(p, false, &mut problems);
    }
    if let Some(p) = &output.log_contains {
        regex_check(p, true, &mut problems);
    }
    if let Some(p) = &output.no_log_contains {
        regex_check(p, false, &mut problems);
    }
    problems
}
