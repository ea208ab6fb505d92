//! End-to-end against a real kube-apiserver (scripts/e2e-kube.sh): two controller processes
//! → exactly one holds the `coordination.k8s.io/v1` Lease and writes Ingress status (the
//! load-balancer address of deploy/'s Service, `--publish-service portcullis/portcullis`);
//! kill it (SIGKILL, no release) → the other takes over and the status stays correct.

mod common;

use std::time::Duration;

use common::*;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Namespace, Service};
use k8s_openapi::api::networking::v1::Ingress;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;

const NS: &str = "e2e-leader";
const ADDRESS: &str = "192.0.2.201";

fn ingress(name: &str) -> serde_json::Value {
    json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": { "name": name, "namespace": NS },
        "spec": { "ingressClassName": "portcullis", "rules": [{ "host": format!("{name}.example"),
            "http": { "paths": [{ "path": "/", "pathType": "Prefix",
                "backend": { "service": { "name": "svc", "port": { "number": 80 } } } }] } }] }
    })
}

async fn holder(leases: &Api<Lease>) -> Option<String> {
    let lease = leases.get_opt("portcullis-leader").await.ok()??;
    lease.spec?.holder_identity.filter(|h| !h.is_empty())
}

async fn has_status(ingresses: &Api<Ingress>, name: &str) -> bool {
    let Ok(i) = ingresses.get(name).await else {
        return false;
    };
    let lb = i
        .status
        .and_then(|s| s.load_balancer)
        .and_then(|l| l.ingress);
    lb.is_some_and(|v| v.len() == 1 && v[0].ip.as_deref() == Some(ADDRESS))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_leader_writes_status_and_a_successor_takes_over() {
    let Some(env) = Env::get() else { return };
    let client = env.admin().await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    apply(
        &namespaces,
        json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": NS } }),
    )
    .await;
    let leases: Api<Lease> = Api::namespaced(client.clone(), "portcullis");
    let ingresses: Api<Ingress> = Api::namespaced(client.clone(), NS);

    // No cloud controller runs: give deploy/'s LoadBalancer Service its address by hand.
    let services: Api<Service> = Api::namespaced(client.clone(), "portcullis");
    let lb = json!({ "status": { "loadBalancer": { "ingress": [{ "ip": ADDRESS }] } } });
    services
        .patch_status("portcullis", &PatchParams::default(), &Patch::Merge(&lb))
        .await
        .expect("set the Service's load-balancer status");
    let args = [
        "--publish-service",
        "portcullis/portcullis",
        "--lease-duration",
        "3",
    ];
    let (pa, pb) = (Ports::nth(1), Ports::nth(2));
    let a = controller(&env, "leader-a", pa, &args);
    let b = controller(&env, "leader-b", pb, &args);
    wait_ready(pa, Duration::from_secs(30)).await;
    wait_ready(pb, Duration::from_secs(30)).await;

    let ids = [format!("_{}", a.pid()), format!("_{}", b.pid())];
    let elected = until(Duration::from_secs(15), || async {
        holder(&leases)
            .await
            .is_some_and(|h| ids.iter().any(|id| h.ends_with(id.as_str())))
    })
    .await;
    println!(
        "e2e: a leader was elected after {:?}",
        elected.expect("no leader elected")
    );
    let first = holder(&leases).await.unwrap();
    let (leader, follower) = if first.ends_with(&ids[0]) {
        (a, b)
    } else {
        (b, a)
    };

    apply(&ingresses, ingress("first")).await;
    until(Duration::from_secs(10), || has_status(&ingresses, "first"))
        .await
        .expect("the leader did not write the status");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(leader.log_text().contains("Ingress status written"));
    assert!(
        !follower.log_text().contains("Ingress status written"),
        "the follower wrote status"
    );

    // Kill the leader without a chance to release the Lease.
    let follower_id = format!("_{}", follower.pid());
    leader.signal("-KILL");
    drop(leader);
    let took = until(Duration::from_secs(20), || async {
        holder(&leases)
            .await
            .is_some_and(|h| h.ends_with(follower_id.as_str()))
    })
    .await;
    println!(
        "e2e: the follower took over {:?} after the leader was killed",
        took.expect("no takeover")
    );

    apply(&ingresses, ingress("second")).await;
    until(Duration::from_secs(10), || has_status(&ingresses, "second"))
        .await
        .expect("the new leader did not write the status");
    assert!(
        has_status(&ingresses, "first").await,
        "status of the first Ingress changed"
    );
    assert!(follower.log_text().contains("Ingress status written"));
    let forbidden = follower.forbidden_lines();
    assert!(
        forbidden.is_empty(),
        "controller was forbidden: {forbidden:#?}"
    );
    delete(&ingresses, "first").await;
    delete(&ingresses, "second").await;
}
