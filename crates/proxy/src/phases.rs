//! Extension points of the request path, called in phase order by [`crate::service`]; the
//! WAF ([`crate::waf`]) plugs in here:
//! - [`request_headers`] runs after routing and the redirect decision, before any upstream
//!   connection is opened (WAF phase 1). An `Err` is answered locally and the upstream is
//!   never contacted. It returns the exchange's WAF transaction, `None` when the route has no
//!   WAF policy (no allocation then).
//! - [`request_body`] receives the body that will be sent upstream and returns the body to
//!   send instead (WAF phase 2: buffered up to the inspection limit, inspected, forwarded;
//!   routes without WAF get it back untouched and keep full streaming).
//! - [`response_headers`] sees the upstream response head before it is sent to the client
//!   (WAF phase 3); [`response_body`] inspects small bodies of the configured MIME types
//!   (WAF phase 4) when the policy asks for it.
//! - WAF phase 5 and the WAF logs run when the transaction is dropped at the end of the
//!   exchange; the proxy's own log phase is [`crate::completion`].

use http::{HeaderValue, request, response};
use portcullis_snapshot::Route;

use crate::body::{RequestBody, ResponseBody};
use crate::error::ProxyError;
use crate::waf::WafTx;

/// Whether the route has request or response phases at all. Without them
/// [`request_headers`] returns `None` and every other phase is a no-op, so the request path
/// may take a shortcut (`service::forward_direct`).
#[inline]
pub(crate) fn has_request_phases(route: &Route) -> bool {
    route.policy.waf.is_some()
}

/// Request head inspection (WAF phase 1).
#[inline]
pub(crate) fn request_headers(
    route: &Route,
    client: std::net::SocketAddr,
    request_id: &HeaderValue,
    head: &request::Parts,
) -> Result<Option<WafTx>, ProxyError> {
    match &route.policy.waf {
        None => Ok(None),
        Some(policy) => WafTx::start(policy, client, request_id, head).map(Some),
    }
}

/// Request body inspection (WAF phase 2). Returns the body to forward.
#[inline]
pub(crate) async fn request_body(
    waf: &mut Option<WafTx>,
    head: &request::Parts,
    body: RequestBody,
) -> Result<RequestBody, ProxyError> {
    match waf {
        None => Ok(body),
        // Boxed so that routes without WAF do not carry this future's size.
        Some(w) => Box::pin(w.request_body(head, body)).await,
    }
}

/// After the request phases, before the request goes upstream: lets this thread's other
/// ready connections run first when a WAF inspected the request. An inspection takes tens of
/// microseconds of CPU; under load, the requests a thread inspects in one scheduler round
/// then reach their upstreams back to back, and an idle upstream (later the clients) is woken
/// once per burst instead of once per request — on the 2-core machine shared with the origin
/// and the load generator, ~10–20% more requests per second through the WAF and a third
/// fewer involuntary context switches (`docs/benchmarks.md`). With nothing else ready, the
/// task goes on at once. Routes without WAF do not yield: for them it cost throughput.
pub(crate) async fn after_inspection(inspected: bool) {
    if inspected {
        tokio::task::yield_now().await;
    }
}

/// Phase 2 of a request without a body.
#[inline]
pub(crate) fn no_request_body(waf: &mut Option<WafTx>) -> Result<(), ProxyError> {
    match waf {
        None => Ok(()),
        Some(w) => w.no_request_body(),
    }
}

/// Response head inspection (WAF phase 3).
#[inline]
pub(crate) fn response_headers(
    waf: &mut Option<WafTx>,
    head: &mut response::Parts,
) -> Result<(), ProxyError> {
    match waf {
        None => Ok(()),
        Some(w) => w.response_headers(head),
    }
}

/// Response body inspection (WAF phase 4) when the policy asks for it; otherwise the
/// upstream body streams.
#[inline]
pub(crate) async fn response_body(
    waf: &mut Option<WafTx>,
    head: &response::Parts,
    body: ResponseBody,
) -> Result<ResponseBody, ProxyError> {
    match waf {
        Some(w) if w.wants_response_body(head) => {
            Ok(ResponseBody::local(Box::pin(w.response_body(body)).await?))
        }
        _ => Ok(body),
    }
}
