//! Limits, timeouts, streaming, upgrades, hot swap and drain over real loopback.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

#[tokio::test]
async fn oversized_request_head_gets_431() {
    let b = start_backend("b").await;
    let mut config = test_config();
    config.limits.max_request_header_bytes = 4096;
    let proxy = start_proxy(
        snapshot(1, vec![route(None, "/", vec![b.addr])], default_tls()),
        config,
    )
    .await;
    let big = "a".repeat(5000);
    // Fits hyper's 8 KiB buffer: refused by the exact check of the read-head phase.
    let req = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\nConnection: close\r\n\r\n");
    let resp = raw(proxy.http(), req.as_bytes()).await;
    assert!(resp.starts_with("HTTP/1.1 431"), "{resp}");
    assert!(resp.contains("request header too large"), "{resp}");
    // Does not fit the buffer: refused by hyper itself.
    let huge = "a".repeat(20_000);
    let req = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {huge}\r\n\r\n");
    let resp = raw(proxy.http(), req.as_bytes()).await;
    assert!(resp.starts_with("HTTP/1.1 431"), "{resp}");
    // Over h2c as well.
    let client = h2c_client();
    let req = Request::get("/")
        .header("host", "x")
        .header("x-big", big.as_str())
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert_eq!(
        send(&client, proxy.http(), req).await.status,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
    assert_eq!(b.hits.load(std::sync::atomic::Ordering::Relaxed), 0);
    proxy.handle.shutdown().await;
}

#[tokio::test]
async fn oversized_body_gets_413_by_length_and_while_streaming() {
    let b = start_backend("b").await;
    let mut config = test_config();
    config.limits.max_body_bytes = Some(1000);
    let proxy = start_proxy(
        snapshot(1, vec![route(None, "/", vec![b.addr])], default_tls()),
        config,
    )
    .await;
    let client = h1_client();
    let req = Request::post("/echo-body")
        .header("host", "x")
        .body(Full::new(Bytes::from(vec![b'a'; 1001])))
        .unwrap();
    let a = send(&client, proxy.http(), req).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(a.text().starts_with("413 request body too large"));
    assert_eq!(
        b.hits.load(std::sync::atomic::Ordering::Relaxed),
        0,
        "refused before upstream"
    );
    let req = Request::post("/echo-body")
        .header("host", "x")
        .body(Full::new(Bytes::from(vec![b'a'; 1000])))
        .unwrap();
    assert_eq!(send(&client, proxy.http(), req).await.body.len(), 1000);

    // Chunked (no Content-Length): counted while streaming.
    let chunk = "a".repeat(600);
    let req = format!(
        "POST /echo-body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n258\r\n{chunk}\r\n258\r\n{chunk}\r\n0\r\n\r\n"
    );
    let resp = raw(proxy.http(), req.as_bytes()).await;
    assert!(resp.starts_with("HTTP/1.1 413"), "{resp}");
    proxy.handle.shutdown().await;
}

#[tokio::test]
async fn slow_upstream_gets_504() {
    let b = start_backend("b").await;
    let proxy = start_proxy(
        snapshot(1, vec![route(None, "/", vec![b.addr])], default_tls()),
        test_config(),
    )
    .await;
    let a = get(&h1_client(), proxy.http(), "x", "/slow").await;
    assert_eq!(a.status, StatusCode::GATEWAY_TIMEOUT);
    assert!(
        a.text().starts_with("504 upstream header timeout"),
        "{}",
        a.text()
    );
    proxy.handle.shutdown().await;
}

#[tokio::test]
async fn large_bodies_stream_both_ways() {
    let b = start_backend("b").await;
    let proxy = start_proxy(
        snapshot(1, vec![route(None, "/", vec![b.addr])], default_tls()),
        test_config(),
    )
    .await;
    // Upload 16 MiB in chunks without Content-Length and read the echo back.
    let tcp = TcpStream::connect(proxy.http()).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    let chunk = Bytes::from(vec![b'z'; 256 * 1024]);
    let frames = futures_util::stream::iter(
        (0..64).map(move |_| Ok::<_, std::convert::Infallible>(Frame::data(chunk.clone()))),
    );
    let req = Request::post("/echo-body")
        .header("host", "x")
        .body(StreamBody::new(frames))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let mut body = resp.into_body();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        if let Ok(d) = frame.unwrap().into_data() {
            assert!(d.iter().all(|&c| c == b'z'));
            total += d.len();
        }
    }
    assert_eq!(total, 16 * 1024 * 1024);
    // Download 64 MiB over h2c.
    let tcp = TcpStream::connect(proxy.http()).await.unwrap();
    let (mut h2, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    let resp = h2
        .send_request(
            Request::get("http://x/big?mib=64")
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await
        .unwrap();
    let len = resp.into_body().collect().await.unwrap().to_bytes().len();
    assert_eq!(len, 64 * 1024 * 1024);
    proxy.handle.shutdown().await;
}

#[tokio::test]
async fn websocket_upgrade_is_passed_through() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let b = start_backend("ws").await;
    let proxy = start_proxy(
        snapshot(
            1,
            vec![route(Some("ws.test"), "/", vec![b.addr])],
            default_tls(),
        ),
        test_config(),
    )
    .await;
    let tcp = TcpStream::connect(proxy.http()).await.unwrap();
    let (mut ws, resp) = tokio_tungstenite::client_async("ws://ws.test/chat", tcp)
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SWITCHING_PROTOCOLS);
    assert!(resp.headers().contains_key("x-request-id"));
    for i in 0..3 {
        ws.send(Message::text(format!("hello {i}"))).await.unwrap();
        let back = ws.next().await.unwrap().unwrap();
        assert_eq!(back, Message::text(format!("hello {i}")));
    }
    // The tunnel survives a snapshot swap.
    proxy.swap(snapshot(2, vec![], default_tls()));
    ws.send(Message::text("after swap")).await.unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::text("after swap")
    );
    ws.close(None).await.unwrap();
    proxy.handle.shutdown().await;
}

