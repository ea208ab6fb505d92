//! End-to-end against a real kube-apiserver (scripts/e2e-kube.sh): the myapp.com Ingress is
//! routed within 1 s of its creation, served over HTTPS with its Secret's certificate; path
//! updates, endpoint scaling and deletion each reach the proxy within 1 s (change-to-served
//! latency reported as p50/p99); a rotated Secret is served to the next handshake while an
//! open connection keeps working; the leader writes the Ingress status; an Ingress that cannot
//! be served as written gets an Event; a burst of 1,000 changes costs a handful of rebuilds;
//! the controller runs with deploy/'s ServiceAccount and is never forbidden.

mod common;

use std::time::Duration;

use common::*;
use k8s_openapi::api::core::v1::{Namespace, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::networking::v1::Ingress;
use kube::Api;
use kube::api::ListParams;
use serde_json::json;

const NS: &str = "e2e-routing";
const SECOND: Duration = Duration::from_secs(1);

fn service(name: &str) -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": { "name": name, "namespace": NS },
        "spec": { "clusterIP": "None", "ports": [{ "name": "http", "port": 80, "targetPort": 8080 }] }
    })
}

fn slice(service: &str, ips: &[String]) -> serde_json::Value {
    let endpoints: Vec<_> = ips
        .iter()
        .map(|ip| json!({ "addresses": [ip], "conditions": { "ready": true } }))
        .collect();
    json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": { "name": format!("{service}-1"), "namespace": NS,
                      "labels": { "kubernetes.io/service-name": service } },
        "addressType": "IPv4",
        "ports": [{ "name": "http", "port": 8080, "protocol": "TCP" }],
        "endpoints": endpoints
    })
}

fn tls_secret(cert: &str, key: &str) -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": { "name": "myapp-secret", "namespace": NS },
        "stringData": { "tls.crt": cert, "tls.key": key }
    })
}

fn ingress(blog_path: &str) -> serde_json::Value {
    let path = |p: &str, svc: &str| {
        json!({ "path": p, "pathType": "Prefix",
                "backend": { "service": { "name": svc, "port": { "number": 80 } } } })
    };
    json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": { "name": "myapp", "namespace": NS },
        "spec": {
            "ingressClassName": "portcullis",
            "tls": [{ "hosts": ["myapp.com"], "secretName": "myapp-secret" }],
            "rules": [{ "host": "myapp.com", "http": { "paths": [
                path(blog_path, "blogservice"), path("/store", "storeservice")
            ] } }]
        }
    })
}

/// The body of GET http://myapp.com`path` through the proxy (the ssl-redirect is avoided by
/// asking over HTTPS when `tls`).
async fn get(ports: Ports, path: &str) -> Option<(u16, String)> {
    let (mut s, _) = tls_connect(ports.https, "myapp.com").await.ok()?;
    let r = request(&mut s, "myapp.com", path, true).await.ok()?;
    Some((r.status, r.body))
}

