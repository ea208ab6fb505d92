//! End-to-end against a real kube-apiserver (scripts/e2e-kube.sh): `--watch-namespace`.
//!
//! Two namespaces hold the same set of objects (Service, EndpointSlice, TLS Secret,
//! ConfigMap, Ingress; both Ingresses also claim `shared.example/`, where the other
//! namespace's Ingress would win the conflict). A controller watching one namespace:
//! - serves the watched namespace (its backend, its certificate, `shared.example` too) and
//!   writes that Ingress's status;
//! - does not serve the other namespace (404, the default certificate), writes no status there,
//!   and does not even rebuild when objects there change;
//! - with deploy/'s ServiceAccount is never forbidden; and with a ServiceAccount that may read
//!   ONLY the watched namespace (a Role there, plus IngressClasses and the Lease) it still
//!   becomes ready, serves and writes status: every namespaced reflector is scoped (one
//!   cluster-wide list would be forbidden and the controller would never become ready).
//!
//! On the way it shows that `/readyz` waits for EVERY kind's initial list: while that Role
//! lacks ConfigMaps the controller stays unready and serves nothing; granting them makes it
//! ready.

mod common;

use std::time::Duration;

use common::*;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service, ServiceAccount};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use serde_json::json;

const WATCHED: &str = "e2e-ns-watched";
const OTHER: &str = "e2e-ns-other";
const ADDRESS: &str = "192.0.2.203";
const SCOPED_ACCOUNT: &str = "portcullis-scoped";

struct Apis {
    services: Api<Service>,
    slices: Api<EndpointSlice>,
    secrets: Api<Secret>,
    config_maps: Api<ConfigMap>,
    ingresses: Api<Ingress>,
}

impl Apis {
    fn new(client: &Client, ns: &str) -> Apis {
        Apis {
            services: Api::namespaced(client.clone(), ns),
            slices: Api::namespaced(client.clone(), ns),
            secrets: Api::namespaced(client.clone(), ns),
            config_maps: Api::namespaced(client.clone(), ns),
            ingresses: Api::namespaced(client.clone(), ns),
        }
    }
}

/// The objects of one namespace: `ns.example` and `shared.example` → Service `echo` →
/// `ip:8080`, TLS for `ns.example` from Secret `tls`. Returns the certificate (DER).
async fn populate(apis: &Apis, ns: &str, ip: &str) -> Vec<u8> {
    apply(
        &apis.services,
        json!({
            "apiVersion": "v1", "kind": "Service", "metadata": { "name": "echo", "namespace": ns },
            "spec": { "clusterIP": "None", "ports": [{ "name": "http", "port": 80 }] }
        }),
    )
    .await;
    apply(
        &apis.slices,
        json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": { "name": "echo-1", "namespace": ns,
                          "labels": { "kubernetes.io/service-name": "echo" } },
            "addressType": "IPv4",
            "ports": [{ "name": "http", "port": 8080, "protocol": "TCP" }],
            "endpoints": [{ "addresses": [ip], "conditions": { "ready": true } }]
        }),
    )
    .await;
    let host = format!("{ns}.example");
    let (cert, key, der) = certificate(&host);
    apply(
        &apis.secrets,
        json!({
            "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": { "name": "tls", "namespace": ns },
            "stringData": { "tls.crt": cert, "tls.key": key }
        }),
    )
    .await;
    apply(&apis.config_maps, json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "waf-excl", "namespace": ns },
        "data": { "after.conf": "SecRuleRemoveById 1\n" }
    }))
    .await;
    let rule = |host: &str| {
        json!({ "host": host, "http": { "paths": [{ "path": "/", "pathType": "Prefix",
            "backend": { "service": { "name": "echo", "port": { "number": 80 } } } }] } })
    };
    apply(&apis.ingresses, json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": { "name": "site", "namespace": ns,
                      "annotations": { "portcullis.dev/waf-exclusions-configmap": "waf-excl" } },
        "spec": { "ingressClassName": "portcullis",
                  "tls": [{ "hosts": [host], "secretName": "tls" }],
                  "rules": [rule(&host), rule("shared.example")] }
    }))
    .await;
    der
}

/// `(status, body)` of GET / on `host` over HTTPS (SNI `host`) and the certificate presented.
async fn https(ports: Ports, host: &str) -> Option<(u16, String, Vec<u8>)> {
    let (mut s, leaf) = tls_connect(ports.https, host).await.ok()?;
    let r = request(&mut s, host, "/", true).await.ok()?;
    Some((r.status, r.body, leaf))
}

