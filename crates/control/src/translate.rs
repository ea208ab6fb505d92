//! The one translation: an [`ObjectSet`] → a [`Snapshot`] plus diagnostics.
//!
//! Pure (no IO, no clock other than `built_at`), deterministic, and shared by the file provider
//! and the Kubernetes watcher. Steps:
//!
//! 1. **Class selection** ([`crate::class`]): which Ingresses are ours.
//! 2. **Order**: served Ingresses sorted by `creationTimestamp` (missing first), then
//!    namespace, then name. Everything "first wins" below follows this order, so the oldest
//!    Ingress wins every conflict and the result does not depend on input order.
//! 3. **TLS** ([`crate::certificates`]): certificates by host and the set of TLS hosts.
//! 4. **Routes**: for each Ingress, its annotations ([`crate::annotations`]), its
//!    `defaultBackend` and every `rules[].http.paths[]` entry become [`Route`]s in a
//!    [`RouteTableBuilder`]; backends are resolved by [`crate::backends`]. An invalid path or
//!    host skips that path (error), a conflict skips the newer rule (warning); the rest of the
//!    Ingress still applies.
//!
//! Policy per route: `ssl_redirect` when the route's host has TLS (in any served Ingress) and
//! the Ingress's `ssl-redirect` annotation is not `"false"`; `max_body_bytes` from
//! `proxy-body-size`. Route labels are `host/path` (`_` for rules without host, e.g.
//! `_/api`) and `default-backend`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::SystemTime;

use k8s_openapi::api::networking::v1::{HTTPIngressPath, Ingress, IngressBackend};
use portcullis_router::{PathType, RouteError, RouteTableBuilder};
use portcullis_snapshot::{Backend, BackendKey, Route, RoutePolicy, Snapshot};
use rustls::sign::CertifiedKey;

use crate::annotations;
use crate::backends::BackendResolver;
use crate::certificates::{TlsHosts, build_tls};
use crate::class::ClassIndex;
use crate::diagnostics::{Diagnostic, Severity, Source};
use crate::objects::{ObjectSet, namespace_of};

/// Everything the translation needs besides the objects.
#[derive(Debug, Clone)]
pub struct TranslateOptions {
    /// Our IngressClass controller string ([`crate::CONTROLLER_NAME`]).
    pub controller: String,
    /// Serve Ingresses without any class even when our class is not the default.
    pub watch_ingress_without_class: bool,
    /// Served for SNI names without a configured certificate.
    pub default_certificate: Arc<CertifiedKey>,
    /// Prefix of our annotations ([`crate::ANNOTATION_PREFIX`]).
    pub annotation_prefix: String,
}

impl TranslateOptions {
    /// Defaults: our controller string and annotation prefix, class-less Ingresses not
    /// watched unless the rules of [`crate::class`] say so.
    pub fn new(default_certificate: Arc<CertifiedKey>) -> Self {
        TranslateOptions {
            controller: crate::CONTROLLER_NAME.to_string(),
            watch_ingress_without_class: false,
            default_certificate,
            annotation_prefix: crate::ANNOTATION_PREFIX.to_string(),
        }
    }
}

/// The result of one translation.
#[derive(Debug)]
pub struct Translation {
    pub snapshot: Snapshot,
    pub diagnostics: Vec<Diagnostic>,
    /// Number of Ingresses served (selected by class).
    pub ingresses_served: usize,
    /// Number of Ingresses ignored (another controller's, or no class).
    pub ingresses_ignored: usize,
}

/// Translates the objects into a snapshot with `generation`. Never fails: problems become
/// diagnostics and the affected parts are left out.
pub fn translate(objects: &ObjectSet, opts: &TranslateOptions, generation: u64) -> Translation {
    let mut diagnostics = Vec::new();
    let classes = ClassIndex::new(&objects.ingress_classes, &opts.controller);
    let mut served: Vec<&Ingress> = Vec::with_capacity(objects.ingresses.len());
    for ingress in &objects.ingresses {
        let selection = classes.select(ingress, opts.watch_ingress_without_class);
        for (severity, reason) in selection.notes {
            let source = objects.source("Ingress", &ingress.metadata);
            diagnostics.push(Diagnostic::new(severity, source, reason));
        }
        if selection.served {
            served.push(ingress);
        }
    }
    served.sort_by(|a, b| {
        let key = |i: &'_ Ingress| {
            (
                i.metadata.creation_timestamp.as_ref().map(|t| t.0),
                namespace_of(&i.metadata).to_string(),
                i.metadata.name.clone().unwrap_or_default(),
            )
        };
        key(a).cmp(&key(b))
    });

    let (tls, tls_hosts) = build_tls(
        objects,
        &served,
        opts.default_certificate.clone(),
        &mut diagnostics,
    );
    let mut routes = RouteBuild {
        objects,
        tls_hosts: &tls_hosts,
        builder: RouteTableBuilder::new(),
        resolver: BackendResolver::new(objects),
        owners: HashMap::new(),
        default_owner: None,
        diagnostics: &mut diagnostics,
    };
    for ingress in &served {
        routes.add_ingress(ingress, opts);
    }
    let builder = routes.builder;
    let snapshot = Snapshot {
        generation,
        routes: builder.build(),
        tls,
        built_at: SystemTime::now(),
    };
    Translation {
        snapshot,
        diagnostics,
        ingresses_served: served.len(),
        ingresses_ignored: objects.ingresses.len() - served.len(),
    }
}

