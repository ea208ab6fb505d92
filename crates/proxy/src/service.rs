//! The request path, one function per phase, in the order they run:
//!
//! 1. **read head** ([`read_head`]): request id, host, header-size limit, body-size limit
//!    from `Content-Length`;
//! 2. **route** ([`route`]): path normalisation (400 on a refused path), one snapshot load,
//!    `RouteTable::lookup(host, path)` (404 when nothing matches), ssl-redirect (308);
//! 3. **request phases** ([`crate::phases`]; WAF phases 1 and 2);
//! 4. **upstream** ([`forward`]): upstream request (origin-form URI, hop-by-hop removed,
//!    `Host` kept, `X-Forwarded-*`), round-robin with retry, upgrade tunnel on 101 — through
//!    hyper's client ([`forward_hyper`]), or, for requests without body, upgrade or WAF
//!    (nearly all), through the direct client in this task ([`forward_direct`]);
//! 5. **response phases** ([`crate::phases::response_headers`]; WAF phase 3), hop-by-hop
//!    removal, `X-Request-Id` echoed;
//! 6. **log** ([`crate::completion`]), when the response body is done.
//!
//! Errors from any phase become responses in [`crate::error`] only.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use http::header::{self, HeaderValue};
use http::uri::PathAndQuery;
use http::{Request, Response, StatusCode, Uri, Version};
use hyper::body::Incoming;
use portcullis_router::normalize_path;
use portcullis_snapshot::Route;

use crate::access_log::{AccessRecord, strip_port};
use crate::body::{RequestBody, ResponseBody};
use crate::completion::Completion;
use crate::connection::ConnShared;
use crate::error::{ProxyError, local_response};
use crate::h1_client::{DirectRequest, Forwarded};
use crate::headers::{self, X_REQUEST_ID};
use crate::phases;
use crate::upgrade;
use crate::upstream::PooledConn;
use crate::waf::Dropped;

/// hyper service for one client connection.
pub(crate) struct ProxyService {
    conn: Arc<ConnShared>,
}