async fn plain(ports: Ports, host: &str) -> Option<(u16, String)> {
    let r = http_get(ports.http, host, "/").await.ok()?;
    Some((r.status, r.body))
}

/// Touches every namespaced object of `apis` (an annotation on each).
async fn touch_all(apis: &Apis, round: u32) {
    let patch = json!({ "metadata": { "annotations": { "e2e/touch": round.to_string() } } });
    let (pp, p) = (PatchParams::default(), Patch::Merge(&patch));
    apis.services.patch("echo", &pp, &p).await.unwrap();
    apis.slices.patch("echo-1", &pp, &p).await.unwrap();
    apis.secrets.patch("tls", &pp, &p).await.unwrap();
    apis.config_maps.patch("waf-excl", &pp, &p).await.unwrap();
    apis.ingresses.patch("site", &pp, &p).await.unwrap();
}

/// RBAC for a controller that may read only `WATCHED`: a Role there (what deploy/'s
/// ClusterRole grants, limited to one namespace; ConfigMaps only `with_config_maps`), a
/// ClusterRole for IngressClasses only, and deploy/'s Lease Role.
async fn scoped_account(client: &Client, with_config_maps: bool) {
    let subject =
        json!([{ "kind": "ServiceAccount", "name": SCOPED_ACCOUNT, "namespace": "portcullis" }]);
    apply(
        &Api::<ServiceAccount>::namespaced(client.clone(), "portcullis"),
        json!({ "apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": { "name": SCOPED_ACCOUNT, "namespace": "portcullis" } }),
    )
    .await;
    let mut rules = vec![
        json!({ "apiGroups": ["networking.k8s.io"], "resources": ["ingresses"], "verbs": ["get", "list", "watch"] }),
        json!({ "apiGroups": ["networking.k8s.io"], "resources": ["ingresses/status"], "verbs": ["update", "patch"] }),
        json!({ "apiGroups": [""], "resources": ["services", "secrets"], "verbs": ["get", "list", "watch"] }),
        json!({ "apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["get", "list", "watch"] }),
        json!({ "apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"] }),
    ];
    if with_config_maps {
        rules.push(
            json!({ "apiGroups": [""], "resources": ["configmaps"], "verbs": ["list", "watch"] }),
        );
    }
    apply(
        &Api::<Role>::namespaced(client.clone(), WATCHED),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": { "name": SCOPED_ACCOUNT, "namespace": WATCHED },
            "rules": rules
        }),
    )
    .await;
    apply(&Api::<RoleBinding>::namespaced(client.clone(), WATCHED), json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": { "name": SCOPED_ACCOUNT, "namespace": WATCHED },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": SCOPED_ACCOUNT },
        "subjects": subject
    }))
    .await;
    apply(
        &Api::<ClusterRole>::all(client.clone()),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": { "name": SCOPED_ACCOUNT },
            "rules": [{ "apiGroups": ["networking.k8s.io"], "resources": ["ingressclasses"],
                        "verbs": ["get", "list", "watch"] }]
        }),
    )
    .await;
    apply(&Api::<ClusterRoleBinding>::all(client.clone()), json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": { "name": SCOPED_ACCOUNT },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": SCOPED_ACCOUNT },
        "subjects": subject
    }))
    .await;
    apply(
        &Api::<RoleBinding>::namespaced(client.clone(), "portcullis"),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": { "name": SCOPED_ACCOUNT, "namespace": "portcullis" },
            "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                         "name": "portcullis-leader-election" },
            "subjects": subject
        }),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_watched_namespace_is_served_and_given_a_status() {
    let Some(env) = Env::get() else { return };
    let client = env.admin().await;
    namespace(&client, WATCHED).await;
    namespace(&client, OTHER).await;
    let watched = Apis::new(&client, WATCHED);
    let other = Apis::new(&client, OTHER);
    let (watched_ip, other_ip) = (env.ip(41), env.ip(42));
    let _b1 = backend(&env, "watched-echo", &format!("{watched_ip}:8080"));
    let _b2 = backend(&env, "other-echo", &format!("{other_ip}:8080"));
    // The other namespace first: its Ingress is the older one and would win shared.example.
    let other_cert = populate(&other, OTHER, &other_ip).await;
    let watched_cert = populate(&watched, WATCHED, &watched_ip).await;
    let watched_host = format!("{WATCHED}.example");
    let other_host = format!("{OTHER}.example");

    let ports = Ports::nth(4);
    let args = [
        "--watch-namespace",
        WATCHED,
        "--publish-address",
        ADDRESS,
        "--lease-duration",
        "3",
    ];
    let proc = controller(&env, "ns-watch", ports, &args);
    wait_ready(ports, Duration::from_secs(30)).await;

    // The watched namespace: its backend, its certificate, and shared.example.
    let served = until(Duration::from_secs(5), || async {
        matches!(https(ports, &watched_host).await,
                 Some((200, body, _)) if body.contains("hello from watched-echo"))
    })
    .await;
    served.expect("the watched namespace's Ingress is not served");
    let (_, _, leaf) = https(ports, &watched_host).await.unwrap();
    assert_eq!(
        leaf, watched_cert,
        "the watched namespace's Secret is not served"
    );
    let shared = plain(ports, "shared.example")
        .await
        .expect("shared.example");
    assert_eq!(shared.0, 200);
    assert!(
        shared.1.contains("hello from watched-echo"),
        "shared.example must come from the watched namespace (the other one's older Ingress \
         is invisible): {}",
        shared.1
    );

    // The other namespace: not routed (no ssl-redirect either), its Secret not served.
    assert_eq!(plain(ports, &other_host).await.map(|r| r.0), Some(404));
    let (_, other_leaf) = tls_connect(ports.https, &other_host).await.unwrap();
    assert_ne!(
        other_leaf, other_cert,
        "a Secret of an unwatched namespace is served"
    );

    // Status: written in the watched namespace only.
    until(Duration::from_secs(10), || async {
        status_addresses(&watched.ingresses, "site").await == Some(vec![ADDRESS.to_string()])
    })
    .await
    .expect("the watched Ingress got no status");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        status_addresses(&other.ingresses, "site").await,
        Some(vec![]),
        "status written on an Ingress of an unwatched namespace"
    );

    // Changes in the other namespace are not even seen (no rebuild); the same changes in
    // the watched namespace are (the control that the counter moves at all).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = reloads_ok(ports).await;
    touch_all(&other, 1).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after_other = reloads_ok(ports).await;
    assert_eq!(
        after_other, before,
        "changes in an unwatched namespace caused rebuilds"
    );
    touch_all(&watched, 1).await;
    let seen = until(Duration::from_secs(3), || async {
        reloads_ok(ports).await > after_other
    })
    .await;
    seen.expect("changes in the watched namespace caused no rebuild");

    let forbidden = proc.forbidden_lines();
    assert!(
        forbidden.is_empty(),
        "controller was forbidden: {forbidden:#?}"
    );
    drop(proc);

    // The same with an identity that may read only the watched namespace; at first it may
    // not list ConfigMaps, so one kind never finishes its initial list.
    scoped_account(&client, false).await;
    let kubeconfig = kubeconfig_for_service_account(&env, &client, SCOPED_ACCOUNT).await;
    let clear = json!({ "status": { "loadBalancer": { "ingress": null } } });
    watched
        .ingresses
        .patch_status("site", &PatchParams::default(), &Patch::Merge(&clear))
        .await
        .expect("clear the status");
    let ports = Ports::nth(5);
    let scoped = controller_as(&env, &kubeconfig, "ns-scoped", ports, &args);
    let early = until(Duration::from_secs(4), || async {
        matches!(http_get(ports.admin, "localhost", "/readyz").await, Ok(r) if r.status == 200)
    })
    .await;
    assert!(
        early.is_none(),
        "ready although the ConfigMaps were never listed"
    );
    assert_eq!(
        plain(ports, &watched_host).await.map(|r| r.0),
        Some(404),
        "routes served before every kind was listed"
    );
    scoped_account(&client, true).await;
    let granted_at = scoped.log_text().len();
    wait_ready(ports, Duration::from_secs(40)).await;
    let served = until(Duration::from_secs(5), || async {
        matches!(https(ports, &watched_host).await,
                 Some((200, body, _)) if body.contains("hello from watched-echo"))
    })
    .await;
    served.expect("the namespace-scoped controller does not serve the watched namespace");
    assert_eq!(plain(ports, &other_host).await.map(|r| r.0), Some(404));
    until(Duration::from_secs(15), || async {
        status_addresses(&watched.ingresses, "site").await == Some(vec![ADDRESS.to_string()])
    })
    .await
    .expect("the namespace-scoped controller wrote no status");
    let forbidden = forbidden_lines_in(&scoped.log_text()[granted_at..]);
    assert!(
        scoped.log_text()[..granted_at].contains("forbidden"),
        "the missing ConfigMap grant was not even tried"
    );
    assert!(
        forbidden.is_empty(),
        "a namespace-scoped controller was forbidden (a reflector is not scoped?): \
         {forbidden:#?}"
    );
}
