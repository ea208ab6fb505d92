//! The set of Kubernetes objects the translation reads.
//!
//! Objects are the k8s-openapi types, held in `Arc`s so that a Kubernetes watcher can hand over
//! the contents of its reflector stores (which are `Arc<K>`) without deep copies. The file
//! provider also records which manifest file each object came from, so diagnostics can name it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::diagnostics::Source;

/// Namespace of namespaced objects that do not name one (as `kubectl apply` would do).
pub const DEFAULT_NAMESPACE: &str = "default";

/// Identity of an object: kind, namespace (empty for cluster-scoped kinds) and name.
pub type ObjectKey = (&'static str, String, String);

/// Every object the translation needs, as one value. Order does not matter: the translation
/// sorts what it must (Ingresses by age) itself.
#[derive(Debug, Clone, Default)]
pub struct ObjectSet {
    pub ingresses: Vec<Arc<Ingress>>,
    pub ingress_classes: Vec<Arc<IngressClass>>,
    pub services: Vec<Arc<Service>>,
    pub endpoint_slices: Vec<Arc<EndpointSlice>>,
    /// Secrets of type `kubernetes.io/tls` (others are never needed).
    pub secrets: Vec<Arc<Secret>>,
    /// ConfigMaps (only read for WAF exclusion rules, see `waf_annotations`).
    pub config_maps: Vec<Arc<ConfigMap>>,
    /// The manifest file of each object (file provider only; empty for the Kubernetes watcher).
    pub origins: HashMap<ObjectKey, Arc<Path>>,
}

impl ObjectSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Total number of objects.
    pub fn len(&self) -> usize {
        self.ingresses.len()
            + self.ingress_classes.len()
            + self.services.len()
            + self.endpoint_slices.len()
            + self.secrets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The diagnostic source for an object of `kind`, naming its file when known.
    pub fn source(&self, kind: &'static str, meta: &ObjectMeta) -> Source {
        let namespace = if kind == "IngressClass" {
            String::new()
        } else {
            namespace_of(meta).to_string()
        };
        let name = meta.name.clone().unwrap_or_default();
        let file = self
            .origins
            .get(&(kind, namespace.clone(), name.clone()))
            .cloned();
        Source::Object {
            kind,
            namespace,
            name,
            file,
        }
    }
}

/// The namespace of an object, [`DEFAULT_NAMESPACE`] when unset.
pub fn namespace_of(meta: &ObjectMeta) -> &str {
    meta.namespace
        .as_deref()
        .filter(|ns| !ns.is_empty())
        .unwrap_or(DEFAULT_NAMESPACE)
}

/// One annotation's value.
pub fn annotation<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations.as_ref()?.get(key).map(String::as_str)
}

/// One label's value.
pub fn label<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.labels.as_ref()?.get(key).map(String::as_str)
}
