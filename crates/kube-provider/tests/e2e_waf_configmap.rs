//! End-to-end against a real kube-apiserver (scripts/e2e-kube.sh): WAF exclusion rules from a
//! ConfigMap named by `portcullis.dev/waf-exclusions-configmap`, in Kubernetes mode.
//!
//! The controller runs with the WAF on (block, our rule set in `rules/`). An SQL-injection
//! looking request is answered 403 until the ConfigMap the Ingress names exists; once it
//! does, its runtime exclusion (SQLi rules off under `/api/`) lets that request through to
//! the backend, only under `/api/`; editing the ConfigMap moves the exclusion; deleting it
//! restores the block. Every change reaches the proxy within seconds, without restart. A
//! missing ConfigMap is reported as an Event on the Ingress — once, however many rebuilds see
//! it (Events are rate-limited) — and changes of ConfigMaps that no Ingress names cause no
//! rebuild.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::networking::v1::Ingress;
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams};
use serde_json::json;

const NS: &str = "e2e-waf";
const HOST: &str = "shop.example";
const EXCLUSIONS: &str = "sqli-exclusions";
/// An SQL injection under `/api/` and under `/web/`.
const API_ATTACK: &str = "/api/products?id=1%27%20UNION%20SELECT%20password%20FROM%20users--";
const WEB_ATTACK: &str = "/web/products?id=1%27%20UNION%20SELECT%20password%20FROM%20users--";
const APPLIED_WITHIN: Duration = Duration::from_secs(3);

/// The exclusions ConfigMap: the SQLi rules are removed for requests under `prefix`.
fn exclusions(prefix: &str) -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": { "name": EXCLUSIONS, "namespace": NS },
        "data": { "before.conf": format!(
            "SecRule REQUEST_FILENAME \"@beginsWith {prefix}\" \
             \"id:5101,phase:1,pass,nolog,ctl:ruleRemoveByTag=attack-sqli\"\n") }
    })
}

/// The status of GET `path` on shop.example, and whether the backend answered.
async fn get(ports: Ports, path: &str) -> Option<(u16, bool)> {
    let r = http_get(ports.http, HOST, path).await.ok()?;
    Some((r.status, r.body.contains("hello from waf-app")))
}

async fn passes(ports: Ports, path: &str) -> bool {
    get(ports, path).await == Some((200, true))
}

