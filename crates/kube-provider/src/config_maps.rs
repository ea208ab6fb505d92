//! ConfigMaps: only those an Ingress names in `waf-exclusions-configmap` matter.
//!
//! The translation reads a ConfigMap only as the WAF exclusion rules of the Ingresses that
//! name it (annotation `<prefix>waf-exclusions-configmap`, a ConfigMap in the Ingress's own
//! namespace; see `portcullis_control::waf_annotations`). A cluster holds many other
//! ConfigMaps (`kube-root-ca.crt` in every namespace, other controllers' state) and some
//! change often, so:
//!
//! - a change of a ConfigMap no Ingress names does not mark the state dirty (no rebuild);
//! - the rebuild's [`ObjectSet`](portcullis_control::ObjectSet) holds only the named ones;
//! - the store keeps no `managedFields` and no `binaryData` (never read).
//!
//! Both orders of arrival work because every rebuild reads the stores whole: a ConfigMap
//! created before its Ingress is picked up by the Ingress's own event, one created after it
//! marks the state dirty itself.

use std::collections::HashSet;
use std::sync::Arc;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::networking::v1::Ingress;
use kube::ResourceExt;
use kube::runtime::reflector::Store;
use portcullis_control::objects::{annotation, namespace_of};

/// The annotation (after the prefix) that names an exclusions ConfigMap.
pub const EXCLUSIONS_ANNOTATION: &str = "waf-exclusions-configmap";

/// The full annotation key for an annotation prefix (e.g. `portcullis.dev/`).
pub fn annotation_key(prefix: &str) -> String {
    format!("{prefix}{EXCLUSIONS_ANNOTATION}")
}

/// (namespace, name) of every ConfigMap some Ingress names.
pub fn referenced(ingresses: &[Arc<Ingress>], key: &str) -> HashSet<(String, String)> {
    ingresses
        .iter()
        .filter_map(|i| {
            let name = annotation(&i.metadata, key)?.trim();
            Some((namespace_of(&i.metadata).to_string(), name.to_string()))
        })
        .collect()
}

/// Whether some Ingress in the store names `cm`.
pub fn is_referenced(ingresses: &Store<Ingress>, key: &str, cm: &ConfigMap) -> bool {
    let namespace = namespace_of(&cm.metadata);
    let Some(name) = cm.metadata.name.as_deref() else {
        return false;
    };
    ingresses
        .find(|i| {
            namespace_of(&i.metadata) == namespace
                && annotation(&i.metadata, key).map(str::trim) == Some(name)
        })
        .is_some()
}

/// Drops what the translation never reads before the object enters the store.
pub fn trim(cm: &mut ConfigMap) {
    cm.managed_fields_mut().clear();
    cm.binary_data = None;
}

/// The ConfigMaps in the store that some Ingress names.
pub fn selected(
    store: &Store<ConfigMap>,
    wanted: &HashSet<(String, String)>,
) -> Vec<Arc<ConfigMap>> {
    if wanted.is_empty() {
        return Vec::new();
    }
    store.state_filter(|cm| wanted.contains(&key_of(cm)))
}

fn key_of(cm: &ConfigMap) -> (String, String) {
    (
        namespace_of(&cm.metadata).to_string(),
        cm.metadata.name.clone().unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ingress(ns: &str, cm: Option<&str>) -> Arc<Ingress> {
        let mut meta = json!({ "name": "i", "namespace": ns });
        if let Some(cm) = cm {
            meta["annotations"] = json!({ "portcullis.dev/waf-exclusions-configmap": cm });
        }
        Arc::new(serde_json::from_value(json!({ "metadata": meta })).unwrap())
    }

    fn config_map(ns: &str, name: &str) -> Arc<ConfigMap> {
        Arc::new(
            serde_json::from_value(json!({ "metadata": { "name": name, "namespace": ns } }))
                .unwrap(),
        )
    }

    #[test]
    fn only_named_config_maps_of_the_same_namespace_are_selected() {
        let key = annotation_key(portcullis_control::ANNOTATION_PREFIX);
        let ingresses = [
            ingress("a", Some("excl")),
            ingress("b", Some(" other ")),
            ingress("c", None),
        ];
        let wanted = referenced(&ingresses, &key);
        let all = [
            config_map("a", "excl"),
            config_map("b", "excl"),
            config_map("b", "other"),
            config_map("c", "excl"),
        ];
        let mut names: Vec<_> = all
            .iter()
            .filter(|c| wanted.contains(&key_of(c)))
            .map(|c| format!("{}/{}", namespace_of(&c.metadata), c.name_any()))
            .collect();
        names.sort();
        assert_eq!(names, ["a/excl", "b/other"]);
    }

    #[test]
    fn only_a_named_config_map_is_a_change() {
        let key = annotation_key(portcullis_control::ANNOTATION_PREFIX);
        let (store, mut writer) = kube::runtime::reflector::store();
        let event = |i: Arc<Ingress>| kube::runtime::watcher::Event::Apply(Ingress::clone(&i));
        writer.apply_watcher_event(&event(ingress("a", Some("excl"))));
        assert!(is_referenced(&store, &key, &config_map("a", "excl")));
        assert!(!is_referenced(&store, &key, &config_map("a", "other")));
        assert!(!is_referenced(&store, &key, &config_map("b", "excl")));
    }
}
