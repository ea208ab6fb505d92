//! Plain-HTTP behaviour over real loopback: routing, errors, retries, redirects, headers.

mod common;

use bytes::Bytes;
use common::*;
use http::{Request, StatusCode};
use http_body_util::Full;
use portcullis_snapshot::RoutePolicy;

#[tokio::test]
async fn routes_by_host_and_path_over_http1_and_h2c() {
    let blog = start_backend("blog").await;
    let store = start_backend("store").await;
    let snap = snapshot(
        1,
        vec![
            route(Some("myapp.com"), "/blog", vec![blog.addr]),
            route(Some("myapp.com"), "/store", vec![store.addr]),
        ],
        default_tls(),
    );
    let proxy = start_proxy(snap, test_config()).await;
    for client in [h1_client(), h2c_client()] {
        let a = get(&client, proxy.http(), "myapp.com", "/blog/post?q=/store").await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text());
        assert_eq!(a.json()["backend"], "blog");
        assert_eq!(
            a.json()["uri"],
            "/blog/post?q=/store",
            "query kept, not matched"
        );
        let a = get(&client, proxy.http(), "MyApp.com:8080", "/store").await;
        assert_eq!(a.json()["backend"], "store");
        let a = get(&client, proxy.http(), "myapp.com", "/blogger").await;
        assert_eq!(a.status, StatusCode::NOT_FOUND);
        assert!(a.text().starts_with("404 no route"), "{}", a.text());
        let a = get(&client, proxy.http(), "other.com", "/blog").await;
        assert_eq!(a.status, StatusCode::NOT_FOUND);
    }
    proxy.handle.shutdown().await;
}

#[tokio::test]
async fn refused_paths_get_400_and_dot_segments_are_resolved_before_matching() {
    let blog = start_backend("blog").await;
    let snap = snapshot(
        1,
        vec![route(Some("a.test"), "/blog", vec![blog.addr])],
        default_tls(),
    );
    let proxy = start_proxy(snap, test_config()).await;
    let resp = raw(
        proxy.http(),
        b"GET /blog/../../etc/passwd HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(resp.starts_with("HTTP/1.1 400"), "{resp}");
    assert!(resp.contains("bad request path"), "{resp}");
    let resp = raw(
        proxy.http(),
        b"GET /blog/x/../y HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(
        resp.contains(r#""uri":"/blog/y""#),
        "normalised path forwarded: {resp}"
    );
    proxy.handle.shutdown().await;
}

#[tokio::test]
async fn no_endpoints_is_503_and_dead_endpoints_are_skipped() {
    let alive = start_backend("alive").await;
    let dead = dead_addr().await;
    let snap = snapshot(
        1,
        vec![
            route(Some("empty.test"), "/", vec![]),
            route(Some("retry.test"), "/", vec![dead, alive.addr, dead]),
            route(Some("down.test"), "/", vec![dead]),
        ],
        default_tls(),
    );
    let proxy = start_proxy(snap, test_config()).await;
    let client = h1_client();
    let a = get(&client, proxy.http(), "empty.test", "/").await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        a.text().starts_with("503 no ready endpoint"),
        "{}",
        a.text()
    );
    for _ in 0..6 {
        let a = get(&client, proxy.http(), "retry.test", "/").await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text());
        assert_eq!(a.json()["backend"], "alive");
    }
    let a = get(&client, proxy.http(), "down.test", "/").await;
    assert_eq!(a.status, StatusCode::BAD_GATEWAY);
    assert!(
        a.text().starts_with("502 upstream connect failed"),
        "{}",
        a.text()
    );
    let id = a.headers["x-request-id"].to_str().unwrap();
    assert!(a.text().contains(id), "request id in the body");
    proxy.handle.shutdown().await;
}

#[tokio::test]
async fn round_robin_spreads_requests() {
    let one = start_backend("one").await;
    let two = start_backend("two").await;
    let snap = snapshot(
        1,
        vec![route(None, "/", vec![one.addr, two.addr])],
        default_tls(),
    );
    let proxy = start_proxy(snap, test_config()).await;
    let client = h1_client();
    for _ in 0..10 {
        assert_eq!(
            get(&client, proxy.http(), "x.test", "/").await.status,
            StatusCode::OK
        );
    }
    let (a, b) = (
        one.hits.load(std::sync::atomic::Ordering::Relaxed),
        two.hits.load(std::sync::atomic::Ordering::Relaxed),
    );
    assert_eq!((a, b), (5, 5));
    proxy.handle.shutdown().await;
}

