//! WAF logs: one ModSecurity-style error-log line per matched rule, and a JSON audit log in
//! ModSecurity v3's JSON format, both configured once per process with [`configure`].
//!
//! Error-log line (what go-ftw and log tooling grep for):
//!
//! ```text
//! 2026/11/26 12:00:00 [error] ModSecurity: Access denied with code 403 (phase 2). Matched
//! "ARGS:q" (Value: `...`) [file "..."] [line "12"] [id "942100"] [msg "..."] [data "..."]
//! [severity "2"] [tag "attack-sqli"] [hostname "..."] [uri "/?q=..."] [unique_id "..."]
//! ```
//!
//! (one line). Values are escaped so a line never breaks: `"` and `\` get a backslash,
//! control and non-ASCII bytes become `\xHH`.
//!
//! Writing: the files are opened in append mode and only ever written with whole lines per
//! `write` call, which the kernel appends atomically, so lines of concurrent requests never
//! interleave (no lock). By default each transaction's lines are written when it ends. With
//! `flush` set ([`WafLogConfig::flush`], like nginx's `access_log ... flush=`), a runtime
//! thread that reports going idle ([`flush_thread`], the runtimes' park hook) keeps its lines
//! in a thread buffer until then — under an attack flood one `write` per batch instead of one
//! per blocked request (the `write` cost ~10 µs of the ~65 µs a blocked CRS request cost the
//! proxy) — bounded by [`MAX_PENDING`] bytes and the `flush` age. Lines of different threads
//! may then reach the file out of order (their timestamps stay exact), which tools that
//! bracket a request's lines between marker requests (go-ftw) cannot use.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use portcullis_waf::MatchedRule;

use super::Interruption;

/// Where error-log lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorLogTarget {
    Stderr,
    File(PathBuf),
}

/// WAF log settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WafLogConfig {
    /// ModSecurity-style lines; `None` = not written.
    pub error_log: Option<ErrorLogTarget>,
    /// JSON audit log file; `None` = not written.
    pub audit_log: Option<PathBuf>,
    /// Longest a line may wait in a runtime thread's buffer; zero (the default) writes each
    /// transaction's lines when it ends.
    pub flush: Duration,
}

struct Sinks {
    error: Option<Sink>,
    audit: Option<Sink>,
    /// [`WafLogConfig::flush`], `None` for zero.
    flush: Option<Duration>,
}

enum Sink {
    Stderr,
    File(File),
}

impl Sink {
    /// Writes whole lines at once (see the module documentation).
    fn write_now(&self, text: &[u8]) {
        let _ = match self {
            Sink::Stderr => std::io::stderr().lock().write_all(text),
            Sink::File(f) => (&*f).write_all(text),
        };
    }
}

/// Bytes a thread keeps before writing them out.
pub const MAX_PENDING: usize = 64 << 10;

/// A runtime thread's lines not written yet, per sink.
#[derive(Default)]
struct Pending {
    error: Vec<u8>,
    audit: Vec<u8>,
    /// When the oldest kept line was added.
    since: Option<Instant>,
}

thread_local! {
    /// `Some` on threads that report going idle through [`flush_thread`].
    static PENDING: RefCell<Option<Pending>> = const { RefCell::new(None) };
}

/// Which log a line is for.
#[derive(Clone, Copy)]
enum Log {
    Error,
    Audit,
}

/// Writes `text` (whole lines) to `log`, or keeps it in the thread's buffer.
fn emit(s: &Sinks, log: Log, text: &[u8]) {
    let sink = match log {
        Log::Error => &s.error,
        Log::Audit => &s.audit,
    };
    let Some(sink) = sink else { return };
    let kept = s.flush.is_some()
        && PENDING
            .try_with(|p| {
                let mut p = p.try_borrow_mut().ok()?;
                let p = p.as_mut()?;
                match log {
                    Log::Error => p.error.extend_from_slice(text),
                    Log::Audit => p.audit.extend_from_slice(text),
                }
                p.since.get_or_insert_with(Instant::now);
                Some(())
            })
            .ok()
            .flatten()
            .is_some();
    if !kept {
        sink.write_now(text);
    }
}

