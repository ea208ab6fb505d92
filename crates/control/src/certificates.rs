//! The TLS pass of the translation: `spec.tls` of the served Ingresses → a [`TlsStore`].
//!
//! Ingresses are visited oldest first. For each `spec.tls[]` entry the Secret `secretName` in
//! the Ingress's namespace is loaded (once per Secret per translation) and inserted for each
//! listed host; the first certificate for a host wins, and a later Ingress naming a different
//! Secret for the same host gets a warning. A missing or unusable Secret is an error and its
//! hosts fall back to the default certificate — they still count as TLS hosts (HTTPS is served
//! and `ssl-redirect` applies). A certificate that does not cover a host is a warning (the
//! certificate is still served: clients decide). An entry without hosts is ignored with a
//! warning: hosts without a configured certificate get the default one anyway.

use foldhash::{HashMap, HashMapExt, HashSet};
use std::borrow::Cow;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::networking::v1::Ingress;
use portcullis_snapshot::TlsStore;
use rustls::sign::CertifiedKey;

use crate::diagnostics::Diagnostic;
use crate::objects::{ObjectSet, namespace_of};
use crate::tls::{certified_key_from_secret, covers_host_parsed};

/// The hosts that have TLS (with a configured certificate or the default one).
#[derive(Debug, Clone, Default)]
pub struct TlsHosts<'a> {
    exact: HashSet<Cow<'a, str>>,
    /// Parents of wildcard hosts: `*.foo.com` is stored as `foo.com`.
    wildcard_parents: HashSet<Cow<'a, str>>,
}

impl<'a> TlsHosts<'a> {
    fn insert(&mut self, host: Cow<'a, str>) {
        match host {
            Cow::Borrowed(h) => match h.strip_prefix("*.") {
                Some(parent) => self.wildcard_parents.insert(Cow::Borrowed(parent)),
                None => self.exact.insert(Cow::Borrowed(h)),
            },
            Cow::Owned(h) => match h.strip_prefix("*.") {
                Some(parent) => self.wildcard_parents.insert(Cow::Owned(parent.to_string())),
                None => self.exact.insert(Cow::Owned(h)),
            },
        };
    }

    /// Whether requests for `host` (an Ingress rule host, lower-case) are served over TLS.
    pub fn covers(&self, host: &str) -> bool {
        if let Some(parent) = host.strip_prefix("*.") {
            return self.wildcard_parents.contains(parent);
        }
        self.exact.contains(host)
            || host
                .split_once('.')
                .is_some_and(|(_, parent)| self.wildcard_parents.contains(parent))
    }
}

