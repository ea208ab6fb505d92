//! The admin listener (loopback by default): `/healthz` (200 while the process serves),
//! `/readyz` (200 once the first snapshot is live — generation > 0 — and not draining; 503
//! otherwise), `/metrics` (Prometheus text). Anything else is 404.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::server::{Lifecycle, ProxyState};

pub(crate) async fn serve(listener: TcpListener, state: Arc<ProxyState>) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!(error = %e, "admin accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let state = state.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let resp = answer(&state, &req);
                async move { Ok::<_, Infallible>(resp) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

fn answer(state: &ProxyState, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let generation = state.shared.load().generation;
    let (status, content_type, body) = match req.uri().path() {
        "/healthz" => (StatusCode::OK, "text/plain", "ok\n".to_string()),
        "/readyz" => {
            let running = *state.lifecycle.borrow() == Lifecycle::Running;
            if generation > 0 && running {
                (
                    StatusCode::OK,
                    "text/plain",
                    format!("ready generation={generation}\n"),
                )
            } else if !running {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain",
                    "draining\n".to_string(),
                )
            } else {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain",
                    "no snapshot yet\n".to_string(),
                )
            }
        }
        "/metrics" => (StatusCode::OK, "text/plain; version=0.0.4", {
            let mut text = state.metrics.render(generation);
            crate::waf::metrics::global().render(&mut text);
            text
        }),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found\n".to_string(),
        ),
    };
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    if let Ok(v) = header::HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    resp
}