#[tokio::test]
async fn ssl_redirect_is_308_to_https_with_path_and_query() {
    let blog = start_backend("blog").await;
    let mut r = route(Some("secure.test"), "/", vec![blog.addr]);
    r.policy = RoutePolicy {
        ssl_redirect: true,
        ..RoutePolicy::default()
    };
    let proxy = start_proxy(snapshot(1, vec![r], default_tls()), test_config()).await;
    let a = get(&h1_client(), proxy.http(), "secure.test:8080", "/a/b?x=1").await;
    assert_eq!(a.status, StatusCode::PERMANENT_REDIRECT);
    let port = proxy.https().port();
    assert_eq!(
        a.headers["location"],
        format!("https://secure.test:{port}/a/b?x=1").as_str()
    );
    let t = tls_h2_get(proxy.https(), "secure.test", "/a").await;
    assert_eq!(t.answer.status, StatusCode::OK, "no redirect over TLS");
    proxy.handle.shutdown().await;
}

#[tokio::test]
async fn forwarding_headers_request_id_and_hop_by_hop() {
    let blog = start_backend("blog").await;
    let snap = snapshot(
        1,
        vec![route(Some("h.test"), "/", vec![blog.addr])],
        default_tls(),
    );
    let proxy = start_proxy(snap, test_config()).await;
    let client = h1_client();
    let req = Request::get("/x")
        .header("host", "h.test")
        .header("x-forwarded-for", "10.1.2.3")
        .header("connection", "x-private")
        .header("x-private", "secret")
        .header("keep-alive", "timeout=1")
        .header("proxy-authorization", "Basic Zm9v")
        .header("te", "trailers")
        .header("x-request-id", "my-id-1")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let a = send(&client, proxy.http(), req).await;
    let seen = &a.json()["headers"];
    assert_eq!(seen["host"], "h.test", "Host preserved");
    assert_eq!(seen["x-forwarded-for"], "10.1.2.3, 127.0.0.1");
    assert_eq!(seen["x-forwarded-proto"], "http");
    assert_eq!(seen["x-forwarded-host"], "h.test");
    assert_eq!(seen["x-request-id"], "my-id-1");
    for hop in [
        "x-private",
        "keep-alive",
        "proxy-authorization",
        "te",
        "connection",
    ] {
        assert!(seen.get(hop).is_none(), "{hop} forwarded: {seen}");
    }
    assert_eq!(a.headers["x-request-id"], "my-id-1", "echoed");
    assert!(
        a.headers.get("x-hop").is_none(),
        "response hop-by-hop removed"
    );
    assert!(a.headers.get("keep-alive").is_none());

    let a = get(&client, proxy.http(), "h.test", "/").await;
    let generated = a.headers["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(generated.len(), 32);
    assert_eq!(a.json()["headers"]["x-request-id"], generated.as_str());
    proxy.handle.shutdown().await;
}

#[tokio::test]
async fn admin_health_ready_and_metrics() {
    let blog = start_backend("blog").await;
    let proxy = start_proxy(snapshot(0, vec![], default_tls()), test_config()).await;
    let admin = proxy.handle.admin_addr();
    let client = h1_client();
    assert_eq!(
        get(&client, admin, "x", "/healthz").await.status,
        StatusCode::OK
    );
    assert_eq!(
        get(&client, admin, "x", "/readyz").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    proxy.swap(snapshot(
        3,
        vec![route(Some("m.test"), "/", vec![blog.addr])],
        default_tls(),
    ));
    proxy.metrics.reload_ok();
    assert_eq!(
        get(&client, admin, "x", "/readyz").await.status,
        StatusCode::OK
    );
    assert_eq!(
        get(&client, proxy.http(), "m.test", "/").await.status,
        StatusCode::OK
    );
    let text = get(&client, admin, "x", "/metrics").await.text();
    for needle in [
        "portcullis_snapshot_generation 3",
        r#"portcullis_requests_total{route="m.test/",host="m.test",status="200"} 1"#,
        r#"portcullis_reloads_total{result="ok"} 1"#,
        "portcullis_request_duration_seconds_count 1",
        "portcullis_active_connections 1",
    ] {
        assert!(text.contains(needle), "missing {needle}:\n{text}");
    }
    proxy.handle.shutdown().await;
}