/// Builds the certificate store for the served Ingresses (already sorted oldest first).
pub fn build_tls<'a>(
    objects: &'a ObjectSet,
    served: &[&'a Ingress],
    default: Arc<CertifiedKey>,
    diagnostics: &mut Vec<Diagnostic>,
) -> (TlsStore, TlsHosts<'a>) {
    let mut store = TlsStore::new(default);
    let mut hosts = TlsHosts::default();
    let secrets: HashMap<(&str, &str), &Secret> = objects
        .secrets
        .iter()
        .filter_map(|s| {
            Some((
                (namespace_of(&s.metadata), s.metadata.name.as_deref()?),
                &**s,
            ))
        })
        .collect();
    let entries = || {
        served.iter().flat_map(|ingress| {
            let namespace = namespace_of(&ingress.metadata);
            let tls = ingress.spec.as_ref().and_then(|s| s.tls.as_deref());
            tls.unwrap_or_default()
                .iter()
                .map(move |entry| (*ingress, namespace, entry))
        })
    };

    // Load every referenced Secret once, then parse each leaf once for the host checks.
    let mut loaded: HashMap<(&str, &str), Result<Arc<CertifiedKey>, String>> = HashMap::new();
    for (_, namespace, entry) in entries() {
        let Some(name) = entry.secret_name.as_deref().filter(|s| !s.is_empty()) else {
            continue;
        };
        loaded
            .entry((namespace, name))
            .or_insert_with(|| match secrets.get(&(namespace, name)) {
                None => Err(format!(
                    "Secret {namespace}/{name} not found (or not of type kubernetes.io/tls)"
                )),
                Some(secret) => certified_key_from_secret(secret)
                    .map(Arc::new)
                    .map_err(|e| format!("Secret {namespace}/{name}: {e}")),
            });
    }
    let leaves: HashMap<(&str, &str), Option<webpki::EndEntityCert<'_>>> = loaded
        .iter()
        .filter_map(|(id, key)| Some((*id, leaf(key.as_ref().ok()?))))
        .collect();

    // host → (namespace, secret) that provided its certificate.
    let mut owners: HashMap<Cow<'_, str>, (&str, &str)> = HashMap::new();
    for (ingress, namespace, entry) in entries() {
        let source = || objects.source("Ingress", &ingress.metadata);
        let entry_hosts = || {
            entry
                .hosts
                .iter()
                .flatten()
                .filter(|h| !h.is_empty())
                .map(|h| lower(h))
        };
        let shown = || entry_hosts().collect::<Vec<_>>().join(", ");
        if entry_hosts().next().is_none() {
            diagnostics.push(Diagnostic::warning(
                source(),
                "spec.tls entry without hosts: ignored (unlisted hosts get the default certificate)",
            ));
            continue;
        }
        entry_hosts().for_each(|h| hosts.insert(h));
        let Some(name) = entry.secret_name.as_deref().filter(|s| !s.is_empty()) else {
            diagnostics.push(Diagnostic::warning(
                source(),
                format!(
                    "spec.tls entry for {} has no secretName: the default certificate is served",
                    shown()
                ),
            ));
            continue;
        };
        let key = match &loaded[&(namespace, name)] {
            Ok(key) => key,
            Err(reason) => {
                diagnostics.push(Diagnostic::error(
                    source(),
                    format!("{reason}: {} served with the default certificate", shown()),
                ));
                continue;
            }
        };
        let parsed = leaves.get(&(namespace, name)).and_then(Option::as_ref);
        for host in entry_hosts() {
            if !parsed.is_some_and(|cert| covers_host_parsed(cert, &host)) {
                diagnostics.push(Diagnostic::warning(
                    source(),
                    format!(
                        "the certificate of Secret {namespace}/{name} does not cover host {host}"
                    ),
                ));
            }
            match owners.get(&host) {
                None => {
                    store.insert(&host, key.clone());
                    owners.insert(host, (namespace, name));
                }
                Some(&(ns, owner)) if (ns, owner) != (namespace, name) => {
                    diagnostics.push(Diagnostic::warning(
                        source(),
                        format!(
                            "host {host} already has the certificate of Secret {ns}/{owner} \
                             (older Ingress): Secret {namespace}/{name} ignored for it"
                        ),
                    ))
                }
                Some(_) => {}
            }
        }
    }
    (store, hosts)
}

/// The parsed leaf certificate of a key, for name checks.
fn leaf(key: &CertifiedKey) -> Option<webpki::EndEntityCert<'_>> {
    webpki::EndEntityCert::try_from(key.cert.first()?).ok()
}

/// Lower-cases a host, borrowing when it already is.
fn lower(host: &str) -> Cow<'_, str> {
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        Cow::Borrowed(host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_tls_hosts_cover_one_label() {
        let mut h = TlsHosts::default();
        h.insert("*.foo.com".into());
        h.insert("bar.com".into());
        assert!(h.covers("a.foo.com"));
        assert!(h.covers("*.foo.com"));
        assert!(!h.covers("a.b.foo.com"));
        assert!(!h.covers("foo.com"));
        assert!(h.covers("bar.com"));
        assert!(!h.covers("x.bar.com"));
    }
}
