//! The direct upstream client (body-less requests) against a scripted HTTP/1.1 origin that
//! writes raw bytes: response framings, interim answers, connection reuse and the
//! connections an origin closes; and the connect-timeout → 503 path.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// The raw answer of the scripted origin for a path, and whether it closes afterwards.
fn script(path: &str, conn_id: usize) -> (Vec<u8>, bool) {
    let fixed = |s: &str| s.as_bytes().to_vec();
    match path {
        "/chunked" => (
            fixed(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                 5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
            ),
            false,
        ),
        "/until-close" => (
            fixed("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nread until close"),
            true,
        ),
        "/interim" => (
            fixed(
                "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\ninterim",
            ),
            false,
        ),
        "/no-content" => (fixed("HTTP/1.1 204 No Content\r\nX-A: b\r\n\r\n"), false),
        "/truncated" => (
            fixed("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"),
            true,
        ),
        "/garbage" => (fixed("HTTP/1.1 2000 What\r\n\r\n"), true),
        // Answers with keep-alive, then closes the idle connection anyway.
        "/then-close" => (
            format!(
                "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n{}",
                conn_id % 10
            )
            .into_bytes(),
            true,
        ),
        _ => {
            let body = format!("conn {conn_id}");
            (
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nX-Hop: 1\r\nConnection: x-hop\r\n\r\n{body}",
                    body.len()
                )
                .into_bytes(),
                false,
            )
        }
    }
}

/// A scripted origin on loopback; counts the connections it accepted.
async fn scripted_origin() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let conns = Arc::new(AtomicUsize::new(0));
    let counter = conns.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                continue;
            };
            let id = counter.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    let end = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        let mut chunk = [0u8; 4096];
                        match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                    buf.drain(..end);
                    let path = head.split(' ').nth(1).unwrap_or("/").to_string();
                    let (answer, close) = script(&path, id);
                    if s.write_all(&answer).await.is_err() || close {
                        return;
                    }
                }
            });
        }
    });
    (addr, conns)
}

async fn proxy_to(origin: SocketAddr) -> TestProxy {
    start_proxy(
        snapshot(1, vec![route(None, "/", vec![origin])], default_tls()),
        test_config(),
    )
    .await
}

#[tokio::test]
async fn response_framings_are_decoded() {
    let (origin, _) = scripted_origin().await;
    let proxy = proxy_to(origin).await;
    let client = h1_client();
    let a = get(&client, proxy.http(), "x", "/chunked").await;
    assert_eq!(
        (a.status, a.text().as_str()),
        (StatusCode::OK, "hello world")
    );
    let a = get(&client, proxy.http(), "x", "/until-close").await;
    assert_eq!(a.text(), "read until close");
    let a = get(&client, proxy.http(), "x", "/interim").await;
    assert_eq!((a.status, a.text().as_str()), (StatusCode::OK, "interim"));
    let a = get(&client, proxy.http(), "x", "/no-content").await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(a.headers["x-a"], "b");
    let a = get(&client, proxy.http(), "x", "/plain").await;
    assert!(a.text().starts_with("conn "), "{}", a.text());
    assert!(
        !a.headers.contains_key("x-hop"),
        "hop-by-hop header forwarded"
    );
    let a = get(&client, proxy.http(), "x", "/garbage").await;
    assert_eq!(a.status, StatusCode::BAD_GATEWAY);
    assert!(
        a.text().starts_with("502 upstream request failed"),
        "{}",
        a.text()
    );
    // HEAD: no body, whatever the length says.
    let head = raw(
        proxy.http(),
        b"HEAD /plain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    proxy.handle.shutdown().await;
}

#[tokio::test]
async fn keep_alive_connections_are_reused_and_closed_ones_replaced() {
    let (origin, conns) = scripted_origin().await;
    let proxy = proxy_to(origin).await;
    let client = h1_client();
    let first = get(&client, proxy.http(), "x", "/plain").await.text();
    for _ in 0..5 {
        assert_eq!(
            get(&client, proxy.http(), "x", "/plain").await.text(),
            first
        );
    }
    assert_eq!(
        conns.load(Ordering::SeqCst),
        1,
        "one upstream connection, reused"
    );

    // The origin closes an idle connection it said it would keep: the next request gets a
    // new connection, not a 502.
    for _ in 0..5 {
        let a = get(&client, proxy.http(), "x", "/then-close").await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Even when the close arrives after the connection was taken from the pool.
    for _ in 0..5 {
        let a = get(&client, proxy.http(), "x", "/then-close").await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    }

    // A body cut short: the client never sees a complete response (hyper aborts the
    // connection, with or without the part already read), the connection is not reused.
    let cut = raw(
        proxy.http(),
        b"GET /truncated HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(
        cut.is_empty() || (cut.starts_with("HTTP/1.1 200") && cut.ends_with("short")),
        "{cut}"
    );
    let a = get(&client, proxy.http(), "x", "/plain").await;
    assert_eq!(a.status, StatusCode::OK);
    proxy.handle.shutdown().await;
}

/// A loopback address whose SYNs are never answered: a listener with a full accept queue
/// (the kernel drops SYNs while it is full). The returned sockets keep it full.
async fn unanswering_addr() -> (SocketAddr, Vec<TcpStream>, TcpListener) {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..8 {
        match tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(addr)).await {
            Ok(Ok(s)) => fillers.push(s),
            // This SYN was dropped: the queue is full.
            Err(_) => return (addr, fillers, listener),
            Ok(Err(e)) => panic!("filler connect failed: {e}"),
        }
    }
    panic!("the accept queue of {addr} never filled up");
}

#[tokio::test]
async fn connect_timeout_is_503() {
    let (addr, _fillers, _listener) = unanswering_addr().await;
    let mut config = test_config();
    config.timeouts.connect = Duration::from_millis(300);
    let proxy = start_proxy(
        snapshot(1, vec![route(None, "/", vec![addr])], default_tls()),
        config,
    )
    .await;
    let started = std::time::Instant::now();
    let a = get(&h1_client(), proxy.http(), "x", "/").await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{}", a.text());
    assert!(
        a.text().starts_with("503 upstream connect timeout"),
        "{}",
        a.text()
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    // The same for a request with a body (the hyper client path).
    let req = http::Request::post("/")
        .header("host", "x")
        .body(http_body_util::Full::new(bytes::Bytes::from_static(
            b"data",
        )))
        .unwrap();
    let a = send(&h1_client(), proxy.http(), req).await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{}", a.text());
    let metrics = proxy.metrics.render(1);
    assert!(
        metrics.contains("portcullis_upstream_errors_total{kind=\"connect_timeout\"} 2"),
        "{metrics}"
    );
    proxy.handle.shutdown().await;
}