/// State of the route pass.
struct RouteBuild<'a, 'd> {
    objects: &'a ObjectSet,
    tls_hosts: &'a TlsHosts,
    builder: RouteTableBuilder<Arc<Route>>,
    resolver: BackendResolver<'a>,
    /// [`owner_key`] → `namespace/name` of the Ingress that defined it, to name the winner
    /// of a conflict.
    owners: HashMap<(Option<String>, String, bool), Arc<str>>,
    default_owner: Option<Arc<str>>,
    diagnostics: &'d mut Vec<Diagnostic>,
}

/// What one Ingress shares between its routes.
struct IngressContext {
    id: Arc<str>,
    source: Source,
    namespace: String,
    plain: Arc<RoutePolicy>,
    redirect: Arc<RoutePolicy>,
    /// Backends already reported for this Ingress (report each problem once per Ingress).
    reported: HashSet<BackendKey>,
}

impl RouteBuild<'_, '_> {
    fn add_ingress(&mut self, ingress: &Ingress, opts: &TranslateOptions) {
        let namespace = namespace_of(&ingress.metadata).to_string();
        let name = ingress.metadata.name.as_deref().unwrap_or("");
        let source = self.objects.source("Ingress", &ingress.metadata);
        let (ann, notes) = annotations::parse(&ingress.metadata, &opts.annotation_prefix);
        for (severity, reason) in notes {
            self.diagnostics
                .push(Diagnostic::new(severity, source.clone(), reason));
        }
        let plain = Arc::new(RoutePolicy {
            ssl_redirect: false,
            max_body_bytes: ann.max_body_bytes,
        });
        let redirect = if ann.ssl_redirect {
            Arc::new(RoutePolicy {
                ssl_redirect: true,
                max_body_bytes: ann.max_body_bytes,
            })
        } else {
            plain.clone()
        };
        let mut cx = IngressContext {
            id: Arc::from(format!("{namespace}/{name}")),
            source,
            namespace,
            plain,
            redirect,
            reported: HashSet::new(),
        };
        let Some(spec) = ingress.spec.as_ref() else {
            self.push(
                &cx,
                Severity::Warning,
                "Ingress has no spec: nothing to route".into(),
            );
            return;
        };
        let rules = spec.rules.as_deref().unwrap_or_default();
        if rules.is_empty() && spec.default_backend.is_none() {
            self.push(
                &cx,
                Severity::Warning,
                "Ingress has neither rules nor a defaultBackend: nothing to route".into(),
            );
        }
        if let Some(default) = &spec.default_backend {
            self.add_default_backend(&mut cx, default);
        }
        for rule in rules {
            let host = rule.host.as_deref().filter(|h| !h.is_empty());
            for path in rule.http.iter().flat_map(|h| &h.paths) {
                if !self.add_path(&mut cx, host, path) {
                    break; // invalid host: already reported, skip the rule's other paths
                }
            }
        }
    }

    fn add_default_backend(&mut self, cx: &mut IngressContext, default: &IngressBackend) {
        let Some(backend) = self.backend(cx, default, "defaultBackend") else {
            return;
        };
        let route = Arc::new(Route {
            ingress: cx.id.clone(),
            label: Arc::from("default-backend"),
            backend,
            policy: cx.plain.clone(),
        });
        if self.builder.set_default_backend(route).is_err() {
            let owner = self.default_owner.as_deref().unwrap_or("an older Ingress");
            let reason = format!("defaultBackend is already set by {owner} (older): ignored");
            self.push(cx, Severity::Warning, reason);
        } else {
            self.default_owner = Some(cx.id.clone());
        }
    }

