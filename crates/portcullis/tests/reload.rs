//! Atomic hot reload, end to end: the real binary, real backends, a client loop that keeps
//! sending requests on keep-alive connections while the manifests directory changes 200
//! times. Zero failed requests, and every answer comes from the old or the new table.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::*;

const CONFIG: &str =
    "proxy:\n  access_log: false\ncontroller:\n  debounce: 10ms\nlogging:\n  level: warn\n";

#[test]
fn two_hundred_reloads_under_load_lose_no_request() {
    let scratch = Scratch::new("reload");
    let (_a, addr_a) = demo_backend("alpha");
    let (_b, addr_b) = demo_backend("beta");
    scratch.write_manifest("svc-a.yaml", &service_yaml("alpha", addr_a));
    scratch.write_manifest("svc-b.yaml", &service_yaml("beta", addr_b));
    scratch.write_manifest(
        "ing.yaml",
        &ingress_yaml("app", "app.test", &[("/app", "alpha")]),
    );
    let p = start(&scratch, CONFIG, true);
    let http = p.http;

    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (stop, ok) = (stop.clone(), ok.clone());
            std::thread::spawn(move || {
                let mut client = Client::connect(http);
                let mut failures = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    match client.get("/app/page?x=1", "app.test") {
                        Ok((200, body))
                            if body.contains("hello from alpha")
                                || body.contains("hello from beta") =>
                        {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok((status, body)) => failures.push(format!("{status}: {body}")),
                        Err(e) => {
                            failures.push(format!("io: {e}"));
                            client = Client::connect(http);
                        }
                    }
                }
                failures
            })
        })
        .collect();

    // 200 changes, each applied (the generation moves) before the next: the route flips
    // between the two backends, and a second path comes and goes.
    let start_gen = p.metric("portcullis_snapshot_generation").unwrap();
    for i in 1..=200u32 {
        let target = if i % 2 == 0 { "alpha" } else { "beta" };
        let mut paths = vec![("/app", target)];
        if i % 3 == 0 {
            paths.push(("/extra", "alpha"));
        }
        scratch.write_manifest("ing.yaml", &ingress_yaml("app", "app.test", &paths));
        p.wait_generation(start_gen + f64::from(i));
    }
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    let failures: Vec<String> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();

    let served = ok.load(Ordering::Relaxed);
    assert!(
        failures.is_empty(),
        "{} failed requests, first: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(
        served > 200,
        "the client loop only completed {served} requests"
    );
    assert_eq!(
        p.metric("portcullis_reloads_total{result=\"failed\"}"),
        Some(0.0)
    );
    // Final table: i = 200 → alpha.
    assert!(get(http, "/app", "app.test").1.contains("hello from alpha"));
}

#[test]
fn unparsable_file_keeps_the_last_good_snapshot() {
    let scratch = Scratch::new("badfile");
    let (_a, addr_a) = demo_backend("alpha");
    scratch.write_manifest("svc-a.yaml", &service_yaml("alpha", addr_a));
    scratch.write_manifest(
        "ing.yaml",
        &ingress_yaml("app", "app.test", &[("/app", "alpha")]),
    );
    let p = start(&scratch, CONFIG, true);
    assert!(
        get(p.http, "/app", "app.test")
            .1
            .contains("hello from alpha")
    );

    scratch.write_manifest(
        "broken.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: [unclosed\n",
    );
    let start = std::time::Instant::now();
    while p
        .metric("portcullis_reloads_total{result=\"failed\"}")
        .unwrap_or(0.0)
        < 1.0
    {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "bad file never reported"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // Still served by the last good snapshot, and the log names the file.
    assert!(
        get(p.http, "/app", "app.test")
            .1
            .contains("hello from alpha")
    );
    assert!(
        p.log_text().contains("broken.yaml"),
        "log does not name the bad file:\n{}",
        p.log_text()
    );

    // Fixing the file applies again.
    let gen_before = p.metric("portcullis_snapshot_generation").unwrap();
    std::fs::remove_file(scratch.manifests().join("broken.yaml")).unwrap();
    scratch.write_manifest(
        "ing.yaml",
        &ingress_yaml("app", "app.test", &[("/other", "alpha")]),
    );
    p.wait_generation(gen_before + 1.0);
    assert_eq!(get(p.http, "/app", "app.test").0, 404);
    assert_eq!(get(p.http, "/other", "app.test").0, 200);
}
