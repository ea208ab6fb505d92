//! Extension points of the request path, called in phase order by [`crate::service`].
//!
//! Today they do nothing; the WAF (issue 5) plugs in here:
//! - [`request_headers`] runs after routing and the redirect decision, before any upstream
//!   connection is opened (WAF phase 1). An `Err` is answered locally and the upstream is
//!   never contacted.
//! - [`request_body`] receives the body that will be sent upstream and returns the body to
//!   send instead (WAF phase 2: buffer up to the inspection limit with
//!   `RequestBody::full`, inspect, forward; routes without WAF return it untouched and keep
//!   full streaming).
//! - [`response_headers`] sees the upstream response head before it is sent to the client
//!   (WAF phase 3; phase 4 would wrap the response body the same way).
//! - The log phase (WAF phase 5) is [`crate::completion`], run when the body has been sent.

use http::{request, response};
use portcullis_snapshot::Route;

use crate::body::RequestBody;
use crate::error::ProxyError;

/// Request head inspection (WAF phase 1).
#[inline]
pub(crate) fn request_headers(
    _route: &Route,
    _head: &mut request::Parts,
) -> Result<(), ProxyError> {
    Ok(())
}

/// Request body inspection (WAF phase 2). Returns the body to forward.
#[inline]
pub(crate) async fn request_body(
    _route: &Route,
    _head: &request::Parts,
    body: RequestBody,
) -> Result<RequestBody, ProxyError> {
    Ok(body)
}

/// Response head inspection (WAF phase 3).
#[inline]
pub(crate) fn response_headers(
    _route: &Route,
    _head: &mut response::Parts,
) -> Result<(), ProxyError> {
    Ok(())
}
