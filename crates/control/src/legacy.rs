//! Upgrade of legacy (`v1beta1`) Ingress documents to the `networking.k8s.io/v1` shape.
//!
//! Old manifests (`extensions/v1beta1`, `networking.k8s.io/v1beta1`, or the shape of the issue's
//! seed example) write backends as `serviceName`/`servicePort` and the default backend as
//! `spec.backend`, and may omit `pathType`. Those API versions were removed in Kubernetes 1.22;
//! we still accept the documents, with a deprecation warning, by rewriting the JSON tree
//! before it is deserialised into the v1 type — the same conversion the API server did:
//!
//! - `backend: {serviceName: s, servicePort: 80}` → `backend: {service: {name: s, port:
//!   {number: 80}}}` (a non-numeric `servicePort` becomes `port: {name: ...}`);
//! - `spec.backend` → `spec.defaultBackend`;
//! - a missing `pathType` → `ImplementationSpecific` (the v1beta1 default);
//! - `apiVersion` → `networking.k8s.io/v1`.

use serde_json::{Map, Value};

/// API versions of Ingress that are upgraded (plus a missing `apiVersion`).
pub const LEGACY_INGRESS_API_VERSIONS: &[&str] =
    &["networking.k8s.io/v1beta1", "extensions/v1beta1"];

/// The current Ingress API version.
pub const INGRESS_API_VERSION: &str = "networking.k8s.io/v1";

/// Rewrites a legacy Ingress document in place into the v1 shape. Returns one deprecation
/// warning per kind of change made (empty when the document already was v1).
pub fn upgrade_ingress(doc: &mut Value) -> Vec<String> {
    let mut warnings = Vec::new();
    let Some(obj) = doc.as_object_mut() else {
        return warnings;
    };
    let api_version = obj.get("apiVersion").and_then(Value::as_str);
    let legacy_version = match api_version {
        None => {
            warnings.push(format!(
                "apiVersion missing: assuming {INGRESS_API_VERSION} (accepting the legacy shape)"
            ));
            true
        }
        Some(v) if LEGACY_INGRESS_API_VERSIONS.contains(&v) => {
            warnings.push(format!(
                "apiVersion {v} is deprecated (removed in Kubernetes 1.22): upgraded to {INGRESS_API_VERSION}"
            ));
            true
        }
        Some(_) => false,
    };
    obj.insert("apiVersion".into(), Value::from(INGRESS_API_VERSION));

    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
        return warnings;
    };
    let mut legacy_backends = 0usize;
    if let Some(backend) = spec.remove("backend") {
        warnings.push("spec.backend is deprecated: use spec.defaultBackend".into());
        let mut backend = backend;
        legacy_backends += upgrade_backend(&mut backend);
        spec.entry("defaultBackend").or_insert(backend);
    }
    if let Some(backend) = spec.get_mut("defaultBackend") {
        legacy_backends += upgrade_backend(backend);
    }
    let mut defaulted_path_types = 0usize;
    for path in paths_mut(spec) {
        if let Some(backend) = path.get_mut("backend") {
            let changed = upgrade_backend(backend);
            legacy_backends += changed;
            if (changed > 0 || legacy_version) && !path.contains_key("pathType") {
                path.insert("pathType".into(), Value::from("ImplementationSpecific"));
                defaulted_path_types += 1;
            }
        }
    }
    if legacy_backends > 0 {
        warnings.push(format!(
            "{legacy_backends} backend(s) use the deprecated serviceName/servicePort shape: \
             use service: {{name, port: {{number|name}}}}"
        ));
    }
    if defaulted_path_types > 0 {
        warnings.push(format!(
            "{defaulted_path_types} path(s) without pathType: defaulted to ImplementationSpecific"
        ));
    }
    warnings
}

/// The `spec.rules[].http.paths[]` objects of an Ingress spec.
fn paths_mut(spec: &mut Map<String, Value>) -> impl Iterator<Item = &mut Map<String, Value>> {
    spec.get_mut("rules")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(|rule| rule.get_mut("http")?.get_mut("paths")?.as_array_mut())
        .flatten()
        .filter_map(Value::as_object_mut)
}

/// Rewrites one backend object; returns 1 if it had the legacy shape.
fn upgrade_backend(backend: &mut Value) -> usize {
    let Some(obj) = backend.as_object_mut() else {
        return 0;
    };
    if !obj.contains_key("serviceName") && !obj.contains_key("servicePort") {
        return 0;
    }
    let name = obj.remove("serviceName").unwrap_or(Value::Null);
    let port = match obj.remove("servicePort") {
        Some(Value::Number(n)) => Some(serde_json::json!({ "number": n })),
        Some(Value::String(s)) => match s.parse::<i64>() {
            Ok(n) => Some(serde_json::json!({ "number": n })),
            Err(_) => Some(serde_json::json!({ "name": s })),
        },
        Some(other) => Some(serde_json::json!({ "number": other })),
        None => None,
    };
    let mut service = Map::new();
    service.insert("name".into(), name);
    if let Some(port) = port {
        service.insert("port".into(), port);
    }
    obj.insert("service".into(), Value::Object(service));
    1
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn seed_shape_is_upgraded() {
        let mut doc = json!({
            "kind": "Ingress",
            "metadata": {"name": "myapp-ingress"},
            "spec": {"rules": [{"host": "myapp.com", "http": {"paths": [
                {"path": "/blog", "backend": {"serviceName": "blogservice", "servicePort": 80}},
                {"path": "/store", "backend": {"serviceName": "storeservice", "servicePort": "http"}}
            ]}}]}
        });
        let warnings = upgrade_ingress(&mut doc);
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        let paths = &doc["spec"]["rules"][0]["http"]["paths"];
        assert_eq!(
            paths[0]["backend"],
            json!({"service": {"name": "blogservice", "port": {"number": 80}}})
        );
        assert_eq!(
            paths[1]["backend"]["service"]["port"],
            json!({"name": "http"})
        );
        assert_eq!(paths[0]["pathType"], "ImplementationSpecific");
        assert_eq!(doc["apiVersion"], INGRESS_API_VERSION);
    }

    #[test]
    fn v1beta1_default_backend_moves() {
        let mut doc = json!({
            "apiVersion": "networking.k8s.io/v1beta1",
            "kind": "Ingress",
            "spec": {"backend": {"serviceName": "fallback", "servicePort": "8080"}}
        });
        upgrade_ingress(&mut doc);
        assert_eq!(
            doc["spec"]["defaultBackend"],
            json!({"service": {"name": "fallback", "port": {"number": 8080}}})
        );
        assert!(doc["spec"].get("backend").is_none());
    }

    #[test]
    fn v1_document_is_untouched() {
        let original = json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "spec": {"rules": [{"http": {"paths": [{"path": "/", "backend":
                {"service": {"name": "a", "port": {"number": 80}}}}]}}]}
        });
        let mut doc = original.clone();
        assert!(upgrade_ingress(&mut doc).is_empty());
        assert_eq!(doc, original);
    }
}
