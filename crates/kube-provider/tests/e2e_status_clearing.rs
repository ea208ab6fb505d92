//! End-to-end against a real kube-apiserver (scripts/e2e-kube.sh): the leader clears the
//! `.status.loadBalancer.ingress` it wrote once an Ingress stops being ours, within seconds
//! (well before the 30 s status resync):
//! - `ingressClassName` changed to a foreign class;
//! - the IngressClass it names deleted.
//!
//! Meanwhile an Ingress of a foreign class whose status another controller wrote is never touched,
//! and a foreign Ingress that comes back to our class gets our status again.

mod common;

use std::time::Duration;

use common::*;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;

const NS: &str = "e2e-status";
const ADDRESS: &str = "192.0.2.204";
/// Written by "another controller" (the test) on the foreign Ingress.
const FOREIGN_ADDRESS: &str = "198.51.100.7";
const FOREIGN_CLASS: &str = "e2e-foreign";
/// A second class of ours, deleted during the test.
const OUR_EXTRA_CLASS: &str = "e2e-portcullis-extra";
/// "within a few seconds": far below the leader's 30 s periodic resync.
const CLEARED_WITHIN: Duration = Duration::from_secs(5);

fn ingress(name: &str, class: &str) -> serde_json::Value {
    json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": { "name": name, "namespace": NS },
        "spec": { "ingressClassName": class, "rules": [{ "host": format!("{name}.example"),
            "http": { "paths": [{ "path": "/", "pathType": "Prefix",
                "backend": { "service": { "name": "svc", "port": { "number": 80 } } } }] } }] }
    })
}

fn class(name: &str, controller: &str) -> serde_json::Value {
    json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
        "metadata": { "name": name }, "spec": { "controller": controller }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_of_ingresses_no_longer_ours_is_cleared() {
    let Some(env) = Env::get() else { return };
    let client = env.admin().await;
    namespace(&client, NS).await;
    let classes: Api<IngressClass> = Api::all(client.clone());
    let ingresses: Api<Ingress> = Api::namespaced(client.clone(), NS);
    apply(
        &classes,
        class(FOREIGN_CLASS, "example.com/other-controller"),
    )
    .await;
    apply(
        &classes,
        class(OUR_EXTRA_CLASS, "portcullis.dev/ingress-controller"),
    )
    .await;
    // A foreign Ingress with a status written by its own controller.
    apply(&ingresses, ingress("foreign", FOREIGN_CLASS)).await;
    let foreign_lb =
        json!({ "status": { "loadBalancer": { "ingress": [{ "ip": FOREIGN_ADDRESS }] } } });
    ingresses
        .patch_status(
            "foreign",
            &PatchParams::default(),
            &Patch::Merge(&foreign_lb),
        )
        .await
        .expect("status of the foreign Ingress");
    apply(&ingresses, ingress("moved", "portcullis")).await;
    apply(&ingresses, ingress("orphaned", OUR_EXTRA_CLASS)).await;

    let ports = Ports::nth(6);
    let proc = controller(
        &env,
        "status",
        ports,
        &["--publish-address", ADDRESS, "--lease-duration", "3"],
    );
    wait_ready(ports, Duration::from_secs(30)).await;
    let ours = || Some(vec![ADDRESS.to_string()]);
    for name in ["moved", "orphaned"] {
        until(Duration::from_secs(15), || async {
            status_addresses(&ingresses, name).await == ours()
        })
        .await
        .unwrap_or_else(|| panic!("the leader wrote no status on {name}"));
    }

    // 1. ingressClassName → a foreign class: status cleared, route gone.
    apply(&ingresses, ingress("moved", FOREIGN_CLASS)).await;
    let took = until(CLEARED_WITHIN, || async {
        status_addresses(&ingresses, "moved").await == Some(vec![])
    })
    .await;
    let took = took.expect("status not cleared after the class changed to a foreign one");
    println!("e2e: class changed to a foreign one → status cleared in {took:?}");
    assert_eq!(
        http_get(ports.http, "moved.example", "/")
            .await
            .unwrap()
            .status,
        404,
        "an Ingress of a foreign class is still routed"
    );

    // 2. The IngressClass it names deleted: status cleared.
    delete(&classes, OUR_EXTRA_CLASS).await;
    let took = until(CLEARED_WITHIN, || async {
        status_addresses(&ingresses, "orphaned").await == Some(vec![])
    })
    .await;
    let took = took.expect("status not cleared after its IngressClass was deleted");
    println!("e2e: IngressClass deleted → status cleared in {took:?}");

    // 3. Another controller's status is never touched.
    assert_eq!(
        status_addresses(&ingresses, "foreign").await,
        Some(vec![FOREIGN_ADDRESS.to_string()]),
        "the status of a foreign Ingress was changed"
    );

    // 4. Back to our class: our status again.
    apply(&ingresses, ingress("moved", "portcullis")).await;
    until(CLEARED_WITHIN, || async {
        status_addresses(&ingresses, "moved").await == ours()
    })
    .await
    .expect("status not written again after the Ingress came back to our class");
    assert_eq!(
        status_addresses(&ingresses, "orphaned").await,
        Some(vec![]),
        "status came back on an Ingress whose class is gone"
    );

    let forbidden = proc.forbidden_lines();
    assert!(
        forbidden.is_empty(),
        "controller was forbidden: {forbidden:#?}"
    );
    for name in ["foreign", "moved", "orphaned"] {
        delete(&ingresses, name).await;
    }
    delete(&classes, FOREIGN_CLASS).await;
}
