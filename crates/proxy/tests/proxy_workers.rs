//! Thread-per-core mode: the same behaviour with two worker threads and SO_REUSEPORT
//! listeners.

mod common;

use std::time::Duration;

use common::*;
use http::StatusCode;

fn workers_config() -> portcullis_proxy::ProxyConfig {
    let mut c = test_config();
    c.workers = Some(2);
    c.timeouts.upstream_header = Duration::from_secs(5);
    c
}

#[tokio::test]
async fn workers_route_terminate_tls_and_drain() {
    let blog = start_backend("blog").await;
    let snap = snapshot(
        1,
        vec![route(Some("myapp.com"), "/blog", vec![blog.addr])],
        default_tls(),
    );
    let proxy = start_proxy(snap, workers_config()).await;
    for client in [h1_client(), h2c_client()] {
        for _ in 0..20 {
            let a = get(&client, proxy.http(), "myapp.com", "/blog").await;
            assert_eq!(a.status, StatusCode::OK, "{}", a.text());
            assert_eq!(a.json()["backend"], "blog");
        }
        assert_eq!(
            get(&client, proxy.http(), "myapp.com", "/x").await.status,
            StatusCode::NOT_FOUND
        );
    }
    let t = tls_h2_get(proxy.https(), "myapp.com", "/blog").await;
    assert_eq!(t.answer.status, StatusCode::OK);

    assert!(proxy.handle.shutdown().await.drained);
}

#[tokio::test]
async fn workers_drain_in_flight_requests() {
    let b = start_backend("b").await;
    let proxy = start_proxy(
        snapshot(1, vec![route(None, "/", vec![b.addr])], default_tls()),
        workers_config(),
    )
    .await;
    let addr = proxy.http();
    let slow = tokio::spawn(async move { get(&h1_client(), addr, "x", "/slow").await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let report = proxy.handle.shutdown().await;
    assert!(report.drained);
    assert_eq!(slow.await.unwrap().status, StatusCode::OK);
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "listeners closed"
    );
}