/// Called by a runtime thread about to go idle (its park hook): writes the lines it kept,
/// and from now on lets it keep lines until its next call (only threads that call this keep
/// any, so none waits for an idle moment that never comes).
pub fn flush_thread() {
    let _ = PENDING.try_with(|p| {
        let Ok(mut p) = p.try_borrow_mut() else {
            return;
        };
        let p = p.get_or_insert_with(Pending::default);
        write_out(p);
    });
}

/// Called by a runtime thread that stops: writes what it kept and keeps nothing more.
pub fn stop_thread() {
    let _ = PENDING.try_with(|p| {
        if let Ok(mut p) = p.try_borrow_mut()
            && let Some(mut pending) = p.take()
        {
            write_out(&mut pending);
        }
    });
}

/// Writes the thread's kept lines out when they are [`MAX_PENDING`] bytes or as old as
/// [`WafLogConfig::flush`] (called by [`write()`], and by the proxy after each inspected
/// transaction it does not log).
pub fn flush_if_due() {
    let Some(delay) = sinks().and_then(|s| s.flush) else {
        return;
    };
    let _ = PENDING.try_with(|p| {
        let Ok(mut p) = p.try_borrow_mut() else {
            return;
        };
        let Some(p) = p.as_mut() else { return };
        let due = p.error.len() + p.audit.len() >= MAX_PENDING
            || p.since.is_some_and(|t| t.elapsed() >= delay);
        if due {
            write_out(p);
        }
    });
}

fn write_out(p: &mut Pending) {
    if p.since.take().is_none() {
        return;
    }
    if let Some(s) = sinks() {
        for (sink, buf) in [(&s.error, &mut p.error), (&s.audit, &mut p.audit)] {
            if let Some(sink) = sink
                && !buf.is_empty()
            {
                sink.write_now(buf);
            }
            buf.clear();
        }
    }
}

static SINKS: OnceLock<Sinks> = OnceLock::new();

fn open(path: &PathBuf) -> std::io::Result<Sink> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    Ok(Sink::File(f))
}

/// Opens the log files (once per process; later calls are ignored).
pub fn configure(cfg: &WafLogConfig) -> std::io::Result<()> {
    let error = match &cfg.error_log {
        None => None,
        Some(ErrorLogTarget::Stderr) => Some(Sink::Stderr),
        Some(ErrorLogTarget::File(p)) => Some(open(p)?),
    };
    let audit = match &cfg.audit_log {
        None => None,
        Some(p) => Some(open(p)?),
    };
    let flush = Some(cfg.flush).filter(|d| !d.is_zero());
    let _ = SINKS.set(Sinks {
        error,
        audit,
        flush,
    });
    Ok(())
}

fn sinks() -> Option<&'static Sinks> {
    SINKS.get()
}

/// Whether anything is logged at all (lets the caller skip building records).
pub fn enabled() -> bool {
    sinks().is_some_and(|s| s.error.is_some() || s.audit.is_some())
}

/// What one transaction contributes to the logs.
pub struct TxRecord<'a> {
    pub unique_id: &'a str,
    pub client_ip: std::net::IpAddr,
    pub client_port: u16,
    pub method: &'a str,
    pub uri: &'a str,
    pub http_version: &'a str,
    pub host: &'a str,
    /// Read for the audit log only (callers may leave it empty when that is off).
    pub request_headers: &'a [(String, String)],
    pub status: u16,
    /// (status, phase) when the WAF answered.
    pub interrupted: Option<(u16, u8)>,
    /// How it answered; the `Location` of a redirect.
    pub interruption: Option<(Interruption, Option<&'a str>)>,
    pub detection_only: bool,
    pub rules: &'a [MatchedRule],
    pub failure: Option<&'a str>,
}

/// Whether a transaction writes anything: it was interrupted, the WAF failed, or a rule
/// that logs matched (callers decide this before building the [`MatchedRule`] list).
pub fn relevant(interrupted: bool, failure: bool, logged_match: bool) -> bool {
    interrupted || failure || logged_match
}