async fn serves(ports: Ports, path: &str, needle: &str) -> bool {
    matches!(get(ports, path).await, Some((200, body)) if body.contains(needle))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_tls_status_events_and_latency() {
    let Some(env) = Env::get() else { return };
    let client = env.admin().await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    apply(
        &namespaces,
        json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": NS } }),
    )
    .await;
    let services: Api<Service> = Api::namespaced(client.clone(), NS);
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), NS);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), NS);
    let ingresses: Api<Ingress> = Api::namespaced(client.clone(), NS);

    let (blog_ip, store_ip, store2_ip) = (env.ip(11), env.ip(12), env.ip(13));
    let _b1 = backend(&env, "blogservice", &format!("{blog_ip}:8080"));
    let _b2 = backend(&env, "storeservice", &format!("{store_ip}:8080"));
    let _b3 = backend(&env, "storeservice-2", &format!("{store2_ip}:8080"));

    let ports = Ports::nth(0);
    let proc = controller(
        &env,
        "routing",
        ports,
        &["--publish-address", "192.0.2.200", "--lease-duration", "4"],
    );
    wait_ready(ports, Duration::from_secs(30)).await;

    // 1. Create everything → routed within 1 s, HTTPS with the Secret's certificate.
    let (cert_pem, key_pem, cert_der) = certificate("myapp.com");
    apply(&services, service("blogservice")).await;
    apply(&services, service("storeservice")).await;
    apply(
        &slices,
        slice("blogservice", std::slice::from_ref(&blog_ip)),
    )
    .await;
    apply(
        &slices,
        slice("storeservice", std::slice::from_ref(&store_ip)),
    )
    .await;
    apply(&secrets, tls_secret(&cert_pem, &key_pem)).await;
    apply(&ingresses, ingress("/blog")).await;
    let created = until(SECOND, || serves(ports, "/blog", "hello from blogservice")).await;
    let created = created.expect("myapp.com/blog not routed within 1 s of its creation");
    println!("e2e: Ingress created → served in {created:?}");
    assert!(serves(ports, "/store", "hello from storeservice").await);
    let (_, leaf) = tls_connect(ports.https, "myapp.com").await.unwrap();
    assert_eq!(
        leaf, cert_der,
        "HTTPS must present the Secret's certificate"
    );
    let plain = http_get(ports.http, "myapp.com", "/blog").await.unwrap();
    assert_eq!(plain.status, 308, "plain HTTP to a TLS host redirects");

    // 2. Path updates: change-to-served latency, measured repeatedly.
    let mut samples = vec![created];
    for i in 0..20 {
        let path = format!("/news{i}");
        apply(&ingresses, ingress(&path)).await;
        let took = until(SECOND, || serves(ports, &path, "hello from blogservice")).await;
        samples.push(took.unwrap_or_else(|| panic!("path {path} not served within 1 s")));
    }
    assert_eq!(
        get(ports, "/blog").await.map(|r| r.0),
        Some(404),
        "old path is gone"
    );

    // 3. Scale the endpoints: the new endpoint receives traffic within 1 s.
    apply(
        &slices,
        slice("storeservice", &[store_ip.clone(), store2_ip.clone()]),
    )
    .await;
    let scaled = until(SECOND, || {
        serves(ports, "/store", "hello from storeservice-2")
    })
    .await;
    samples.push(scaled.expect("scaled-up endpoint not used within 1 s"));
    apply(
        &slices,
        slice("storeservice", std::slice::from_ref(&store2_ip)),
    )
    .await;
    let down = until(SECOND, || async {
        let mut only_new = true;
        for _ in 0..4 {
            only_new &= serves(ports, "/store", "hello from storeservice-2").await;
        }
        only_new
    })
    .await;
    samples.push(down.expect("scaled-down endpoint still used after 1 s"));

    // 4. Rotate the Secret: next handshake gets the new certificate; an open connection
    //    keeps working.
    let (mut open, _) = tls_connect(ports.https, "myapp.com").await.unwrap();
    assert_eq!(
        request(&mut open, "myapp.com", "/store", false)
            .await
            .unwrap()
            .status,
        200
    );
    let (cert2_pem, key2_pem, cert2_der) = certificate("myapp.com");
    apply(&secrets, tls_secret(&cert2_pem, &key2_pem)).await;
    let rotated = until(SECOND, || async {
        matches!(tls_connect(ports.https, "myapp.com").await, Ok((_, leaf)) if leaf == cert2_der)
    })
    .await;
    samples.push(rotated.expect("rotated certificate not served within 1 s"));
    let again = request(&mut open, "myapp.com", "/store", false)
        .await
        .unwrap();
    assert_eq!(
        again.status, 200,
        "a connection opened before the rotation keeps working"
    );

    // 5. Status written by the leader (the only replica here).
    let status = until(Duration::from_secs(15), || async {
        let i = ingresses.get("myapp").await.unwrap();
        let lb = i
            .status
            .and_then(|s| s.load_balancer)
            .and_then(|l| l.ingress);
        lb.is_some_and(|v| v.len() == 1 && v[0].ip.as_deref() == Some("192.0.2.200"))
    })
    .await;
    status.expect("Ingress status not written by the leader");

    // 6. An Ingress that cannot be served as written gets an Event.
    apply(&ingresses, json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": { "name": "broken", "namespace": NS },
        "spec": { "ingressClassName": "portcullis", "rules": [{ "host": "broken.example", "http": { "paths": [
            { "path": "/", "pathType": "Prefix",
              "backend": { "service": { "name": "no-such-service", "port": { "number": 80 } } } }
        ] } }] }
    }))
    .await;
    let events: Api<Event> = Api::namespaced(client.clone(), NS);
    let evented = until(Duration::from_secs(15), || async {
        let list = events.list(&ListParams::default()).await.unwrap();
        list.items.iter().any(|e| {
            e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("broken")
                && e.reporting_controller.as_deref() == Some("portcullis")
        })
    })
    .await;
    evented.expect("no Event for an Ingress naming a missing Service");
    delete(&ingresses, "broken").await;

    // 7. Delete the Ingress → gone within 1 s.
    delete(&ingresses, "myapp").await;
    let last = format!("/news{}", 19);
    let deleted = until(SECOND, || async {
        get(ports, &last).await.map(|r| r.0) == Some(404)
    })
    .await;
    samples.push(deleted.expect("deleted Ingress still served after 1 s"));

    let p50 = percentile(&mut samples, 50);
    let p99 = percentile(&mut samples, 99);
    println!(
        "e2e: change-to-served latency over {} changes: p50 {:?}, p99 {:?}",
        samples.len(),
        p50,
        p99
    );

    // 8. A burst of 1,000 changes → a handful of rebuilds.
    let before = reloads_ok(ports).await;
    let svc = services.clone();
    let burst = futures_util::stream::iter(0..1000).map(|i| {
        let svc = svc.clone();
        async move {
            let patch = json!({ "metadata": { "annotations": { "e2e/burst": i.to_string() } } });
            svc.patch(
                "blogservice",
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(&patch),
            )
            .await
            .map(|_| ())
        }
    });
    use futures_util::StreamExt;
    let start = std::time::Instant::now();
    let results: Vec<_> = burst.buffer_unordered(48).collect().await;
    assert!(results.iter().all(Result::is_ok), "burst patches failed");
    let sent_in = start.elapsed();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let rebuilds = reloads_ok(ports).await - before;
    println!("e2e: burst of 1000 Service changes in {sent_in:?} → {rebuilds} rebuilds");
    // About one rebuild per `Debounce::max_delay` (1 s) while the burst lasts (the API server
    // of a shared 2-core machine accepts only a few dozen writes a second).
    let expected_max = 5 + sent_in.as_secs() * 3 / 2;
    assert!(
        rebuilds <= expected_max,
        "{rebuilds} rebuilds for a burst of 1000 (max {expected_max})"
    );

    // 9. RBAC: deploy/'s ServiceAccount was enough for everything above.
    let forbidden = proc.forbidden_lines();
    assert!(
        forbidden.is_empty(),
        "controller was forbidden: {forbidden:#?}"
    );
}