async fn blocked(ports: Ports, path: &str) -> bool {
    matches!(get(ports, path).await, Some((403, false)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exclusions_from_a_configmap_follow_the_configmap() {
    let Some(env) = Env::get() else { return };
    let client = env.admin().await;
    namespace(&client, NS).await;
    let services: Api<Service> = Api::namespaced(client.clone(), NS);
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), NS);
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
    let ingresses: Api<Ingress> = Api::namespaced(client.clone(), NS);
    let ip = env.ip(43);
    let _app = backend(&env, "waf-app", &format!("{ip}:8080"));
    apply(
        &services,
        json!({
            "apiVersion": "v1", "kind": "Service", "metadata": { "name": "app", "namespace": NS },
            "spec": { "clusterIP": "None", "ports": [{ "name": "http", "port": 80 }] }
        }),
    )
    .await;
    apply(
        &slices,
        json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": { "name": "app-1", "namespace": NS,
                          "labels": { "kubernetes.io/service-name": "app" } },
            "addressType": "IPv4",
            "ports": [{ "name": "http", "port": 8080, "protocol": "TCP" }],
            "endpoints": [{ "addresses": [ip], "conditions": { "ready": true } }]
        }),
    )
    .await;
    delete(&config_maps, EXCLUSIONS).await; // left over from an earlier run
    apply(&ingresses, json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": { "name": "shop", "namespace": NS,
                      "annotations": { "portcullis.dev/waf-exclusions-configmap": EXCLUSIONS } },
        "spec": { "ingressClassName": "portcullis", "rules": [{ "host": HOST, "http": { "paths": [
            { "path": "/", "pathType": "Prefix",
              "backend": { "service": { "name": "app", "port": { "number": 80 } } } }
        ] } }] }
    }))
    .await;

    // WAF on, blocking, with our rule set.
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules");
    let config =
        std::env::temp_dir().join(format!("portcullis-e2e-waf-{}.yaml", std::process::id()));
    std::fs::write(
        &config,
        format!(
            "logging: {{ level: info, format: json }}\nwaf:\n  mode: block\n  rules: builtin\n  builtin_dir: {}\n",
            rules.display()
        ),
    )
    .unwrap();
    let ports = Ports::nth(7);
    let config_arg = config.display().to_string();
    let proc = controller(
        &env,
        "waf",
        ports,
        &["--config", &config_arg, "--lease-duration", "3"],
    );
    wait_ready(ports, Duration::from_secs(30)).await;

    // 0. No ConfigMap yet: the attack is blocked everywhere, a benign request passes, and the
    //    missing ConfigMap is reported on the Ingress.
    until(Duration::from_secs(5), || {
        passes(ports, "/api/products?id=42")
    })
    .await
    .expect("shop.example not served");
    assert!(blocked(ports, API_ATTACK).await);
    let events: Api<Event> = Api::namespaced(client.clone(), NS);
    let missing_events = || async {
        let list = events.list(&ListParams::default()).await.unwrap();
        list.items
            .into_iter()
            .filter(|e| {
                e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("shop")
                    && e.note.as_deref().is_some_and(|n| n.contains(EXCLUSIONS))
            })
            .map(|e| e.series.map_or(1, |s| s.count))
            .collect::<Vec<_>>()
    };
    until(Duration::from_secs(15), || async {
        !missing_events().await.is_empty()
    })
    .await
    .expect("no Event about the missing exclusions ConfigMap");

    // 1. The ConfigMap appears: the attack passes under /api/ only.
    apply(&config_maps, exclusions("/api/")).await;
    let took = until(APPLIED_WITHIN, || passes(ports, API_ATTACK)).await;
    let took = took.expect("the exclusion from the new ConfigMap was not applied");
    println!("e2e: exclusions ConfigMap created → applied in {took:?}");
    assert!(
        blocked(ports, WEB_ATTACK).await,
        "the exclusion must apply under /api/ only"
    );

    // 2. The ConfigMap changes: the exclusion moves to /web/.
    apply(&config_maps, exclusions("/web/")).await;
    let took = until(APPLIED_WITHIN, || async {
        blocked(ports, API_ATTACK).await && passes(ports, WEB_ATTACK).await
    })
    .await;
    let took = took.expect("the changed ConfigMap was not applied");
    println!("e2e: exclusions ConfigMap changed → applied in {took:?}");

    // 3. Changes of ConfigMaps no Ingress names cause no rebuild; of the named one, they do.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = reloads_ok(ports).await;
    for i in 0..20 {
        apply(
            &config_maps,
            json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": { "name": "unrelated", "namespace": NS },
                "data": { "n": i.to_string() }
            }),
        )
        .await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after = reloads_ok(ports).await;
    assert_eq!(
        after, before,
        "changes of an unnamed ConfigMap caused rebuilds"
    );
    let touch = json!({ "metadata": { "annotations": { "e2e/touch": "1" } } });
    config_maps
        .patch(EXCLUSIONS, &PatchParams::default(), &Patch::Merge(&touch))
        .await
        .unwrap();
    until(APPLIED_WITHIN, || async { reloads_ok(ports).await > after })
        .await
        .expect("a change of the named ConfigMap caused no rebuild");

    // 4. The ConfigMap is deleted: blocked again.
    delete(&config_maps, EXCLUSIONS).await;
    let took = until(APPLIED_WITHIN, || blocked(ports, WEB_ATTACK)).await;
    let took = took.expect("the exclusion outlived its ConfigMap");
    println!("e2e: exclusions ConfigMap deleted → block restored in {took:?}");

    // 5. The ConfigMap is missing again, through several rebuilds: still ONE Event, not
    //    repeated (the same Ingress and message are published at most every 10 minutes).
    let before = reloads_ok(ports).await;
    for i in 0..3 {
        let touch = json!({ "metadata": { "annotations": { "e2e/touch": i.to_string() } } });
        ingresses
            .patch("shop", &PatchParams::default(), &Patch::Merge(&touch))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rebuilds = reloads_ok(ports).await - before;
    assert!(rebuilds >= 3, "only {rebuilds} rebuilds");
    assert_eq!(
        missing_events().await,
        vec![1],
        "the missing-ConfigMap Event was repeated over {rebuilds} rebuilds"
    );

    let forbidden = proc.forbidden_lines();
    assert!(
        forbidden.is_empty(),
        "controller was forbidden: {forbidden:#?}"
    );
    delete(&ingresses, "shop").await;
    delete(&config_maps, "unrelated").await;
    let _ = std::fs::remove_file(&config);
}
