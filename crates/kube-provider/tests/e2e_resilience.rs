//! End-to-end against a real kube-apiserver (scripts/e2e-kube.sh): the API server stops for
//! 10 s while a client loop runs → zero failed requests (the last snapshot keeps serving);
//! after it comes back the watches reconnect and a change made then is applied. While it is
//! down, etcd's revision is moved on and compacted, so every watch resumes from a compacted
//! resourceVersion: the API server answers 410 Gone and the reflectors relist — still without
//! a failed request.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::*;
use k8s_openapi::api::core::v1::{Namespace, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use kube::Api;
use serde_json::json;

const NS: &str = "e2e-resilience";

fn ingress(paths: &[&str]) -> serde_json::Value {
    let paths: Vec<_> = paths
        .iter()
        .map(|p| {
            json!({ "path": p, "pathType": "Prefix",
            "backend": { "service": { "name": "echo", "port": { "number": 80 } } } })
        })
        .collect();
    json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": { "name": "res", "namespace": NS },
        "spec": { "ingressClassName": "portcullis",
                  "rules": [{ "host": "res.example", "http": { "paths": paths } }] }
    })
}

async fn ok(ports: Ports, path: &str) -> bool {
    matches!(http_get(ports.http, "res.example", path).await, Ok(r) if r.status == 200)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_server_outage_keeps_serving_and_resyncs() {
    let Some(env) = Env::get() else { return };
    let client = env.admin().await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    apply(
        &namespaces,
        json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": NS } }),
    )
    .await;
    let ip = env.ip(21);
    let _echo = backend(&env, "echo", &format!("{ip}:8080"));
    apply(
        &Api::<Service>::namespaced(client.clone(), NS),
        json!({
            "apiVersion": "v1", "kind": "Service", "metadata": { "name": "echo", "namespace": NS },
            "spec": { "clusterIP": "None", "ports": [{ "name": "http", "port": 80 }] }
        }),
    )
    .await;
    apply(&Api::<EndpointSlice>::namespaced(client.clone(), NS), json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": { "name": "echo-1", "namespace": NS, "labels": { "kubernetes.io/service-name": "echo" } },
        "addressType": "IPv4", "ports": [{ "name": "http", "port": 8080, "protocol": "TCP" }],
        "endpoints": [{ "addresses": [ip], "conditions": { "ready": true } }]
    }))
    .await;
    let ingresses: Api<Ingress> = Api::namespaced(client.clone(), NS);
    apply(&ingresses, ingress(&["/"])).await;

    let ports = Ports::nth(3);
    let proc = controller(&env, "resilience", ports, &[]);
    wait_ready(ports, Duration::from_secs(30)).await;
    until(Duration::from_secs(5), || ok(ports, "/"))
        .await
        .expect("res.example not served");

    // A client loop for the whole outage.
    let stop = Arc::new(AtomicBool::new(false));
    let (sent, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let looper = {
        let (stop, sent, failed) = (stop.clone(), sent.clone(), failed.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                sent.fetch_add(1, Ordering::Relaxed);
                if !ok(ports, "/").await {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };

    let pid = std::fs::read_to_string(&env.apiserver_pidfile)
        .unwrap()
        .trim()
        .to_string();
    let log_before_outage = proc.log_text().len();
    // SIGKILL: a crash (a graceful stop would first wait for in-flight requests).
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    // Down = its port refuses connections.
    let gone = until(Duration::from_secs(30), || async {
        tokio::net::TcpStream::connect(("127.0.0.1", 6443))
            .await
            .is_err()
    })
    .await;
    gone.expect("kube-apiserver did not stop");
    println!("e2e: kube-apiserver stopped; keeping it down for 10 s");
    let outage = std::time::Instant::now();
    compact_etcd(&env.etcd);
    tokio::time::sleep(Duration::from_secs(10).saturating_sub(outage.elapsed())).await;
    assert!(
        std::process::Command::new(&env.apiserver_start)
            .status()
            .unwrap()
            .success()
    );
    let back = until(Duration::from_secs(90), || async {
        namespaces.get_opt("default").await.is_ok()
    })
    .await;
    println!(
        "e2e: kube-apiserver back after {:?}",
        back.expect("kube-apiserver did not come back")
    );

    stop.store(true, Ordering::Relaxed);
    looper.await.unwrap();
    let (sent, failed) = (sent.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    println!("e2e: client loop during the outage: {sent} requests, {failed} failed");
    assert!(sent > 100, "the client loop barely ran ({sent})");
    assert_eq!(failed, 0, "requests failed while the API server was down");

    // A change after the restart is applied once the watches reconnected (backoff).
    // ("/" is replaced by "/after-restart": other paths turn 404.)
    apply(&ingresses, ingress(&["/after-restart"])).await;
    let applied = until(Duration::from_secs(60), || async {
        matches!(http_get(ports.http, "res.example", "/elsewhere").await, Ok(r) if r.status == 404)
            && ok(ports, "/after-restart/x").await
    })
    .await;
    println!(
        "e2e: change after the restart applied in {:?}",
        applied.expect("change after the restart not applied")
    );
    let relisted = until(Duration::from_secs(30), || async {
        proc.log_text().contains("relisted")
    })
    .await;
    relisted.expect("no watch relisted after its resourceVersion was compacted");

    // Permissions: before the outage, and once the restarted API server's RBAC caches are
    // warm (right after a start it briefly refuses everything it has not loaded yet).
    let settled = proc.log_text().len();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let log = proc.log_text();
    let mut forbidden = forbidden_lines_in(&log[..log_before_outage]);
    forbidden.extend(forbidden_lines_in(&log[settled..]));
    assert!(
        forbidden.is_empty(),
        "controller was forbidden: {forbidden:#?}"
    );
}

/// Moves etcd's revision on (a key outside the API server's prefix) and compacts everything
/// before it, so resourceVersions the controller holds are gone (410 on resume).
fn compact_etcd(etcd: &str) {
    let curl = |path: &str, body: &str| -> String {
        let out = std::process::Command::new("curl")
            .args(["-sf", "-X", "POST", "-d", body, &format!("{etcd}{path}")])
            .output()
            .expect("curl");
        assert!(out.status.success(), "etcd {path}: {out:?}");
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let mut reply = String::new();
    for _ in 0..20 {
        // key "/e2e/bump", value "x", base64 as the v3 JSON gateway wants.
        reply = curl("/v3/kv/put", r#"{"key":"L2UyZS9idW1w","value":"eA=="}"#);
    }
    let v: serde_json::Value = serde_json::from_str(&reply).expect("etcd reply");
    let revision = v["header"]["revision"]
        .as_str()
        .expect("revision")
        .to_string();
    curl(
        "/v3/kv/compaction",
        &format!(r#"{{"revision":"{revision}","physical":true}}"#),
    );
    println!("e2e: etcd compacted at revision {revision}");
}