#[tokio::test]
async fn in_flight_request_completes_on_the_old_snapshot() {
    let old = start_backend("old").await;
    let new = start_backend("new").await;
    let mut config = test_config();
    config.timeouts.upstream_header = Duration::from_secs(5);
    let proxy = start_proxy(
        snapshot(1, vec![route(None, "/", vec![old.addr])], default_tls()),
        config,
    )
    .await;
    let addr = proxy.http();
    let slow = tokio::spawn(async move { get(&h1_client(), addr, "x", "/slow").await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    proxy.swap(snapshot(
        2,
        vec![route(None, "/", vec![new.addr])],
        default_tls(),
    ));
    let a = get(&h1_client(), addr, "x", "/").await;
    assert_eq!(a.json()["backend"], "new");
    let a = slow.await.unwrap();
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["backend"], "old");
    proxy.handle.shutdown().await;
}

#[tokio::test]
async fn shutdown_drains_in_flight_requests() {
    let b = start_backend("b").await;
    let mut config = test_config();
    config.timeouts.upstream_header = Duration::from_secs(5);
    let proxy = start_proxy(
        snapshot(1, vec![route(None, "/", vec![b.addr])], default_tls()),
        config,
    )
    .await;
    let addr = proxy.http();
    let slow = tokio::spawn(async move { get(&h1_client(), addr, "x", "/slow").await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let report = proxy.handle.shutdown().await;
    assert!(report.drained);
    assert_eq!(slow.await.unwrap().status, StatusCode::OK);
    assert!(TcpStream::connect(addr).await.is_err(), "listener closed");
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let b = start_backend("b").await;
    let mut config = test_config();
    config.timeouts.idle = Duration::from_millis(300);
    let proxy = start_proxy(
        snapshot(1, vec![route(None, "/", vec![b.addr])], default_tls()),
        config,
    )
    .await;
    let tcp = TcpStream::connect(proxy.http()).await.unwrap();
    let (mut h2, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    let driver = tokio::spawn(conn);
    let resp = h2
        .send_request(
            Request::get("http://x/")
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    drop(resp);
    // Closed by the proxy (GOAWAY) well before this deadline.
    tokio::time::timeout(Duration::from_secs(3), driver)
        .await
        .expect("connection closed")
        .unwrap()
        .unwrap();
    for _ in 0..50 {
        if proxy.metrics.active_connections() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(proxy.metrics.active_connections(), 0);
    proxy.handle.shutdown().await;
}

#[tokio::test]
async fn incomplete_heads_and_waiting_keep_alive_connections_are_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let b = start_backend("b").await;
    let mut config = test_config();
    config.timeouts.client_header_read = Duration::from_millis(300);
    let proxy = start_proxy(
        snapshot(1, vec![route(None, "/", vec![b.addr])], default_tls()),
        config,
    )
    .await;
    // Slowloris: a head that never completes, bytes trickling in.
    let mut slow = TcpStream::connect(proxy.http()).await.unwrap();
    let started = std::time::Instant::now();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let closed = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if slow.write_all(b"X-A: b\r\n").await.is_err() {
                return;
            }
            if let Ok(Ok(0)) =
                tokio::time::timeout(Duration::from_millis(1), slow.read(&mut buf)).await
            {
                return;
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "slow head not cut off");
    assert!(started.elapsed() >= Duration::from_millis(300));

    // A keep-alive connection waiting for its next request.
    let mut ka = TcpStream::connect(proxy.http()).await.unwrap();
    ka.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let eof = tokio::time::timeout(Duration::from_secs(3), ka.read_to_end(&mut got)).await;
    assert!(eof.is_ok(), "keep-alive connection not closed");
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"));
    proxy.handle.shutdown().await;
}
