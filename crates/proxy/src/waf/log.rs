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
//! interleave. By default each transaction's lines are written when it ends — before its
//! response is sent, so a reader that looks right after the response (go-ftw) finds them.
//! With `flush` set ([`WafLogConfig::flush`], like nginx's `access_log ... flush=`) the lines
//! of runtime threads wait in one process-wide batch, in the order the transactions ended,
//! until a runtime thread goes idle ([`flush_thread`], the runtimes' park hook), the batch
//! holds [`MAX_PENDING`] bytes, or its oldest line is `flush` old — under an attack flood
//! one `write` per batch instead of one per blocked request (~5 of the ~50 µs of proxy CPU a
//! CRS-blocked GET costs). Batches are written in the order they were taken, so the file
//! keeps the order of the requests; but lines land a moment after their responses, and a
//! reader can catch a batch half-written (the kernel extends the file page by page), which
//! cuts go-ftw's marker lines.

use std::cell::Cell;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use portcullis_waf::LoggedMatch;

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
    /// Longest a line may wait in the batch; zero writes each transaction's lines when it
    /// ends.
    pub flush: Duration,
}

struct Sinks {
    error: Option<Sink>,
    audit: Option<Sink>,
    /// [`WafLogConfig::flush`], `None` for zero.
    flush: Option<Duration>,
    /// Lines kept, in the order they were added.
    batch: Mutex<Batch>,
    /// When the oldest kept line was added: nanoseconds since `epoch` plus one; 0 when
    /// nothing is kept (changed only with `batch` locked).
    oldest: AtomicU64,
    epoch: Instant,
    /// Held while a taken batch is written, so batches reach the files in the order they were
    /// taken; holds the spare buffers swapped in for the taken ones.
    writer: Mutex<Batch>,
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

/// Bytes kept before they are written out.
pub const MAX_PENDING: usize = 64 << 10;

/// Lines not written yet, per log.
#[derive(Default)]
struct Batch {
    error: Vec<u8>,
    audit: Vec<u8>,
}

impl Batch {
    fn len(&self) -> usize {
        self.error.len() + self.audit.len()
    }
}

thread_local! {
    /// Whether this thread's lines go to the batch: set by [`flush_thread`] (runtime threads
    /// report going idle, so their lines never wait for an idle moment that does not come),
    /// cleared by [`stop_thread`].
    static KEEPS: Cell<bool> = const { Cell::new(false) };
}

/// Which log a line is for.
#[derive(Clone, Copy)]
enum Log {
    Error,
    Audit,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Sinks {
    fn sink(&self, log: Log) -> Option<&Sink> {
        match log {
            Log::Error => self.error.as_ref(),
            Log::Audit => self.audit.as_ref(),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX - 1) + 1
    }

    /// Writes `text` (whole lines) to `log`, or adds it to the batch.
    fn emit(&self, log: Log, text: &[u8]) {
        let Some(sink) = self.sink(log) else { return };
        if self.flush.is_none() {
            sink.write_now(text);
            return;
        }
        if KEEPS.try_with(Cell::get).unwrap_or(false) {
            let mut batch = lock(&self.batch);
            match log {
                Log::Error => batch.error.extend_from_slice(text),
                Log::Audit => batch.audit.extend_from_slice(text),
            }
            if self.oldest.load(Ordering::Relaxed) == 0 {
                self.oldest.store(self.now(), Ordering::Relaxed);
            }
            let full = batch.len() >= MAX_PENDING;
            drop(batch);
            if full {
                self.write_out();
            }
            return;
        }
        // A thread that keeps nothing writes at once, after the lines kept before its own.
        let mut spare = lock(&self.writer);
        self.write_batch(&mut spare);
        sink.write_now(text);
    }

    /// Writes the batch out, when it holds anything.
    fn write_out(&self) {
        if self.oldest.load(Ordering::Relaxed) != 0 {
            let mut spare = lock(&self.writer);
            self.write_batch(&mut spare);
        }
    }

    /// Takes the batch (leaving the empty `spare` buffers in its place) and writes it; the
    /// caller holds `writer`.
    fn write_batch(&self, spare: &mut Batch) {
        {
            let mut batch = lock(&self.batch);
            if batch.len() == 0 {
                return;
            }
            std::mem::swap(&mut *batch, spare);
            self.oldest.store(0, Ordering::Relaxed);
        }
        // The audit record first: a reader that found a request's error-log lines finds its
        // audit record too.
        for (log, buf) in [
            (Log::Audit, &mut spare.audit),
            (Log::Error, &mut spare.error),
        ] {
            if let Some(sink) = self.sink(log)
                && !buf.is_empty()
            {
                sink.write_now(buf);
            }
            buf.clear();
        }
    }
}

/// Called by a runtime thread about to go idle (its park hook): writes the batch out, and
/// from now on lets this thread add its lines to the batch.
pub fn flush_thread() {
    let _ = KEEPS.try_with(|k| k.set(true));
    flush();
}

/// Called by a runtime thread that stops: writes the batch out; this thread's lines are
/// written at once from now on.
pub fn stop_thread() {
    let _ = KEEPS.try_with(|k| k.set(false));
    flush();
}

/// Writes the batch out (at the end of the process).
pub fn flush() {
    if let Some(s) = sinks() {
        s.write_out();
    }
}

/// Writes the batch out when its oldest line is as old as [`WafLogConfig::flush`] (called
/// by [`write()`], and by the proxy after each inspected transaction it does not log).
pub fn flush_if_due() {
    let Some(s) = sinks() else { return };
    let Some(delay) = s.flush else { return };
    let oldest = s.oldest.load(Ordering::Relaxed);
    if oldest != 0
        && s.now().saturating_sub(oldest) >= u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX)
    {
        s.write_out();
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
        batch: Mutex::default(),
        oldest: AtomicU64::new(0),
        epoch: Instant::now(),
        writer: Mutex::default(),
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
    pub rules: &'a [LoggedMatch<'a>],
    pub failure: Option<&'a str>,
}

/// Whether a transaction writes anything: it was interrupted, the WAF failed, or a rule
/// that logs matched (callers decide this before reading the matches).
pub fn relevant(interrupted: bool, failure: bool, logged_match: bool) -> bool {
    interrupted || failure || logged_match
}

/// Writes the error-log lines and, for relevant transactions, the audit record.
pub fn write(rec: &TxRecord<'_>) {
    let Some(s) = sinks() else { return };
    if s.error.is_some() {
        // One timestamp and one buffer for the transaction's lines, each field escaped
        // straight into it (an attack matches half a dozen CRS rules); the fields that are
        // the transaction's own end every line and are escaped once.
        let mut text = Vec::with_capacity(768 * rec.rules.len().min(16) + 256);
        let mut tail = Vec::with_capacity(128 + rec.uri.len() + rec.host.len());
        tail.extend_from_slice(b" [hostname \"");
        esc_into(&mut tail, rec.host.as_bytes());
        tail.extend_from_slice(b"\"] [uri \"");
        esc_into(&mut tail, rec.uri.as_bytes());
        tail.extend_from_slice(b"\"] [unique_id \"");
        esc_into(&mut tail, rec.unique_id.as_bytes());
        tail.extend_from_slice(b"\"]\n");
        let now = timestamp();
        for r in rec.rules {
            error_line(&mut text, &now, rec, r, &tail);
        }
        if let Some(f) = rec.failure {
            text.extend_from_slice(&now);
            let _ = write!(text, " [error] ModSecurity: WAF failure: {f} [uri \"");
            esc_into(&mut text, rec.uri.as_bytes());
            text.extend_from_slice(b"\"] [unique_id \"");
            esc_into(&mut text, rec.unique_id.as_bytes());
            text.extend_from_slice(b"\"]\n");
        }
        if !text.is_empty() {
            s.emit(Log::Error, &text);
        }
    }
    if s.audit.is_some()
        && relevant(
            rec.interrupted.is_some(),
            rec.failure.is_some(),
            !rec.rules.is_empty(),
        )
    {
        let mut line = audit_json(rec).to_string();
        line.push('\n');
        s.emit(Log::Audit, line.as_bytes());
    }
    flush_if_due();
}

/// Whether the JSON audit log is written (its record needs the request's headers).
pub fn audit_enabled() -> bool {
    sinks().is_some_and(|s| s.audit.is_some())
}

/// One match's line; `tail` holds the transaction's hostname, uri and unique_id fields and
/// the newline.
fn error_line(out: &mut Vec<u8>, now: &[u8], rec: &TxRecord<'_>, r: &LoggedMatch<'_>, tail: &[u8]) {
    out.extend_from_slice(now);
    out.extend_from_slice(b" [error] ModSecurity: ");
    match rec.interrupted {
        Some((status, phase)) if r.disruptive && !rec.detection_only => match rec.interruption {
            Some((Interruption::Redirect, location)) => {
                out.extend_from_slice(b"Access denied with redirection to ");
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
        _ => out.extend_from_slice(b"Warning."),
    }
    out.extend_from_slice(b" Matched \"");
    esc_into(out, r.var_name.as_bytes());
    if let Some(key) = r.var_key {
        out.push(b':');
        esc_into(out, key);
    }
    out.extend_from_slice(b"\" (Value: `");
    esc_into(out, &r.matched_var[..r.matched_var.len().min(256)]);
    out.extend_from_slice(b"') [file \"");
    esc_into(out, r.file.as_bytes());
    let _ = write!(out, "\"] [line \"{}\"] [id \"{}\"] [msg \"", r.line, r.id);
    esc_into(out, r.msg.as_bytes());
    out.extend_from_slice(b"\"] [data \"");
    esc_into(out, r.data.as_bytes());
    out.extend_from_slice(b"\"] [severity \"");
    if let Some(s) = r.severity {
        let _ = write!(out, "{s}");
    }
    out.extend_from_slice(b"\"]");
    for t in r.tags {
        out.extend_from_slice(b" [tag \"");
        esc_into(out, t.as_bytes());
        out.extend_from_slice(b"\"]");
    }
    out.extend_from_slice(tail);
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
        .map(|r| {
            json!({
                "message": r.msg,
                "details": {
                    "match": format!("Matched {}", r.matched_var_name()),
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
            "time_stamp": String::from_utf8_lossy(&timestamp()),
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
    let mut out = Vec::with_capacity(bytes.len());
    esc_into(&mut out, bytes);
    // Only printable ASCII comes out.
    String::from_utf8(out).unwrap_or_default()
}

const LOW: u64 = u64::from_ne_bytes([0x01; 8]);
const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);

/// The high bit of each byte of `v` that is zero (exact for the lowest such byte; bytes
/// above it may be flagged spuriously, which only sends the chunk to the byte-wise scan).
fn zero_bytes(v: u64) -> u64 {
    v.wrapping_sub(LOW) & !v & HIGH
}

/// Whether any byte of `chunk` must be escaped: below 0x20, 0x7f and above, `"` or `\`.
fn any_special(chunk: u64) -> bool {
    let high = chunk & HIGH;
    // Bytes below 0x20 (checked on the low seven bits; high bytes are caught above).
    let low = (chunk & !HIGH).wrapping_sub(LOW * 0x20) & !chunk & HIGH;
    let del = zero_bytes(chunk ^ (LOW * 0x7f));
    let quote = zero_bytes(chunk ^ (LOW * u64::from(b'"')));
    let backslash = zero_bytes(chunk ^ (LOW * u64::from(b'\\')));
    high | low | del | quote | backslash != 0
}

fn is_special(b: u8) -> bool {
    !(0x20..=0x7e).contains(&b) || b == b'"' || b == b'\\'
}

/// [`esc`], appended to `out`: printable runs are copied whole, found eight bytes at a
/// time (an attack's lines are ~4 KB).
fn esc_into(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut rest = bytes;
    while !rest.is_empty() {
        let mut plain = 0;
        while let Some(chunk) = rest.get(plain..plain + 8) {
            let word = u64::from_ne_bytes(chunk.try_into().unwrap_or([0; 8]));
            if any_special(word) {
                break;
            }
            plain += 8;
        }
        plain += rest[plain..]
            .iter()
            .position(|&b| is_special(b))
            .unwrap_or(rest.len() - plain);
        out.extend_from_slice(&rest[..plain]);
        let Some(&b) = rest.get(plain) else { break };
        match b {
            b'"' | b'\\' => out.extend_from_slice(&[b'\\', b]),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&[
                    b'\\',
                    b'x',
                    HEX[usize::from(b >> 4)],
                    HEX[usize::from(b & 15)],
                ]);
            }
        }
        rest = &rest[plain + 1..];
    }
}

thread_local! {
    /// The last [`timestamp`] made on this thread and its second.
    static STAMP: Cell<(u64, [u8; 19])> = const { Cell::new((u64::MAX, [0; 19])) };
}

/// `YYYY/MM/DD HH:MM:SS` (UTC), as nginx's error log; formatted once per second and thread.
fn timestamp() -> [u8; 19] {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let cached = STAMP.try_with(Cell::get).ok();
    if let Some((at, text)) = cached
        && at == secs
    {
        return text;
    }
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    let mut text = [b'0'; 19];
    let formatted = format!(
        "{y:04}/{m:02}/{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    );
    if formatted.len() == text.len() {
        text.copy_from_slice(formatted.as_bytes());
    }
    let _ = STAMP.try_with(|c| c.set((secs, text)));
    text
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

    /// The eight-bytes-at-a-time scan agrees with escaping byte by byte, wherever the
    /// special bytes fall.
    #[test]
    fn escaping_matches_the_byte_by_byte_definition() {
        fn reference(bytes: &[u8]) -> String {
            let mut s = String::new();
            for &b in bytes {
                match b {
                    b'"' | b'\\' => {
                        s.push('\\');
                        s.push(b as char);
                    }
                    0x20..=0x7e => s.push(b as char),
                    _ => s.push_str(&format!("\\x{b:02x}")),
                }
            }
            s
        }
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let specials = [
            0u8, 0x1f, 0x20, 0x21, b'"', b'\\', 0x7e, 0x7f, 0x80, 0xa2, 0xff, b'\n',
        ];
        for _ in 0..20_000 {
            let len = (next() % 40) as usize;
            let input: Vec<u8> = (0..len)
                .map(|_| match next() % 8 {
                    0 => specials[(next() % specials.len() as u64) as usize],
                    1 => (next() % 256) as u8,
                    _ => b'a' + (next() % 26) as u8,
                })
                .collect();
            assert_eq!(esc(&input), reference(&input), "{input:?}");
        }
    }

    /// A line names the matched variable with its raw key, escaped, and ends with the
    /// transaction's fields.
    #[test]
    fn error_lines_from_borrowed_matches() {
        let tags = ["attack-sqli".to_string(), "a\"b".to_string()];
        let m = LoggedMatch {
            id: 942100,
            phase: 2,
            msg: "SQL Injection Attack Detected via libinjection",
            data: "Matched Data: s&sos found",
            severity: Some(2),
            tags: &tags,
            file: "rules/REQUEST-942.conf",
            line: 46,
            var_name: "ARGS",
            var_key: Some(b"q\xff"),
            matched_var: b"1' or '1'='1",
            disruptive: false,
        };
        let rec = TxRecord {
            unique_id: "u1",
            client_ip: std::net::Ipv4Addr::LOCALHOST.into(),
            client_port: 1,
            method: "GET",
            uri: "/?q=1%27",
            http_version: "HTTP/1.1",
            host: "myapp.com",
            request_headers: &[],
            status: 403,
            interrupted: Some((403, 2)),
            interruption: None,
            detection_only: false,
            rules: &[m],
            failure: None,
        };
        let mut out = Vec::new();
        error_line(&mut out, b"2026/11/28 10:00:00", &rec, &m, b" [end]\n");
        let line = String::from_utf8(out).unwrap();
        assert_eq!(
            line,
            "2026/11/28 10:00:00 [error] ModSecurity: Warning. Matched \"ARGS:q\\xff\" (Value: `1' or '1'='1') [file \"rules/REQUEST-942.conf\"] [line \"46\"] [id \"942100\"] [msg \"SQL Injection Attack Detected via libinjection\"] [data \"Matched Data: s&sos found\"] [severity \"2\"] [tag \"attack-sqli\"] [tag \"a\\\"b\"] [end]\n"
        );
        let audit = audit_json(&rec).to_string();
        assert!(
            audit.contains("\"match\":\"Matched ARGS:q\u{fffd}\""),
            "{audit}"
        );
    }

    const FLUSH: Duration = Duration::from_millis(50);

    /// The only test of this binary that configures the (process-wide) sinks.
    #[test]
    fn runtime_threads_batch_lines_until_idle_in_order_others_write_at_once() {
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
                // A thread that keeps nothing writes after what was kept before its line.
                log("first");
                std::thread::scope(|s| {
                    s.spawn(|| log("second"));
                });
                let t = text2();
                let at = |m: &str| t.find(&format!("[unique_id \"{m}\"]")).expect(m);
                assert!(at("first") < at("second"), "{t}");
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
