//! Built-in demo origin servers.
//!
//! `portcullis run --demo-backends` starts the two backends of the example configuration
//! (`blogservice` on 127.0.0.1:9101, `storeservice` on 127.0.0.1:9102) so a newcomer can curl
//! the proxy at once; `portcullis demo-backend` starts one on its own. They are origins, not
//! part of the data plane, which is why they live in the binary and not in `portcullis-proxy`.
//!
//! The server is albedo-compatible (the backend go-ftw expects): any request gets 200 with a
//! short text naming the backend, the method and the path; `POST /reflect` with a JSON body
//! `{"status": 201, "headers": {"X-A": "b"}, "body": "..."}` answers with exactly that status,
//! those headers and that body (`body` may also be base64 in `encodedBody`).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;

use base64::Engine as _;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde::Deserialize;
use tokio::net::TcpListener;

/// Largest `/reflect` request body accepted (the CRS response tests stay far below).
const REFLECT_LIMIT: usize = 4 << 20;

#[derive(Deserialize, Default)]
struct Reflect {
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default, rename = "encodedBody")]
    encoded_body: Option<String>,
}

/// Binds `addr` and serves the demo backend named `name` until the task is dropped.
pub async fn spawn(name: String, addr: SocketAddr) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("demo backend {name}: cannot bind {addr}: {e}"))?;
    let local = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let name = name.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| handle(name.clone(), local, req));
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection_with_upgrades(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Ok(local)
}

async fn handle(
    name: String,
    local: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.method() == http::Method::POST && req.uri().path() == "/reflect" {
        return Ok(reflect(req).await);
    }
    let text = format!(
        "hello from {name} (demo backend {local}): {} {}\n",
        req.method(),
        req.uri()
    );
    // Drain the request body so keep-alive works for POSTs too.
    let _ = Limited::new(req.into_body(), REFLECT_LIMIT).collect().await;
    Ok(Response::builder()
        .header("content-type", "text/plain; charset=utf-8")
        .header("x-demo-backend", name)
        .body(Full::new(Bytes::from(text)))
        .unwrap_or_default())
}

async fn reflect(req: Request<Incoming>) -> Response<Full<Bytes>> {
    let bytes = match Limited::new(req.into_body(), REFLECT_LIMIT).collect().await {
        Ok(c) => c.to_bytes(),
        Err(_) => return plain(StatusCode::PAYLOAD_TOO_LARGE, "reflect body too large\n"),
    };
    let spec: Reflect = if bytes.is_empty() {
        Reflect::default()
    } else {
        match serde_json::from_slice(&bytes) {
            Ok(s) => s,
            Err(e) => {
                return plain(
                    StatusCode::BAD_REQUEST,
                    &format!("invalid reflect JSON: {e}\n"),
                );
            }
        }
    };
    let body = match (spec.encoded_body, spec.body) {
        (Some(enc), _) => match base64::engine::general_purpose::STANDARD.decode(enc.trim()) {
            Ok(b) => b,
            Err(e) => {
                return plain(
                    StatusCode::BAD_REQUEST,
                    &format!("invalid encodedBody: {e}\n"),
                );
            }
        },
        (None, Some(b)) => b.into_bytes(),
        (None, None) => Vec::new(),
    };
    let status = spec
        .status
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let mut builder = Response::builder().status(status);
    for (k, v) in &spec.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    builder
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|e| {
            plain(
                StatusCode::BAD_REQUEST,
                &format!("invalid reflect header: {e}\n"),
            )
        })
}

fn plain(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(text.to_string())));
    *r.status_mut() = status;
    r
}
