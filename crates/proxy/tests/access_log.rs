//! The access log: one JSON line per request on the `access` target. In its own test binary
//! because it installs a tracing subscriber.

mod common;

use common::*;

/// Collects what the JSON formatter writes.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn access_log_has_one_json_line_per_request() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::INFO)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    tracing::callsite::rebuild_interest_cache();

    let blog = start_backend("blog").await;
    let snap = snapshot(
        1,
        vec![route(Some("log.test"), "/blog", vec![blog.addr])],
        default_tls(),
    );
    let proxy = start_proxy(snap, test_config()).await;
    let client = h1_client();
    let ok = get(&client, proxy.http(), "log.test", "/blog/a?b=c").await;
    let missing = get(&client, proxy.http(), "log.test", "/nothing").await;
    proxy.handle.shutdown().await;

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["target"] == "access")
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    let first = &lines[0];
    assert_eq!(
        first["request_id"],
        ok.headers["x-request-id"].to_str().unwrap()
    );
    assert_eq!(first["method"], "GET");
    assert_eq!(first["host"], "log.test");
    assert_eq!(first["path"], "/blog/a?b=c");
    assert_eq!(first["status"], 200);
    assert_eq!(first["route"], "log.test/blog");
    assert_eq!(first["upstream"], blog.addr.to_string());
    assert_eq!(first["bytes"], ok.body.len() as u64);
    assert!(first["duration_ms"].as_f64().unwrap() >= 0.0);
    assert!(first["ts"].as_str().unwrap().ends_with('Z'));
    assert!(first["client"].as_str().unwrap().starts_with("127.0.0.1:"));
    let second = &lines[1];
    assert_eq!(second["status"], 404);
    assert_eq!(
        second["request_id"],
        missing.headers["x-request-id"].to_str().unwrap()
    );
    assert_eq!(second["route"], "");
}
