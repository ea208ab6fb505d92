//! The WAF in the request path: `WafTx` runs a route's compiled
//! [`portcullis_snapshot::WafPolicy`] over one exchange, called from `crate::phases`.
//!
//! - **Phase 1** (request headers) after routing, before any upstream connection.
//! - **Phase 2** (request body): the body is buffered up to the engine's
//!   `SecRequestBodyLimit`, inspected, then forwarded from memory. Over the limit:
//!   `Reject` → 413 without reading further (mode On); `ProcessPartial` (or DetectionOnly) →
//!   the first part is inspected, then forwarded followed by the rest, streamed.
//! - **Phase 3** on the response head; **phase 4** on response bodies of the engine's MIME
//!   types when the policy inspects them and the upstream announced a `Content-Length` within
//!   `SecResponseBodyLimit` (other bodies stream un-inspected).
//! - **Phase 5** and the logs run when the `WafTx` is dropped, whatever the outcome.
//!
//! The transaction comes from [`WafPolicy::transaction`]: the route's shared engine with the
//! policy's mode and exclusions by id/tag applied. A disruptive outcome never contacts the
//! upstream in phases 1/2 and becomes:
//! - `deny` → [`ProxyError::WafBlocked`]: the rule's status (4xx/5xx), 403 by default;
//! - `redirect` → [`ProxyError::WafRedirect`]: the rule's 3xx (302 by default) with
//!   `Location`, after [`check_location`] (no control characters, visible ASCII, at most
//!   [`MAX_LOCATION`] bytes); an invalid target is logged and answered 403 instead;
//! - `drop` → [`ProxyError::WafDropped`]: nothing is answered — the service fails with
//!   [`Dropped`], so hyper closes the HTTP/1 connection or resets the HTTP/2 stream.
//!
//! Engine panics and evaluations over the policy's time budget follow its
//! [`FailMode`]: open → the request goes on un-inspected; closed (default) → 503
//! ([`ProxyError::WafUnavailable`]). Both are logged and counted.
//!
//! Routes without a policy never get here: no allocation, no buffering.

pub mod log;
pub mod metrics;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::{HeaderValue, Version, header, request, response};
use http_body_util::BodyExt;
use hyper::body::Body;
use portcullis_snapshot::{FailMode, WafMode, WafPolicy};
use portcullis_waf::{BodyLimitAction, ConnectionInfo, LoggedMatch, Outcome, Transaction};

use crate::access_log::AccessRecord;
use crate::body::{BodyError, RequestBody, ResponseBody, ResponseBodyError};
use crate::completion::Completion;
use crate::connection::ConnShared;
use crate::error::ProxyError;
use metrics::Action;

/// Longest `Location` a WAF redirect may send.
pub const MAX_LOCATION: usize = 2048;

/// The service error of a WAF `drop`: hyper closes the HTTP/1 connection or resets the HTTP/2
/// stream without answering.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by the web application firewall")]
pub struct Dropped;

/// Ends a dropped exchange: the access log and metrics record it with status 444 (nginx's
/// "closed without response"), then the service fails with [`Dropped`].
pub(crate) fn dropped(conn: Arc<ConnShared>, mut record: AccessRecord) -> Dropped {
    record.status = 444;
    Completion {
        conn,
        record,
        pooled: None,
    }
    .finish(0, false);
    Dropped
}

/// A redirect target as a header value: at most [`MAX_LOCATION`] bytes of visible ASCII (no
/// CR/LF or other control characters, no spaces, no raw non-ASCII — macros expanded from
/// request data must not be able to inject headers). `None` = refuse it.
pub fn check_location(location: &str) -> Option<HeaderValue> {
    let ok = !location.is_empty()
        && location.len() <= MAX_LOCATION
        && location.bytes().all(|b| b.is_ascii_graphic());
    if !ok {
        return None;
    }
    HeaderValue::from_str(location).ok()
}

/// The status of a WAF redirect: the rule's 3xx when it is a redirection, else 302.
fn redirect_status(status: u16) -> u16 {
    match status {
        301 | 302 | 303 | 307 | 308 => status,
        _ => 302,
    }
}

/// How the WAF answered, for metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interruption {
    Deny,
    Redirect,
    Drop,
}

