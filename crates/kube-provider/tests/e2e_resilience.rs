//! End-to-end against a real kube-apiserver (scripts/e2e-kube.sh): the API server stops for
//! 10 s while a client loop runs → zero failed requests (the last snapshot keeps serving);
//! after it comes back the watches reconnect (relisting when their resourceVersion is gone)
//! and a change made then is applied.

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
    assert!(
        std::process::Command::new("kill")
            .arg(&pid)
            .status()
            .unwrap()
            .success()
    );
    let gone = until(Duration::from_secs(30), || async {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z"))
    })
    .await;
    gone.expect("kube-apiserver did not stop");
    println!("e2e: kube-apiserver stopped; keeping it down for 10 s");
    tokio::time::sleep(Duration::from_secs(10)).await;
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
    let log = proc.log_text();
    assert!(
        !log.to_ascii_lowercase().contains("forbidden"),
        "controller was forbidden:\n{log}"
    );
}