    /// Adds one path; returns false when the rule's host is invalid.
    fn add_path(
        &mut self,
        cx: &mut IngressContext,
        host: Option<&str>,
        p: &HTTPIngressPath,
    ) -> bool {
        let shown_host = host.unwrap_or("_");
        let raw_path = p.path.as_deref().filter(|s| !s.is_empty());
        let shown_path = raw_path.unwrap_or("(none)");
        let path_type = match p.path_type.as_str() {
            "Exact" => PathType::Exact,
            "Prefix" => PathType::Prefix,
            "ImplementationSpecific" => PathType::ImplementationSpecific,
            "" => {
                let reason =
                    format!("path {shown_host}{shown_path}: pathType is required: path skipped");
                self.push(cx, Severity::Error, reason);
                return true;
            }
            other => {
                let reason = format!(
                    "path {shown_host}{shown_path}: invalid pathType {other:?} \
                     (Exact, Prefix or ImplementationSpecific): path skipped"
                );
                self.push(cx, Severity::Error, reason);
                return true;
            }
        };
        let path = match (raw_path, path_type) {
            (Some(path), _) => path,
            (None, PathType::ImplementationSpecific) => "/",
            (None, _) => {
                let reason = format!(
                    "path {shown_host}(none): a path is required for pathType {path_type:?}: path skipped"
                );
                self.push(cx, Severity::Error, reason);
                return true;
            }
        };
        let what = format!("path {}", join(shown_host, path));
        let Some(backend) = self.backend(cx, &p.backend, &what) else {
            return true;
        };
        let lower_host = host.map(str::to_ascii_lowercase);
        let has_tls = lower_host
            .as_deref()
            .is_some_and(|h| self.tls_hosts.covers(h));
        let route = Arc::new(Route {
            ingress: cx.id.clone(),
            label: Arc::from(join(shown_host, path)),
            backend,
            policy: if has_tls {
                cx.redirect.clone()
            } else {
                cx.plain.clone()
            },
        });
        match self.builder.add(host, path, path_type, route) {
            Ok(()) => {
                let key = owner_key(lower_host, path, path_type);
                self.owners.entry(key).or_insert_with(|| cx.id.clone());
                true
            }
            Err(RouteError::Conflict { .. }) => {
                let key = owner_key(lower_host, path, path_type);
                let owner = self
                    .owners
                    .get(&key)
                    .map(|o| &**o)
                    .unwrap_or("an older Ingress");
                let reason = format!(
                    "{what} ({path_type:?}) is already defined by {owner} (older): this rule is skipped"
                );
                self.push(cx, Severity::Warning, reason);
                true
            }
            Err(e @ RouteError::InvalidPath { .. }) => {
                self.push(cx, Severity::Error, format!("{what}: {e}: path skipped"));
                true
            }
            Err(e @ RouteError::InvalidHost { .. }) => {
                self.push(
                    cx,
                    Severity::Error,
                    format!("rule {shown_host}: {e}: rule skipped"),
                );
                false
            }
        }
    }

    /// Resolves an Ingress backend; None (reported) for unsupported resource backends.
    fn backend(
        &mut self,
        cx: &mut IngressContext,
        backend: &IngressBackend,
        what: &str,
    ) -> Option<Arc<Backend>> {
        let Some(service) = backend.service.as_ref() else {
            let reason = if backend.resource.is_some() {
                format!("{what}: resource backends are not supported: skipped")
            } else {
                format!("{what}: backend names no service: skipped")
            };
            self.push(cx, Severity::Error, reason);
            return None;
        };
        let resolved = self.resolver.resolve(&cx.namespace, service);
        let backend = resolved.backend.clone();
        if cx.reported.insert(backend.key.clone()) {
            for (severity, reason) in resolved.notes.clone() {
                self.diagnostics
                    .push(Diagnostic::new(severity, cx.source.clone(), reason));
            }
        }
        Some(backend)
    }

    fn push(&mut self, cx: &IngressContext, severity: Severity, reason: String) {
        self.diagnostics
            .push(Diagnostic::new(severity, cx.source.clone(), reason));
    }
}

/// Approximates the router's conflict identity: host, path and whether it is `Exact`
/// (`Prefix` and `ImplementationSpecific` compile alike, trailing slash ignored).
fn owner_key(
    host: Option<String>,
    path: &str,
    path_type: PathType,
) -> (Option<String>, String, bool) {
    let exact = path_type == PathType::Exact;
    let path = if exact {
        path
    } else {
        path.trim_end_matches('/')
    };
    (host, path.to_string(), exact)
}

/// `host/path` for labels and messages (`host path` when the path is not absolute).
fn join(host: &str, path: &str) -> String {
    if path.starts_with('/') {
        format!("{host}{path}")
    } else {
        format!("{host} {path}")
    }
}