impl ProxyService {
    pub fn new(conn: Arc<ConnShared>) -> Self {
        ProxyService { conn }
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<Response<ResponseBody>, Dropped>> + Send>>;

impl hyper::service::Service<Request<Incoming>> for ProxyService {
    type Response = Response<ResponseBody>;
    /// Only a WAF `drop`: hyper then closes the HTTP/1 connection or resets the h2 stream.
    type Error = Dropped;
    type Future = BoxFuture;

    fn call(&self, req: Request<Incoming>) -> BoxFuture {
        let conn = self.conn.clone();
        Box::pin(handle(conn, req))
    }
}

/// Runs all phases for one request; errors are responses, except a WAF `drop`.
async fn handle(
    conn: Arc<ConnShared>,
    req: Request<Incoming>,
) -> Result<Response<ResponseBody>, Dropped> {
    conn.request_started();
    let request_id = headers::request_id(req.headers());
    let mut record = AccessRecord {
        start: Instant::now(),
        client: conn.client,
        request_id: request_id.clone(),
        method: req.method().clone(),
        version: req.version(),
        uri: req.uri().clone(),
        host: request_host(&req),
        status: 0,
        route: None,
        upstream: None,
    };
    let (mut resp, pooled) = match proxy(&conn, &mut record, req).await {
        Ok(done) => done,
        Err(ProxyError::WafDropped) => return Err(crate::waf::dropped(conn, record)),
        Err(e) => {
            if let Some(kind) = e.upstream_kind() {
                conn.state.metrics.upstream_error(kind);
            }
            (e.into_response(&request_id), None)
        }
    };
    resp.headers_mut().insert(X_REQUEST_ID.clone(), request_id);
    record.status = resp.status().as_u16();
    resp.body_mut().set_completion(Completion {
        conn,
        record,
        pooled,
    });
    Ok(resp)
}

type Proxied = (Response<ResponseBody>, Option<PooledConn>);

async fn proxy(
    conn: &ConnShared,
    record: &mut AccessRecord,
    req: Request<Incoming>,
) -> Result<Proxied, ProxyError> {
    let body_limit = read_head(conn, &req)?;
    let host = record.host.clone();
    let host_str = match &host {
        Some(h) => h
            .to_str()
            .map_err(|_| ProxyError::BadRequest("invalid host"))?,
        None => "",
    };
    let (route, path) = route(conn, req.uri(), host_str)?;
    record.route = Some(route.label.clone());
    if route.policy.ssl_redirect && !conn.tls {
        return Ok((
            redirect(conn, host_str, req.uri(), &record.request_id),
            None,
        ));
    }
    let limit = min_limit(body_limit, route.policy.max_body_bytes);
    if let (Some(limit), Some(len)) = (limit, content_length(&req)) {
        if len > limit {
            return Err(ProxyError::BodyTooLarge);
        }
    }
    forward(conn, record, &route, path, host, limit, req).await
}

/// Phase 1: checks on the request head. Returns the global body limit.
fn read_head(conn: &ConnShared, req: &Request<Incoming>) -> Result<Option<u64>, ProxyError> {
    let limits = &conn.state.config.limits;
    if headers::head_size(req.method(), req.uri(), req.headers()) > limits.max_request_header_bytes
    {
        return Err(ProxyError::HeaderTooLarge);
    }
    Ok(limits.max_body_bytes)
}

/// Phase 2: the route for (host, normalised path), from one snapshot load.
/// The second value is the normalised path when normalisation changed it.
fn route(
    conn: &ConnShared,
    uri: &Uri,
    host: &str,
) -> Result<(Arc<Route>, Option<String>), ProxyError> {
    let path = normalize_path(uri.path())?;
    let snapshot = conn.state.shared.load();
    let found = snapshot.routes.lookup(host, &path);
    let route = found.map(|m| m.target.clone()).ok_or(ProxyError::NoRoute)?;
    let changed = match path {
        Cow::Borrowed(_) => None,
        Cow::Owned(p) => Some(p),
    };
    Ok((route, changed))
}

/// Phases 3–5: request phases, upstream exchange, response phases.
async fn forward(
    conn: &ConnShared,
    record: &mut AccessRecord,
    route: &Route,
    path: Option<String>,
    host: Option<HeaderValue>,
    limit: Option<u64>,
    req: Request<Incoming>,
) -> Result<Proxied, ProxyError> {
    // Cheapest test first: requests with a body (most of what takes hyper's path) never
    // look at the upgrade headers here; `forward_hyper` does once.
    if hyper::body::Body::is_end_stream(req.body())
        && !(req.version() == Version::HTTP_11 && headers::is_upgrade(req.headers()))
    {
        let (head, _) = req.into_parts();
        if phases::has_request_phases(route) {
            // Boxed: the WAF's state would enlarge every request's future.
            return Box::pin(forward_direct_inspected(
                conn, record, route, path, host, head,
            ))
            .await;
        }
        return forward_direct(conn, record, route, path, host, head).await;
    }
    // Boxed: the rarer path; inline, its state would enlarge every request's future (hyper
    // boxes the service future, copying all of it).
    Box::pin(forward_hyper(conn, record, route, path, host, limit, req)).await
}

/// A request without a body on a route with WAF phases: the request phases run before the
/// direct client ([`forward_direct`]) sends it, the response phases on what it receives —
/// the same phases as through hyper's client, without its connection task.
async fn forward_direct_inspected(
    conn: &ConnShared,
    record: &mut AccessRecord,
    route: &Route,
    path: Option<String>,
    host: Option<HeaderValue>,
    head: http::request::Parts,
) -> Result<Proxied, ProxyError> {
    let mut waf = phases::request_headers(route, conn.client, &record.request_id, &head)?;
    phases::no_request_body(&mut waf)?;
    phases::after_inspection(waf.is_some()).await;
    let (resp, pooled) = forward_direct(conn, record, route, path, host, head).await?;
    response_phases(&mut waf, resp, pooled).await
}

/// The response phases (WAF 3 and 4) on a response from the direct client.
async fn response_phases(
    waf: &mut Option<crate::waf::WafTx>,
    resp: Response<ResponseBody>,
    pooled: Option<PooledConn>,
) -> Result<Proxied, ProxyError> {
    let (mut head, body) = resp.into_parts();
    phases::response_headers(waf, &mut head)?;
    let body = phases::response_body(waf, &head, body).await?;
    Ok((Response::from_parts(head, body), pooled))
}

/// Phases 3–5 for requests with a body and upgrades: through hyper's client, except a body the
/// WAF inspected and holds in full, which the direct client sends with the head.
async fn forward_hyper(
    conn: &ConnShared,
    record: &mut AccessRecord,
    route: &Route,
    path: Option<String>,
    host: Option<HeaderValue>,
    limit: Option<u64>,
    mut req: Request<Incoming>,
) -> Result<Proxied, ProxyError> {
    let upgrade = req.version() == Version::HTTP_11 && headers::is_upgrade(req.headers());
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let (mut head, body) = req.into_parts();

    let mut waf = phases::request_headers(route, conn.client, &record.request_id, &head)?;

    head.uri = upstream_uri(&head.uri, path)?;
    head.version = Version::HTTP_11;
    headers::strip_hop_by_hop(&mut head.headers, upgrade);
    if let Some(h) = &host {
        head.headers.insert(header::HOST, h.clone());
        headers::set_forwarded(&mut head.headers, &conn.client_ip, conn.tls, h);
    }
    head.headers
        .insert(headers::X_REQUEST_ID.clone(), record.request_id.clone());

    let body = phases::request_body(&mut waf, &head, RequestBody::streaming(body, limit)).await?;
    if route.backend.endpoints.is_empty() {
        return Err(ProxyError::NoEndpoints);
    }
    phases::after_inspection(waf.is_some()).await;
    // A body inspected in full is in memory: the direct client sends it with the head.
    if let (None, Some(bytes)) = (&client_upgrade, body.in_memory()) {
        let target = head.uri.path_and_query().map_or("/", |p| p.as_str());
        let req = DirectRequest {
            method: &head.method,
            target,
            headers: &head.headers,
            // Host, X-Forwarded-* and X-Request-Id are in the head already.
            forwarded: Forwarded {
                host: None,
                client_ip: &conn.client_ip,
                tls: conn.tls,
                request_id: &record.request_id,
            },
            body: Some(&bytes),
        };
        let (resp, addr) = exchange_direct(conn, route, &req).await?;
        record.upstream = Some(addr);
        return response_phases(&mut waf, resp, None).await;
    }
    let upstream_req = Request::from_parts(head, body);
    let (mut resp, pooled, addr) = conn
        .state
        .upstreams
        .send(&route.backend, upstream_req)
        .await?;
    record.upstream = Some(addr);

    if let (Some(client_upgrade), StatusCode::SWITCHING_PROTOCOLS) = (client_upgrade, resp.status())
    {
        let upstream_upgrade = hyper::upgrade::on(&mut resp);
        upgrade::spawn_tunnel(conn, client_upgrade, upstream_upgrade);
        let (mut head, _) = resp.into_parts();
        headers::strip_hop_by_hop(&mut head.headers, true);
        phases::response_headers(&mut waf, &mut head)?;
        return Ok((Response::from_parts(head, ResponseBody::empty()), None));
    }

    let (mut head, body) = resp.into_parts();
    headers::strip_hop_by_hop(&mut head.headers, false);
    phases::response_headers(&mut waf, &mut head)?;
    let body = phases::response_body(&mut waf, &head, ResponseBody::upstream(body)).await?;
    Ok((Response::from_parts(head, body), Some(pooled)))
}

/// Phase 4 for nearly all traffic — no request body, no upgrade, no WAF — through the direct
/// client ([`crate::h1_client`]), driven by this task: hop-by-hop headers are removed in
/// place, and `Host`, `X-Forwarded-*` and `X-Request-Id` are written while the head is
/// encoded (the client's header map is not rebuilt). The response body gives the upstream
/// connection back to its pool itself.
async fn forward_direct(
    conn: &ConnShared,
    record: &mut AccessRecord,
    route: &Route,
    path: Option<String>,
    host: Option<HeaderValue>,
    mut head: http::request::Parts,
) -> Result<Proxied, ProxyError> {
    if route.backend.endpoints.is_empty() {
        return Err(ProxyError::NoEndpoints);
    }
    headers::strip_hop_by_hop(&mut head.headers, false);
    let normalized;
    let target = match path {
        None => head.uri.path_and_query().map_or("/", |p| p.as_str()),
        Some(p) => {
            normalized = upstream_uri(&head.uri, Some(p))?;
            normalized.path_and_query().map_or("/", |p| p.as_str())
        }
    };
    let req = DirectRequest {
        method: &head.method,
        target,
        headers: &head.headers,
        forwarded: Forwarded {
            host: host.as_ref(),
            client_ip: &conn.client_ip,
            tls: conn.tls,
            request_id: &record.request_id,
        },
        body: None,
    };
    let (resp, addr) = exchange_direct(conn, route, &req).await?;
    record.upstream = Some(addr);
    Ok((resp, None))
}

/// Sends `req` through the direct client: the response (without hop-by-hop fields, left out
/// when its head was parsed) and the endpoint that answered.
async fn exchange_direct(
    conn: &ConnShared,
    route: &Route,
    req: &DirectRequest<'_>,
) -> Result<(Response<ResponseBody>, std::net::SocketAddr), ProxyError> {
    let (resp, addr) = conn
        .state
        .upstreams
        .send_direct(&route.backend, req)
        .await?;
    let (head, body) = resp.into_parts();
    Ok((Response::from_parts(head, ResponseBody::direct(body)), addr))
}

/// The host the client asked for: the URI authority (HTTP/2 `:authority`, absolute-form
/// HTTP/1.1) or the `Host` header.
fn request_host(req: &Request<Incoming>) -> Option<HeaderValue> {
    if let Some(auth) = req.uri().authority() {
        return HeaderValue::from_str(auth.as_str()).ok();
    }
    req.headers().get(header::HOST).cloned()
}

/// Origin-form URI for the upstream: the normalised path when normalisation changed it (what
/// was matched is what is forwarded), plus the original query.
fn upstream_uri(uri: &Uri, path: Option<String>) -> Result<Uri, ProxyError> {
    let pq = match path {
        None => match uri.path_and_query() {
            Some(pq) => pq.clone(),
            None => PathAndQuery::from_static("/"),
        },
        Some(p) => {
            let text = match uri.query() {
                Some(q) => format!("{p}?{q}"),
                None => p,
            };
            PathAndQuery::try_from(text).map_err(|_| ProxyError::BadRequest("bad request path"))?
        }
    };
    Ok(Uri::from(pq))
}

fn content_length(req: &Request<Incoming>) -> Option<u64> {
    req.headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

fn min_limit(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// 308 to the same host, path and query over https.
fn redirect(conn: &ConnShared, host: &str, uri: &Uri, id: &HeaderValue) -> Response<ResponseBody> {
    let name = strip_port(host);
    let name = if name.contains(':') {
        format!("[{name}]")
    } else {
        name.to_string()
    };
    let port = match conn.state.redirect_port {
        Some(443) | None => String::new(),
        Some(p) => format!(":{p}"),
    };
    let pq = uri.path_and_query().map_or("/", |p| p.as_str());
    let location = format!("https://{name}{port}{pq}");
    let mut resp = local_response(StatusCode::PERMANENT_REDIRECT, "redirect to https", id);
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}