/// One exchange under inspection.
pub(crate) struct WafTx {
    policy: Arc<WafPolicy>,
    tx: Box<Transaction>,
    elapsed: Duration,
    /// Set after a failure (fail-open): later phases are skipped.
    skip: bool,
    failure: Option<&'static str>,
    /// (status, phase) of a disruptive outcome applied by us.
    interrupted: Option<(u16, u8)>,
    /// What that outcome was; for a redirect, the `Location` sent.
    interruption: Option<(Interruption, Option<String>)>,
    status: u16,
    client: std::net::SocketAddr,
    /// The request id, the transaction's UNIQUE_ID (`unique_id()`).
    request_id: HeaderValue,
    /// The request line and host for the logs, kept as the proxy received them (shared
    /// buffers: copied only when a line is written).
    method: http::Method,
    uri: http::Uri,
    version: &'static str,
    host: Option<HeaderValue>,
}

/// The request target as logged and inspected: path and query (origin form), else the
/// whole URI.
fn uri_text(uri: &http::Uri) -> std::borrow::Cow<'_, str> {
    match uri.path_and_query() {
        Some(pq) => std::borrow::Cow::Borrowed(pq.as_str()),
        None => std::borrow::Cow::Owned(uri.to_string()),
    }
}

fn version_str(v: Version) -> &'static str {
    match v {
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

impl WafTx {
    /// Phase 1: starts the transaction and inspects the request head.
    pub(crate) fn start(
        policy: &Arc<WafPolicy>,
        client: std::net::SocketAddr,
        request_id: &HeaderValue,
        head: &request::Parts,
    ) -> Result<WafTx, ProxyError> {
        let conn = ConnectionInfo {
            client_ip: client.ip(),
            client_port: client.port(),
            server_ip: std::net::IpAddr::from([0, 0, 0, 0]),
            server_port: 0,
            unique_id: request_id.to_str().unwrap_or("-").to_string(),
        };
        let version = version_str(head.version);
        let mut tx = Box::new(policy.transaction(conn));
        tx.request_line(head.method.as_str(), &uri_text(&head.uri), version);
        let mut host = None;
        if !head.headers.contains_key(header::HOST)
            && let Some(a) = head.uri.authority()
        {
            tx.request_header(b"Host", a.as_str().as_bytes());
            host = HeaderValue::from_str(a.as_str()).ok();
        }
        for (name, value) in &head.headers {
            tx.request_header(name.as_str().as_bytes(), value.as_bytes());
            if name == header::HOST {
                host = Some(value.clone());
            }
        }
        let mut w = WafTx {
            policy: policy.clone(),
            tx,
            elapsed: Duration::ZERO,
            skip: false,
            failure: None,
            interrupted: None,
            interruption: None,
            status: 0,
            client,
            request_id: request_id.clone(),
            method: head.method.clone(),
            uri: head.uri.clone(),
            version,
            host,
        };
        w.run(1, Transaction::process_request_headers)?;
        Ok(w)
    }

    /// The request id as the logs show it.
    fn unique_id(&self) -> &str {
        self.request_id.to_str().unwrap_or("-")
    }

    /// Runs one phase with failure handling and the time budget.
    fn run(&mut self, phase: u8, f: fn(&mut Transaction) -> Outcome) -> Result<(), ProxyError> {
        if self.skip {
            return Ok(());
        }
        let start = Instant::now();
        let tx = &mut self.tx;
        let result = catch_unwind(AssertUnwindSafe(|| f(tx)));
        self.elapsed += start.elapsed();
        let outcome = match result {
            Ok(o) => o,
            Err(_) => return self.fail("engine panic"),
        };
        match outcome {
            Outcome::Pass => {}
            Outcome::Deny { status } => return Err(self.block(status, phase)),
            Outcome::Redirect { status, location } => {
                return Err(self.redirect(status, &location, phase));
            }
            Outcome::Drop => {
                self.block(444, phase);
                self.interruption = Some((Interruption::Drop, None));
                return Err(ProxyError::WafDropped);
            }
        }
        let budget = self.policy.time_budget;
        if !budget.is_zero() && self.elapsed > budget {
            return self.fail("evaluation exceeded the time budget");
        }
        Ok(())
    }

    fn block(&mut self, status: u16, phase: u8) -> ProxyError {
        let status = if (400..600).contains(&status) {
            status
        } else {
            403
        };
        self.interrupted = Some((status, phase));
        self.interruption = Some((Interruption::Deny, None));
        self.status = status;
        self.skip = true;
        ProxyError::WafBlocked(status)
    }

    /// A `redirect`: the rule's 3xx with `Location`, or 403 when the target is not a valid
    /// header value (logged).
    fn redirect(&mut self, status: u16, location: &str, phase: u8) -> ProxyError {
        let Some(value) = check_location(location) else {
            let shown = self::log::esc(&location.as_bytes()[..location.len().min(256)]);
            tracing::warn!(
                target: "waf",
                request_id = %self.unique_id(),
                policy = %self.policy.label,
                location = %shown,
                "WAF redirect target is not a valid Location (control characters, spaces, non-ASCII or over {MAX_LOCATION} bytes): answering 403"
            );
            return self.block(403, phase);
        };
        let status = redirect_status(status);
        self.interrupted = Some((status, phase));
        self.interruption = Some((Interruption::Redirect, Some(location.to_string())));
        self.status = status;
        self.skip = true;
        ProxyError::WafRedirect {
            status,
            location: value,
        }
    }

    fn fail(&mut self, reason: &'static str) -> Result<(), ProxyError> {
        self.failure = Some(reason);
        self.skip = true;
        let m = metrics::global();
        m.failure(reason == "engine panic");
        tracing::error!(
            target: "waf",
            request_id = %self.unique_id(),
            policy = %self.policy.label,
            elapsed_us = self.elapsed.as_micros() as u64,
            fail = ?self.policy.fail,
            "WAF failure: {reason}"
        );
        match self.policy.fail {
            FailMode::Open => Ok(()),
            FailMode::Closed => {
                self.status = 503;
                Err(ProxyError::WafUnavailable)
            }
        }
    }

    /// Phase 2 of a request without a body.
    pub(crate) fn no_request_body(&mut self) -> Result<(), ProxyError> {
        self.run(2, Transaction::process_request_body)
    }

    /// Phase 2: returns the body to forward.
    pub(crate) async fn request_body(
        &mut self,
        head: &request::Parts,
        mut body: RequestBody,
    ) -> Result<RequestBody, ProxyError> {
        let cfg = self.policy.engine.config();
        if self.skip || !cfg.request_body_access || body.is_end_stream() {
            self.run(2, Transaction::process_request_body)?;
            return Ok(body);
        }
        let limit = cfg.request_body_limit;
        let reject = cfg.request_body_limit_action == BodyLimitAction::Reject
            && self.policy.mode == WafMode::On;
        let announced = head
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if reject && announced.is_some_and(|n| n > limit as u64) {
            metrics::global().body_limit(true);
            self.status = 413;
            return Err(ProxyError::BodyTooLarge);
        }
        // The announced length is only a hint: never reserve more than 64 KiB up front.
        let reserve = announced.map_or(8192, |n| n.min(64 * 1024) as usize);
        let mut buf = BytesMut::with_capacity(reserve.min(limit + 1));
        let mut over = false;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| match e {
                BodyError::TooLarge => ProxyError::BodyTooLarge,
                BodyError::Client(_) => ProxyError::ClientBody,
            })?;
            if let Ok(data) = frame.into_data() {
                buf.extend_from_slice(&data);
                if buf.len() > limit {
                    over = true;
                    break;
                }
            }
        }
        if over {
            metrics::global().body_limit(reject);
            if reject {
                self.status = 413;
                return Err(ProxyError::BodyTooLarge);
            }
        }
        let bytes = buf.freeze();
        self.tx.request_body_chunk(&bytes);
        self.run(2, Transaction::process_request_body)?;
        Ok(if over {
            body.with_prefix(bytes)
        } else {
            RequestBody::full(bytes)
        })
    }

    /// Phase 3 (and the status for phase 5).
    pub(crate) fn response_headers(&mut self, head: &response::Parts) -> Result<(), ProxyError> {
        self.status = head.status.as_u16();
        if self.skip {
            return Ok(());
        }
        self.tx
            .response_status(head.status.as_u16(), version_str(head.version));
        for (name, value) in &head.headers {
            self.tx
                .response_header(name.as_str().as_bytes(), value.as_bytes());
        }
        self.run(3, Transaction::process_response_headers)
    }

    /// Whether phase 4 should read this response body.
    pub(crate) fn wants_response_body(&self, head: &response::Parts) -> bool {
        if self.skip || !self.policy.inspect_response_body {
            return false;
        }
        let cfg = self.policy.engine.config();
        let len = head
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let ctype = head
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mime = ctype.split(';').next().unwrap_or("").trim();
        // No Content-Type: the engine decides (as ModSecurity, it inspects unless typed).
        len.is_some_and(|n| n <= cfg.response_body_limit)
            && (mime.is_empty()
                || cfg
                    .response_body_mime_types
                    .iter()
                    .any(|m| m.eq_ignore_ascii_case(mime)))
    }

    /// Phase 4: reads the (small, announced) body, inspects it and returns it.
    pub(crate) async fn response_body(&mut self, body: ResponseBody) -> Result<Bytes, ProxyError> {
        let bytes = body
            .collect()
            .await
            .map_err(|e| match e {
                ResponseBodyError::Upstream(e) => ProxyError::UpstreamRequest(e),
                ResponseBodyError::Direct(e) => ProxyError::UpstreamExchange(e),
            })?
            .to_bytes();
        self.tx.response_body_chunk(&bytes);
        self.run(4, Transaction::process_response_body)?;
        Ok(bytes)
    }

    /// Phase 5, metrics and logs.
    fn finish(&mut self) {
        if !self.skip || self.interrupted.is_some() {
            let start = Instant::now();
            let tx = &mut self.tx;
            let _ = catch_unwind(AssertUnwindSafe(|| tx.process_logging()));
            self.elapsed += start.elapsed();
        }
        let m = metrics::global();
        m.evaluation(self.elapsed);
        // The full match list (names, tags, copies of matched values for every `nolog`
        // bookkeeping match too) is built only when it is logged.
        let decider = self.tx.last_disruptive_rule().unwrap_or(0);
        match (self.failure, self.interrupted) {
            (Some(_), _) => m.decision(
                match self.policy.fail {
                    FailMode::Open => Action::FailOpen,
                    FailMode::Closed => Action::FailClosed,
                },
                0,
            ),
            (None, Some(_)) => m.decision(
                match self.interruption {
                    Some((Interruption::Redirect, _)) => Action::Redirect,
                    Some((Interruption::Drop, _)) => Action::Drop,
                    _ => Action::Block,
                },
                decider,
            ),
            (None, None) if decider != 0 => m.decision(Action::Detect, decider),
            (None, None) => m.pass(),
        }
        let relevant = log::relevant(
            self.interrupted.is_some(),
            self.failure.is_some(),
            self.tx.has_logged_match(),
        );
        if relevant && log::enabled() {
            // Read back from the transaction: nothing is copied for the many exchanges that
            // are not logged.
            let lossy = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            let headers: Vec<(String, String)> = if log::audit_enabled() {
                self.tx
                    .request_headers()
                    .map(|(k, v)| (lossy(k), lossy(v)))
                    .collect()
            } else {
                Vec::new()
            };
            let rules: Vec<LoggedMatch<'_>> = self.tx.logged_matches().collect();
            let host = self
                .host
                .as_ref()
                .map(|h| String::from_utf8_lossy(h.as_bytes()));
            log::write(&log::TxRecord {
                unique_id: self.unique_id(),
                client_ip: self.client.ip(),
                client_port: self.client.port(),
                method: self.method.as_str(),
                uri: &uri_text(&self.uri),
                http_version: self.version,
                host: host.as_deref().unwrap_or_default(),
                request_headers: &headers,
                status: self.status,
                interrupted: self.interrupted,
                interruption: self
                    .interruption
                    .as_ref()
                    .map(|(i, loc)| (*i, loc.as_deref())),
                detection_only: self.policy.mode == WafMode::DetectionOnly,
                failure: self.failure,
                rules: &rules,
            });
        } else {
            // Lines a busy worker kept for long enough go out even if it does not go idle
            // (`write` checks the same after the lines it adds).
            log::flush_if_due();
        }
    }
}

impl Drop for WafTx {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_targets_and_statuses() {
        for (target, ok) in [
            ("https://example.invalid/blocked", true),
            ("/relative/path?x=1", true),
            ("", false),
            ("https://a/\r\nSet-Cookie: x=1", false),
            ("https://a/\nx", false),
            ("https://a/ b", false),
            ("https://a/\u{e9}", false),
            ("https://a/\0", false),
        ] {
            assert_eq!(check_location(target).is_some(), ok, "{target:?}");
        }
        let long = format!("https://a/{}", "x".repeat(MAX_LOCATION));
        assert!(check_location(&long).is_none());
        assert!(check_location(&long[..MAX_LOCATION]).is_some());
        for (rule, sent) in [(301, 301), (302, 302), (303, 303), (307, 307), (308, 308)] {
            assert_eq!(redirect_status(rule), sent);
        }
        for odd in [300, 304, 305, 200, 403] {
            assert_eq!(redirect_status(odd), 302);
        }
    }
}
