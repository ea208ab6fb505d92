//! Scale: 5,000 Ingresses (with their Services and EndpointSlices) go through one rebuild —
//! the same `Reloader::apply_objects` the rebuild loop calls — within 500 ms in an optimised
//! build (`cargo test --release -p portcullis-kube-provider --test scale`). Debug builds only
//! report the time.

use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use portcullis_control::{ObjectSet, Reloader, TranslateOptions};
use portcullis_snapshot::{Snapshot, TlsStore};
use serde_json::json;

const INGRESSES: usize = 5000;

fn objects() -> ObjectSet {
    let mut set = ObjectSet::new();
    for i in 0..INGRESSES {
        let ns = format!("ns{}", i % 50);
        let svc = format!("svc{i}");
        set.services.push(Arc::new(
            serde_json::from_value(json!({
                "metadata": { "name": svc, "namespace": ns },
                "spec": { "ports": [{ "name": "http", "port": 80 }] }
            }))
            .unwrap(),
        ));
        set.endpoint_slices.push(Arc::new(
            serde_json::from_value(json!({
                "metadata": { "name": format!("{svc}-1"), "namespace": ns,
                              "labels": { "kubernetes.io/service-name": svc } },
                "addressType": "IPv4",
                "ports": [{ "name": "http", "port": 8080 }],
                "endpoints": [{ "addresses": [format!("192.0.2.{}", i % 250 + 1)] }]
            }))
            .unwrap(),
        ));
        set.ingresses.push(Arc::new(
            serde_json::from_value(json!({
                "metadata": { "name": format!("ing{i}"), "namespace": ns },
                "spec": { "rules": [{ "host": format!("host{i}.example.com"), "http": { "paths": [
                    { "path": "/", "pathType": "Prefix",
                      "backend": { "service": { "name": svc, "port": { "number": 80 } } } },
                    { "path": format!("/api/v{}", i % 3), "pathType": "Exact",
                      "backend": { "service": { "name": svc, "port": { "name": "http" } } } }
                ] } }] }
            }))
            .unwrap(),
        ));
    }
    set
}

#[test]
fn five_thousand_ingresses_rebuild_quickly() {
    let set = objects();
    let cert = portcullis_control::tls::self_signed(&["test.invalid"]).unwrap();
    let shared = Arc::new(ArcSwap::from_pointee(Snapshot::empty(TlsStore::new(
        cert.clone(),
    ))));
    let mut reloader = Reloader::new(shared.clone(), TranslateOptions::new(cert));
    let mut best = None;
    for _ in 0..3 {
        let start = Instant::now();
        let outcome = reloader.apply_objects(&set);
        let took = start.elapsed();
        assert!(outcome.is_applied());
        best = Some(best.map_or(took, |b: std::time::Duration| b.min(took)));
    }
    let best = best.unwrap();
    assert_eq!(shared.load().routes.len(), INGRESSES * 2);
    println!("scale: {INGRESSES} Ingresses rebuilt in {best:?} (best of 3)");
    if !cfg!(debug_assertions) {
        assert!(
            best.as_millis() <= 500,
            "{INGRESSES} Ingresses took {best:?}"
        );
    }
}
