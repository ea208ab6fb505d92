//! Parsing manifest files: YAML streams and JSON → k8s-openapi objects in an [`ObjectSet`].
//!
//! Each document is parsed into a JSON tree first, so that `kind: List` can be unpacked and
//! legacy Ingresses upgraded ([`crate::legacy`]) before the tree is deserialised into its
//! k8s-openapi type by `apiVersion`/`kind`. Every problem is a [`Diagnostic`] naming the file,
//! the document (0-based index, shown 1-based) and the line where known: syntax errors carry
//! the parser's line, other errors the line where their document starts. Objects without a
//! namespace get `default`; a second object with the same kind/namespace/name is ignored with
//! a warning (the first file in name order wins).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use k8s_openapi::Metadata;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::diagnostics::{Diagnostic, Source};
use crate::objects::{ObjectKey, ObjectSet, namespace_of};
use crate::{SECRET_TYPE_TLS, legacy};

/// Parses one file's text (YAML stream or JSON) and adds its objects to `objects`.
pub fn parse_into(
    path: &Path,
    text: &str,
    objects: &mut ObjectSet,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let origin: Arc<Path> = Arc::from(path);
    let is_json = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if is_json {
        match serde_json::from_str::<Value>(text) {
            Ok(doc) => add_document(&origin, None, Some(1), doc, objects, diagnostics),
            Err(e) => diagnostics.push(Diagnostic::error(
                Source::File {
                    path: path.to_path_buf(),
                    document: None,
                    line: Some(e.line()),
                },
                format!("invalid JSON: {e}"),
            )),
        }
        return;
    }
    use serde::Deserialize;
    let starts = document_start_lines(text);
    for (index, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        match Value::deserialize(document) {
            Ok(doc) => {
                let line = starts.get(index).copied();
                add_document(&origin, Some(index), line, doc, objects, diagnostics);
            }
            Err(e) => {
                diagnostics.push(Diagnostic::error(
                    Source::File {
                        path: path.to_path_buf(),
                        document: Some(index),
                        line: e.location().map(|l| l.line()),
                    },
                    format!("invalid YAML: {e}"),
                ));
                // The stream cannot be resynchronised after a syntax error.
                return;
            }
        }
    }
}

/// 1-based line where each YAML document starts (a `---` marker, or the first content line).
fn document_start_lines(text: &str) -> Vec<usize> {
    let mut starts = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.starts_with("---") || (starts.is_empty() && !is_blank_or_comment(line)) {
            starts.push(i + 1);
        }
    }
    starts
}

fn is_blank_or_comment(line: &str) -> bool {
    let t = line.trim_start();
    t.is_empty() || t.starts_with('#') || t.starts_with("%")
}

/// Adds one parsed document (an object, a `List`, or an empty document).
fn add_document(
    origin: &Arc<Path>,
    document: Option<usize>,
    line: Option<usize>,
    doc: Value,
    objects: &mut ObjectSet,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let source = || Source::File {
        path: origin.to_path_buf(),
        document,
        line,
    };
    let mut doc = match doc {
        Value::Null => return,
        Value::Object(map) => map,
        other => {
            let what = match other {
                Value::Array(_) => "a list",
                Value::String(_) => "a string",
                _ => "a scalar",
            };
            diagnostics.push(Diagnostic::error(
                source(),
                format!("expected a Kubernetes object, found {what}"),
            ));
            return;
        }
    };
    if doc.get("kind").and_then(Value::as_str) == Some("List") {
        let items = match doc.remove("items") {
            Some(Value::Array(items)) => items,
            None | Some(Value::Null) => Vec::new(),
            Some(_) => {
                diagnostics.push(Diagnostic::error(source(), "List.items is not a list"));
                return;
            }
        };
        for (i, item) in items.into_iter().enumerate() {
            let mut item_diags = Vec::new();
            add_document(origin, document, line, item, objects, &mut item_diags);
            for mut d in item_diags {
                if matches!(d.source, Source::File { .. }) {
                    d.reason = format!("List item {i}: {}", d.reason);
                }
                diagnostics.push(d);
            }
        }
        return;
    }
    add_object(origin, Value::Object(doc), objects, diagnostics, source());
}

