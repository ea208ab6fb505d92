//! Ingress status: the leader writes `.status.loadBalancer.ingress` of the Ingresses it serves.
//!
//! The addresses come from `--publish-service NAMESPACE/NAME` (that Service's load-balancer
//! status, else its `externalIPs`) or from `--publish-address IP|HOSTNAME,...`. An Ingress we
//! serve gets exactly those addresses; an Ingress we no longer serve (class changed) whose
//! status still shows our addresses is cleared. Other controllers' Ingresses are never touched.
//! Only differences are written (a JSON merge patch of the `status` subresource).

use std::net::IpAddr;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::{Ingress, IngressLoadBalancerIngress};
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use portcullis_control::class::ClassIndex;
use portcullis_control::objects::namespace_of;
use portcullis_control::{ObjectSet, TranslateOptions};
use serde_json::json;

use crate::error::Error;

/// Where the published addresses come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Publish {
    /// A Service's `status.loadBalancer.ingress` (else `spec.externalIPs`).
    Service { namespace: String, name: String },
    /// Fixed addresses: IPs or DNS names.
    Addresses(Vec<String>),
}

impl Publish {
    /// Parses `NAMESPACE/NAME`.
    pub fn service(text: &str) -> Result<Publish, Error> {
        match text.split_once('/') {
            Some((ns, name)) if valid_name(ns) && valid_name(name) => Ok(Publish::Service {
                namespace: ns.into(),
                name: name.into(),
            }),
            _ => Err(Error::PublishService(text.into())),
        }
    }

    /// Parses a comma-separated list of IP addresses and DNS names.
    pub fn addresses(text: &str) -> Result<Publish, Error> {
        let mut out = Vec::new();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if item.parse::<IpAddr>().is_err() && !valid_dns_name(item) {
                return Err(Error::PublishAddress(item.into()));
            }
            out.push(item.to_string());
        }
        if out.is_empty() {
            return Err(Error::PublishAddress(text.into()));
        }
        Ok(Publish::Addresses(out))
    }

    /// The load-balancer entries to publish now; None when they cannot be read (keep the
    /// status as it is rather than clearing it on a transient error).
    pub async fn resolve(&self, client: &Client) -> Option<Vec<IngressLoadBalancerIngress>> {
        match self {
            Publish::Addresses(list) => Some(list.iter().map(|a| entry(a)).collect()),
            Publish::Service { namespace, name } => {
                let api: Api<Service> = Api::namespaced(client.clone(), namespace);
                match api.get_opt(name).await {
                    Ok(Some(svc)) => Some(service_entries(&svc)),
                    Ok(None) => {
                        tracing::warn!(%namespace, %name, "publish Service not found");
                        Some(Vec::new())
                    }
                    Err(e) => {
                        tracing::warn!(%namespace, %name, error = %e, "cannot read the publish Service");
                        None
                    }
                }
            }
        }
    }
}

fn entry(address: &str) -> IngressLoadBalancerIngress {
    if address.parse::<IpAddr>().is_ok() {
        IngressLoadBalancerIngress {
            ip: Some(address.into()),
            ..Default::default()
        }
    } else {
        IngressLoadBalancerIngress {
            hostname: Some(address.into()),
            ..Default::default()
        }
    }
}

/// A Service's load-balancer entries, else its external IPs.
pub fn service_entries(svc: &Service) -> Vec<IngressLoadBalancerIngress> {
    let lb: Vec<_> = svc
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|i| i.ip.as_deref().or(i.hostname.as_deref()))
        .map(entry)
        .collect();
    if !lb.is_empty() {
        return lb;
    }
    svc.spec
        .as_ref()
        .and_then(|s| s.external_ips.as_ref())
        .into_iter()
        .flatten()
        .map(|ip| entry(ip))
        .collect()
}

/// One status change to write: `None` clears.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusUpdate {
    pub namespace: String,
    pub name: String,
    pub addresses: Vec<IngressLoadBalancerIngress>,
}

/// The status writes needed to make the cluster match `published` (pure; tested below).
pub fn plan(
    objects: &ObjectSet,
    opts: &TranslateOptions,
    published: &[IngressLoadBalancerIngress],
) -> Vec<StatusUpdate> {
    let classes = ClassIndex::new(&objects.ingress_classes, &opts.controller);
    let mut updates = Vec::new();
    for ingress in &objects.ingresses {
        let current = current_entries(ingress);
        let served = classes
            .select(ingress, opts.watch_ingress_without_class)
            .served;
        let desired = if served {
            published.to_vec()
        } else if !current.is_empty() && current == published {
            Vec::new() // ours from before: clear
        } else {
            continue;
        };
        if current != desired {
            updates.push(StatusUpdate {
                namespace: namespace_of(&ingress.metadata).to_string(),
                name: ingress.metadata.name.clone().unwrap_or_default(),
                addresses: desired,
            });
        }
    }
    updates
}

fn current_entries(ingress: &Ingress) -> Vec<IngressLoadBalancerIngress> {
    ingress
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.clone())
        .unwrap_or_default()
}

/// Writes one update (merge patch of the status subresource).
pub async fn write(client: &Client, update: &StatusUpdate) -> Result<(), kube::Error> {
    let api: Api<Ingress> = Api::namespaced(client.clone(), &update.namespace);
    let ingress = if update.addresses.is_empty() {
        serde_json::Value::Null
    } else {
        json!(update.addresses)
    };
    let patch = json!({ "status": { "loadBalancer": { "ingress": ingress } } });
    api.patch_status(&update.name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(|_| ())
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
}

fn valid_dns_name(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}
