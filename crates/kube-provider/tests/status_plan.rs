//! Table-driven tests of the status planner (`tests/data/status_plan.yaml`) and of the
//! publish flags' parsing.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::networking::v1::{Ingress, IngressClass, IngressLoadBalancerIngress};
use portcullis_control::{ObjectSet, TranslateOptions};
use portcullis_kube_provider::Publish;
use portcullis_kube_provider::status::plan;
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
struct Case {
    name: String,
    classes: BTreeMap<String, String>,
    ingresses: Vec<IngressRow>,
    published: Vec<String>,
    expect: BTreeMap<String, Vec<String>>,
}

#[derive(Deserialize)]
struct IngressRow {
    name: String,
    class: Option<String>,
    status: Vec<String>,
}

fn entries(list: &[String]) -> Vec<IngressLoadBalancerIngress> {
    let Publish::Addresses(list) = Publish::addresses(&list.join(",")).unwrap() else {
        unreachable!()
    };
    list.iter()
        .map(|a| {
            if a.parse::<std::net::IpAddr>().is_ok() {
                IngressLoadBalancerIngress {
                    ip: Some(a.clone()),
                    ..Default::default()
                }
            } else {
                IngressLoadBalancerIngress {
                    hostname: Some(a.clone()),
                    ..Default::default()
                }
            }
        })
        .collect()
}

fn objects(case: &Case) -> ObjectSet {
    let mut set = ObjectSet::new();
    for (name, controller) in &case.classes {
        let class: IngressClass = serde_json::from_value(json!({
            "metadata": { "name": name }, "spec": { "controller": controller }
        }))
        .unwrap();
        set.ingress_classes.push(Arc::new(class));
    }
    for row in &case.ingresses {
        let lb: Vec<_> = entries_or_empty(&row.status);
        let ingress: Ingress = serde_json::from_value(json!({
            "metadata": { "name": row.name, "namespace": "default" },
            "spec": { "ingressClassName": row.class },
            "status": { "loadBalancer": { "ingress": lb } }
        }))
        .unwrap();
        set.ingresses.push(Arc::new(ingress));
    }
    set
}

fn entries_or_empty(list: &[String]) -> Vec<IngressLoadBalancerIngress> {
    if list.is_empty() {
        Vec::new()
    } else {
        entries(list)
    }
}

#[test]
fn status_plan_table() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/status_plan.yaml");
    let cases: Vec<Case> = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(cases.len() >= 7);
    let cert = portcullis_control::tls::self_signed(&["test.invalid"]).unwrap();
    let opts = TranslateOptions::new(cert);
    for case in &cases {
        let got: BTreeMap<String, Vec<IngressLoadBalancerIngress>> =
            plan(&objects(case), &opts, &entries(&case.published))
                .into_iter()
                .map(|u| (u.name, u.addresses))
                .collect();
        let want: BTreeMap<String, Vec<IngressLoadBalancerIngress>> = case
            .expect
            .iter()
            .map(|(k, v)| (k.clone(), entries_or_empty(v)))
            .collect();
        assert_eq!(got, want, "case: {}", case.name);
    }
}

#[test]
fn publish_flags_are_validated() {
    assert_eq!(
        Publish::service("portcullis/portcullis").unwrap(),
        Publish::Service {
            namespace: "portcullis".into(),
            name: "portcullis".into()
        }
    );
    for bad in ["portcullis", "/x", "x/", "Ns/x", "a/b/c"] {
        assert!(Publish::service(bad).is_err(), "{bad}");
    }
    assert_eq!(
        Publish::addresses("192.0.2.1, lb.example.com").unwrap(),
        Publish::Addresses(vec!["192.0.2.1".into(), "lb.example.com".into()])
    );
    for bad in ["", ",", "not an address", "-bad.example", "a..b"] {
        assert!(Publish::addresses(bad).is_err(), "{bad:?}");
    }
}
