//! The one place where a failure on the request path becomes an HTTP response.
//!
//! Every phase returns [`ProxyError`]; [`ProxyError::status`] and [`ProxyError::reason`] give
//! the status code and the short reason that forms the body (`502 upstream connect failed`),
//! followed by the request id so a user can quote it. Errors carry where they came from
//! ([`ErrorSource`]) for logs and metrics; nothing matches on message strings.
//!
//! Status decisions:
//! - the connection to an endpoint is refused or fails on every endpoint → **502** `upstream
//!   connect failed`;
//! - every endpoint timed out while connecting → **503** `upstream connect timeout`: like
//!   Envoy, we treat an endpoint that cannot even be reached as unavailable rather than slow;
//!   nothing was sent, so the client may safely retry. 504 is kept for an upstream that
//!   accepted the request and did not answer in time;
//! - the response head does not arrive within `timeouts.upstream_header` → **504**;
//! - no ready endpoint in the Service → **503** `no ready endpoint`.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use portcullis_router::PathError;

use crate::body::ResponseBody;

/// Which side of the proxy a failure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorSource {
    /// The client sent something we refuse, or went away.
    Downstream,
    /// The upstream endpoint could not be reached or misbehaved.
    Upstream,
    /// Configuration: no route, no endpoints.
    Config,
}

/// A failure on the request path; each variant maps to exactly one status.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("bad request path: {0}")]
    BadPath(#[from] PathError),
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    #[error("request header too large")]
    HeaderTooLarge,
    #[error("request body too large")]
    BodyTooLarge,
    #[error("no route for host and path")]
    NoRoute,
    #[error("no ready endpoint")]
    NoEndpoints,
    #[error("upstream connect failed")]
    UpstreamConnect,
    #[error("upstream connect timeout")]
    UpstreamConnectTimeout,
    #[error("upstream header timeout")]
    UpstreamHeaderTimeout,
    #[error("upstream request failed: {0}")]
    UpstreamRequest(#[source] hyper::Error),
    /// The direct client's exchange failed after the request was written.
    #[error("upstream request failed: {0}")]
    UpstreamExchange(#[source] crate::h1_client::ExchangeError),
    #[error("client body read failed")]
    ClientBody,
    /// A WAF rule denied the request (its status, 403 by default).
    #[error("blocked by the WAF with status {0}")]
    WafBlocked(u16),
    /// A WAF rule redirected the request (`redirect:`): a 3xx and a checked `Location`.
    #[error("redirected by the WAF with status {status}")]
    WafRedirect { status: u16, location: HeaderValue },
    /// A WAF rule dropped the request (`drop`): nothing is answered, the HTTP/1 connection
    /// is closed or the HTTP/2 stream reset (see `service`); 444 in the access log.
    #[error("dropped by the WAF")]
    WafDropped,
    /// The WAF failed (engine error or time budget) and fails closed.
    #[error("WAF unavailable")]
    WafUnavailable,
}

impl ProxyError {
    pub fn status(&self) -> StatusCode {
        match self {
            ProxyError::BadPath(_) | ProxyError::BadRequest(_) | ProxyError::ClientBody => {
                StatusCode::BAD_REQUEST
            }
            ProxyError::HeaderTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ProxyError::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ProxyError::NoRoute => StatusCode::NOT_FOUND,
            ProxyError::NoEndpoints | ProxyError::UpstreamConnectTimeout => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ProxyError::UpstreamConnect
            | ProxyError::UpstreamRequest(_)
            | ProxyError::UpstreamExchange(_) => StatusCode::BAD_GATEWAY,
            ProxyError::UpstreamHeaderTimeout => StatusCode::GATEWAY_TIMEOUT,
            ProxyError::WafBlocked(s) => StatusCode::from_u16(*s).unwrap_or(StatusCode::FORBIDDEN),
            ProxyError::WafRedirect { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::FOUND)
            }
            ProxyError::WafDropped => StatusCode::from_u16(444).unwrap_or(StatusCode::FORBIDDEN),
            ProxyError::WafUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The short reason written in the body; stable text, safe to show to clients.
    pub fn reason(&self) -> &'static str {
        match self {
            ProxyError::BadPath(_) => "bad request path",
            ProxyError::BadRequest(why) => why,
            ProxyError::HeaderTooLarge => "request header too large",
            ProxyError::BodyTooLarge => "request body too large",
            ProxyError::NoRoute => "no route",
            ProxyError::NoEndpoints => "no ready endpoint",
            ProxyError::UpstreamConnect => "upstream connect failed",
            ProxyError::UpstreamConnectTimeout => "upstream connect timeout",
            ProxyError::UpstreamHeaderTimeout => "upstream header timeout",
            ProxyError::UpstreamRequest(_) | ProxyError::UpstreamExchange(_) => {
                "upstream request failed"
            }
            ProxyError::ClientBody => "client body read failed",
            ProxyError::WafBlocked(_) => "request blocked by the web application firewall",
            ProxyError::WafRedirect { .. } => "redirected by the web application firewall",
            ProxyError::WafDropped => "connection dropped by the web application firewall",
            ProxyError::WafUnavailable => "web application firewall unavailable",
        }
    }

    pub fn source_side(&self) -> ErrorSource {
        match self {
            ProxyError::BadPath(_)
            | ProxyError::BadRequest(_)
            | ProxyError::HeaderTooLarge
            | ProxyError::BodyTooLarge
            | ProxyError::ClientBody
            | ProxyError::WafBlocked(_)
            | ProxyError::WafRedirect { .. }
            | ProxyError::WafDropped => ErrorSource::Downstream,
            ProxyError::WafUnavailable => ErrorSource::Config,
            ProxyError::NoRoute | ProxyError::NoEndpoints => ErrorSource::Config,
            ProxyError::UpstreamConnect
            | ProxyError::UpstreamConnectTimeout
            | ProxyError::UpstreamHeaderTimeout
            | ProxyError::UpstreamRequest(_)
            | ProxyError::UpstreamExchange(_) => ErrorSource::Upstream,
        }
    }

    /// Label for the `portcullis_upstream_errors_total{kind}` metric, if this is one.
    pub fn upstream_kind(&self) -> Option<UpstreamErrorKind> {
        Some(match self {
            ProxyError::NoEndpoints => UpstreamErrorKind::NoEndpoints,
            ProxyError::UpstreamConnect => UpstreamErrorKind::ConnectFailed,
            ProxyError::UpstreamConnectTimeout => UpstreamErrorKind::ConnectTimeout,
            ProxyError::UpstreamHeaderTimeout => UpstreamErrorKind::HeaderTimeout,
            ProxyError::UpstreamRequest(_) | ProxyError::UpstreamExchange(_) => {
                UpstreamErrorKind::RequestFailed
            }
            _ => return None,
        })
    }

    /// The response sent to the client: `"<code> <reason>\nrequest-id: <id>\n"` (plus
    /// `Location` for a WAF redirect).
    pub fn into_response(self, request_id: &HeaderValue) -> Response<ResponseBody> {
        let mut resp = local_response(self.status(), self.reason(), request_id);
        if let ProxyError::WafRedirect { location, .. } = self {
            resp.headers_mut().insert(header::LOCATION, location);
        }
        resp
    }
}

/// Kinds of upstream failure counted in metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamErrorKind {
    NoEndpoints,
    ConnectFailed,
    ConnectTimeout,
    HeaderTimeout,
    RequestFailed,
}

impl UpstreamErrorKind {
    pub const ALL: [UpstreamErrorKind; 5] = [
        UpstreamErrorKind::NoEndpoints,
        UpstreamErrorKind::ConnectFailed,
        UpstreamErrorKind::ConnectTimeout,
        UpstreamErrorKind::HeaderTimeout,
        UpstreamErrorKind::RequestFailed,
    ];

    pub fn label(self) -> &'static str {
        match self {
            UpstreamErrorKind::NoEndpoints => "no_endpoints",
            UpstreamErrorKind::ConnectFailed => "connect_failed",
            UpstreamErrorKind::ConnectTimeout => "connect_timeout",
            UpstreamErrorKind::HeaderTimeout => "header_timeout",
            UpstreamErrorKind::RequestFailed => "request_failed",
        }
    }
}