/// Writes the error-log lines and, for relevant transactions, the audit record.
pub fn write(rec: &TxRecord<'_>) {
    let Some(s) = sinks() else { return };
    if s.error.is_some() {
        // One timestamp and one buffer for the transaction's lines, each field escaped
        // straight into it: an attack matches half a dozen CRS rules.
        let mut text = String::with_capacity(1024 * rec.rules.len().min(16) + 256);
        let now = timestamp();
        for r in rec.rules.iter().filter(|r| r.log) {
            error_line(&mut text, &now, rec, r);
        }
        if let Some(f) = rec.failure {
            let _ = write!(text, "{now} [error] ModSecurity: WAF failure: {f} [uri \"");
            esc_into(&mut text, rec.uri.as_bytes());
            text.push_str("\"] [unique_id \"");
            esc_into(&mut text, rec.unique_id.as_bytes());
            text.push_str("\"]\n");
        }
        if !text.is_empty() {
            emit(s, Log::Error, text.as_bytes());
        }
    }
    let logged_match = rec.rules.iter().any(|r| r.log);
    if s.audit.is_some()
        && relevant(
            rec.interrupted.is_some(),
            rec.failure.is_some(),
            logged_match,
        )
    {
        let mut line = audit_json(rec).to_string();
        line.push('\n');
        emit(s, Log::Audit, line.as_bytes());
    }
    flush_if_due();
}

/// Whether the JSON audit log is written (its record needs the request's headers).
pub fn audit_enabled() -> bool {
    sinks().is_some_and(|s| s.audit.is_some())
}

fn error_line(out: &mut String, now: &str, rec: &TxRecord<'_>, r: &MatchedRule) {
    out.push_str(now);
    out.push_str(" [error] ModSecurity: ");
    match rec.interrupted {
        Some((status, phase)) if r.disruptive && !rec.detection_only => match rec.interruption {
            Some((Interruption::Redirect, location)) => {
                out.push_str("Access denied with redirection to ");
                esc_into(out, location.unwrap_or("").as_bytes());
                let _ = write!(out, " using status {status} (phase {phase}).");
            }
            Some((Interruption::Drop, _)) => {
                let _ = write!(out, "Access denied with connection close (phase {phase}).");
            }
            _ => {
                let _ = write!(out, "Access denied with code {status} (phase {phase}).");
            }
        },
        _ => out.push_str("Warning."),
    }
    out.push_str(" Matched \"");
    esc_into(out, r.matched_var_name.as_bytes());
    out.push_str("\" (Value: `");
    esc_into(out, &r.matched_var[..r.matched_var.len().min(256)]);
    out.push_str("') [file \"");
    esc_into(out, r.file.as_bytes());
    let _ = write!(out, "\"] [line \"{}\"] [id \"{}\"] [msg \"", r.line, r.id);
    esc_into(out, r.msg.as_bytes());
    out.push_str("\"] [data \"");
    esc_into(out, r.data.as_bytes());
    out.push_str("\"] [severity \"");
    if let Some(s) = r.severity {
        let _ = write!(out, "{s}");
    }
    out.push_str("\"]");
    for t in &r.tags {
        out.push_str(" [tag \"");
        esc_into(out, t.as_bytes());
        out.push_str("\"]");
    }
    out.push_str(" [hostname \"");
    esc_into(out, rec.host.as_bytes());
    out.push_str("\"] [uri \"");
    esc_into(out, rec.uri.as_bytes());
    out.push_str("\"] [unique_id \"");
    esc_into(out, rec.unique_id.as_bytes());
    out.push_str("\"]\n");
}

/// ModSecurity v3's JSON audit record (`SecAuditLogFormat JSON`).
fn audit_json(rec: &TxRecord<'_>) -> serde_json::Value {
    use serde_json::{Map, Value, json};
    let headers: Map<String, Value> = rec
        .request_headers
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let messages: Vec<Value> = rec
        .rules
        .iter()
        .filter(|r| r.log)
        .map(|r| {
            json!({
                "message": r.msg,
                "details": {
                    "match": format!("Matched {}", r.matched_var_name),
                    "reference": "",
                    "ruleId": r.id.to_string(),
                    "file": r.file,
                    "lineNumber": r.line.to_string(),
                    "data": r.data,
                    "severity": r.severity.map_or(String::new(), |s| s.to_string()),
                    "ver": "",
                    "rev": "",
                    "tags": r.tags,
                    "maturity": "0",
                    "accuracy": "0",
                }
            })
        })
        .collect();
    json!({
        "transaction": {
            "client_ip": rec.client_ip.to_string(),
            "time_stamp": timestamp(),
            "server_id": "portcullis",
            "client_port": rec.client_port,
            "host_ip": "",
            "host_port": 0,
            "unique_id": rec.unique_id,
            "request": {
                "method": rec.method,
                "http_version": rec.http_version,
                "uri": rec.uri,
                "headers": headers,
            },
            "response": {
                "http_code": rec.status,
                "headers": {},
            },
            "producer": {
                "modsecurity": "portcullis-waf",
                "connector": "portcullis",
                "secrules_engine": if rec.detection_only { "DetectionOnly" } else { "Enabled" },
                "components": [],
            },
            "messages": messages,
        }
    })
}