fn add_object(
    origin: &Arc<Path>,
    mut doc: Value,
    objects: &mut ObjectSet,
    diagnostics: &mut Vec<Diagnostic>,
    source: Source,
) {
    let api_version = doc
        .get("apiVersion")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let kind = doc
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let origins = &mut objects.origins;
    match (kind.as_str(), api_version.as_deref()) {
        ("Ingress", v) if is_ingress_version(v) => {
            for warning in legacy::upgrade_ingress(&mut doc) {
                diagnostics.push(Diagnostic::warning(source.clone(), warning));
            }
            if let Some(obj) = decode(doc, "Ingress", &source, diagnostics) {
                let list = &mut objects.ingresses;
                insert(origin, "Ingress", obj, list, origins, diagnostics, &source);
            }
        }
        ("IngressClass", Some("networking.k8s.io/v1")) => {
            if let Some(obj) = decode(doc, "IngressClass", &source, diagnostics) {
                let list = &mut objects.ingress_classes;
                insert(
                    origin,
                    "IngressClass",
                    obj,
                    list,
                    origins,
                    diagnostics,
                    &source,
                );
            }
        }
        ("Service", Some("v1")) => {
            if let Some(obj) = decode(doc, "Service", &source, diagnostics) {
                let list = &mut objects.services;
                insert(origin, "Service", obj, list, origins, diagnostics, &source);
            }
        }
        ("EndpointSlice", Some("discovery.k8s.io/v1")) => {
            if let Some(obj) = decode(doc, "EndpointSlice", &source, diagnostics) {
                let list = &mut objects.endpoint_slices;
                insert(
                    origin,
                    "EndpointSlice",
                    obj,
                    list,
                    origins,
                    diagnostics,
                    &source,
                );
            }
        }
        ("Secret", Some("v1")) => {
            let Some(secret) = decode::<Secret>(doc, "Secret", &source, diagnostics) else {
                return;
            };
            if secret.type_.as_deref() != Some(SECRET_TYPE_TLS) {
                let name = secret.metadata.name.as_deref().unwrap_or("");
                let ty = secret.type_.as_deref().unwrap_or("Opaque");
                diagnostics.push(Diagnostic::info(
                    source,
                    format!("Secret {name} has type {ty:?}, not {SECRET_TYPE_TLS}: ignored"),
                ));
                return;
            }
            let list = &mut objects.secrets;
            insert(
                origin,
                "Secret",
                secret,
                list,
                origins,
                diagnostics,
                &source,
            );
        }
        ("ConfigMap", Some("v1")) => {
            if let Some(obj) = decode(doc, "ConfigMap", &source, diagnostics) {
                let list = &mut objects.config_maps;
                insert(
                    origin,
                    "ConfigMap",
                    obj,
                    list,
                    origins,
                    diagnostics,
                    &source,
                );
            }
        }
        ("", _) => diagnostics.push(Diagnostic::error(source, "object has no kind")),
        (k, v) => diagnostics.push(Diagnostic::warning(
            source,
            format!(
                "unsupported object {}/{k}: skipped",
                v.unwrap_or("(no apiVersion)")
            ),
        )),
    }
}

fn is_ingress_version(v: Option<&str>) -> bool {
    match v {
        None => true,
        Some(v) => {
            v == legacy::INGRESS_API_VERSION || legacy::LEGACY_INGRESS_API_VERSIONS.contains(&v)
        }
    }
}

/// Deserialises one object into its k8s-openapi type; a failure is an error diagnostic.
fn decode<T: DeserializeOwned>(
    doc: Value,
    kind: &str,
    source: &Source,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<T> {
    match serde_json::from_value::<T>(doc) {
        Ok(obj) => Some(obj),
        Err(e) => {
            diagnostics.push(Diagnostic::error(
                source.clone(),
                format!("invalid {kind}: {e}"),
            ));
            None
        }
    }
}

/// Records an object unless one with the same kind/namespace/name was already read.
fn insert<T: Metadata<Ty = ObjectMeta>>(
    origin: &Arc<Path>,
    kind: &'static str,
    obj: T,
    list: &mut Vec<Arc<T>>,
    origins: &mut HashMap<ObjectKey, Arc<Path>>,
    diagnostics: &mut Vec<Diagnostic>,
    source: &Source,
) {
    let meta = obj.metadata();
    let Some(name) = meta.name.clone().filter(|n| !n.is_empty()) else {
        diagnostics.push(Diagnostic::error(
            source.clone(),
            format!("{kind} has no metadata.name"),
        ));
        return;
    };
    let namespace = if kind == "IngressClass" {
        String::new()
    } else {
        namespace_of(meta).to_string()
    };
    let key = (kind, namespace.clone(), name.clone());
    if let Some(first) = origins.get(&key) {
        diagnostics.push(Diagnostic::warning(
            source.clone(),
            format!(
                "duplicate {kind} {namespace}/{name}: already defined in {}; this one is ignored",
                first.display()
            ),
        ));
        return;
    }
    origins.insert(key, origin.clone());
    list.push(Arc::new(obj));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_start_lines_follow_separators() {
        let text = "# header\n---\na: 1\n---\n# c\nb: 2\n";
        assert_eq!(document_start_lines(text), vec![2, 4]);
        assert_eq!(document_start_lines("\na: 1\n---\nb: 2"), vec![2, 3]);
    }

    #[test]
    fn list_items_and_json_errors_are_located() {
        let mut objects = ObjectSet::new();
        let mut diags = Vec::new();
        let list = r#"{"kind": "List", "items": [{"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "a"}}, {"apiVersion": "v1", "kind": "Service"}]}"#;
        parse_into(Path::new("l.json"), list, &mut objects, &mut diags);
        assert_eq!(objects.services.len(), 1);
        assert_eq!(diags.len(), 1);
        assert_eq!(
            diags[0].to_string(),
            "error: l.json:1: List item 1: Service has no metadata.name"
        );
        diags.clear();
        parse_into(
            Path::new("x.json"),
            "{\n  \"kind\": ",
            &mut objects,
            &mut diags,
        );
        assert!(
            diags[0]
                .to_string()
                .starts_with("error: x.json:2: invalid JSON"),
            "{diags:?}"
        );
    }
}