/// A short text response generated by the proxy itself (errors, redirects).
pub fn local_response(
    status: StatusCode,
    reason: &str,
    request_id: &HeaderValue,
) -> Response<ResponseBody> {
    let id = request_id.to_str().unwrap_or("-");
    let text = format!("{} {}\nrequest-id: {}\n", status.as_u16(), reason, id);
    let mut resp = Response::new(ResponseBody::local(Bytes::from(text)));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_has_its_status_and_reason_in_the_body() {
        let cases = [
            (ProxyError::NoRoute, 404, "no route"),
            (ProxyError::NoEndpoints, 503, "no ready endpoint"),
            (ProxyError::UpstreamConnect, 502, "upstream connect failed"),
            (
                ProxyError::UpstreamConnectTimeout,
                503,
                "upstream connect timeout",
            ),
            (
                ProxyError::UpstreamHeaderTimeout,
                504,
                "upstream header timeout",
            ),
            (ProxyError::BodyTooLarge, 413, "request body too large"),
            (ProxyError::HeaderTooLarge, 431, "request header too large"),
            (
                ProxyError::BadPath(PathError::EscapesRoot),
                400,
                "bad request path",
            ),
        ];
        for (err, code, reason) in cases {
            assert_eq!(err.status().as_u16(), code, "{err}");
            assert!(err.reason().contains(reason), "{err}");
        }
    }
}