/// Escapes a value for a bracketed `"..."` field.
pub fn esc(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    esc_into(&mut s, bytes);
    s
}

/// [`esc`], appended to `out`: printable runs are copied whole.
fn esc_into(out: &mut String, bytes: &[u8]) {
    let mut rest = bytes;
    while !rest.is_empty() {
        let plain = rest
            .iter()
            .position(|&b| !(0x20..=0x7e).contains(&b) || b == b'"' || b == b'\\')
            .unwrap_or(rest.len());
        // Printable ASCII: valid UTF-8 as it is.
        out.push_str(std::str::from_utf8(&rest[..plain]).unwrap_or_default());
        let Some(&b) = rest.get(plain) else { break };
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
        rest = &rest[plain + 1..];
    }
}

/// `YYYY/MM/DD HH:MM:SS` (UTC), as nginx's error log.
fn timestamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}/{m:02}/{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 → (year, month, day) (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_dates() {
        assert_eq!(esc(b"a\"b\\c\n\xff"), "a\\\"b\\\\c\\x0a\\xff");
        assert_eq!(esc(b""), "");
        assert_eq!(esc(b"plain text"), "plain text");
        assert_eq!(esc(b"\x01\x7f\"\""), "\\x01\\x7f\\\"\\\"");
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_418), (2025, 11, 26));
    }

    const FLUSH: Duration = Duration::from_millis(50);

    /// The only test of this binary that configures the (process-wide) sinks.
    #[test]
    fn runtime_threads_keep_lines_until_idle_others_write_at_once() {
        let dir = std::env::temp_dir().join(format!("pcx-waflog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("error.log");
        configure(&WafLogConfig {
            error_log: Some(ErrorLogTarget::File(path.clone())),
            audit_log: None,
            flush: FLUSH,
        })
        .unwrap();
        let text = || std::fs::read_to_string(&path).unwrap_or_default();
        let log = |marker: &str| {
            write(&TxRecord {
                unique_id: marker,
                client_ip: std::net::Ipv4Addr::LOCALHOST.into(),
                client_port: 1,
                method: "GET",
                uri: "/",
                http_version: "1.1",
                host: "h",
                request_headers: &[],
                status: 500,
                interrupted: None,
                interruption: None,
                detection_only: false,
                rules: &[],
                failure: Some("test"),
            })
        };
        std::thread::scope(|s| {
            s.spawn(|| log("at-once"));
        });
        assert!(text().contains("[unique_id \"at-once\"]"), "{}", text());

        let text2 = text;
        std::thread::scope(|s| {
            s.spawn(|| {
                flush_thread(); // as the park hook does: this thread now keeps its lines
                log("kept");
                assert!(!text2().contains("\"kept\""), "written before going idle");
                flush_thread();
                assert!(text2().contains("[unique_id \"kept\"]"));
                // Too old: the next check writes it out.
                log("aged");
                flush_if_due();
                assert!(!text2().contains("\"aged\""));
                std::thread::sleep(FLUSH);
                flush_if_due();
                assert!(text2().contains("\"aged\""));
                // Too much: written by the call that crossed the bound.
                let before = text2().len();
                let mut n = 0;
                while text2().len() == before {
                    log("bulk");
                    n += 1;
                    assert!(n * 100 < 4 * MAX_PENDING, "never written out");
                }
                assert!(text2().len() - before >= MAX_PENDING);
                // Stopping writes the rest and keeps nothing more.
                log("last");
                stop_thread();
                assert!(text2().contains("\"last\""));
                log("after-stop");
                assert!(text2().contains("\"after-stop\""));
            });
        });
        // Whole lines only.
        assert!(text().lines().all(|l| l.ends_with("\"]")), "{}", text());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
