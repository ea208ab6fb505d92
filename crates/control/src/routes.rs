//! The route pass of the translation: served Ingresses (oldest first) → a route table.
//!
//! For each Ingress: its annotations ([`crate::annotations`]), its `defaultBackend`, and every
//! `rules[].http.paths[]` entry become [`Route`]s in a [`RouteTableBuilder`], which validates
//! hosts and paths like the API server and refuses a rule that an older Ingress already
//! defined. Problems are reported per Ingress and never stop the rest:
//!
//! - missing or unknown `pathType`, missing path for `Exact`/`Prefix`, a path the router
//!   refuses → error, that path skipped; an invalid host → error, that rule skipped;
//! - a `resource` backend → error, that path skipped (only Service backends are supported);
//! - the same host + path (+ `Exact` or not) as an older Ingress → warning naming the older
//!   Ingress, the newer rule skipped; likewise a second `defaultBackend`;
//! - backend problems (missing Service or port, no ready endpoints) → reported once per
//!   Ingress and Service port; the route stays and answers 503.
//!
//! The pass allocates little per path (labels, the route itself): this is the hot loop of a
//! rebuild with thousands of Ingresses.

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use std::borrow::Cow;
use std::sync::Arc;

use k8s_openapi::api::networking::v1::{HTTPIngressPath, Ingress, IngressBackend};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use portcullis_router::{PathType, RouteError, RouteTableBuilder};
use portcullis_snapshot::{Backend, Route, RoutePolicy};

use crate::annotations;
use crate::backends::BackendResolver;
use crate::certificates::TlsHosts;
use crate::diagnostics::{Diagnostic, Severity, Source};
use crate::objects::{ObjectSet, namespace_of};
use crate::translate::TranslateOptions;

/// Host (lower-case), path (trailing `/` trimmed unless `Exact`), `Exact` or not: an
/// approximation of the router's conflict identity, used only to name a conflict's winner.
type OwnerKey<'a> = (Option<Cow<'a, str>>, &'a str, bool);

/// State of the route pass.
pub(crate) struct RouteBuild<'a, 'd> {
    objects: &'a ObjectSet,
    tls_hosts: &'a TlsHosts<'a>,
    builder: RouteTableBuilder<Arc<Route>>,
    resolver: BackendResolver<'a>,
    owners: HashMap<OwnerKey<'a>, Arc<str>>,
    default_owner: Option<Arc<str>>,
    diagnostics: &'d mut Vec<Diagnostic>,
}

/// What the routes of one Ingress share.
struct IngressContext<'a> {
    id: Arc<str>,
    meta: &'a ObjectMeta,
    namespace: &'a str,
    plain: Arc<RoutePolicy>,
    redirect: Arc<RoutePolicy>,
    /// Backends (by address) whose problems were already reported for this Ingress.
    reported: HashSet<usize>,
}

impl<'a, 'd> RouteBuild<'a, 'd> {
    pub(crate) fn new(
        objects: &'a ObjectSet,
        tls_hosts: &'a TlsHosts<'a>,
        diagnostics: &'d mut Vec<Diagnostic>,
    ) -> Self {
        RouteBuild {
            objects,
            tls_hosts,
            builder: RouteTableBuilder::new(),
            resolver: BackendResolver::new(objects),
            owners: HashMap::with_capacity(objects.ingresses.len() * 2),
            default_owner: None,
            diagnostics,
        }
    }

    pub(crate) fn into_builder(self) -> RouteTableBuilder<Arc<Route>> {
        self.builder
    }

    pub(crate) fn add_ingress(&mut self, ingress: &'a Ingress, opts: &TranslateOptions) {
        let meta = &ingress.metadata;
        let namespace = namespace_of(meta);
        let (ann, mut notes) = annotations::parse(meta, &opts.annotation_prefix);
        let waf =
            crate::waf_annotations::policy_for(opts, self.objects, namespace, &ann, &mut notes);
        let plain = Arc::new(RoutePolicy {
            ssl_redirect: false,
            max_body_bytes: ann.max_body_bytes,
            waf: waf.clone(),
        });
        let redirect = if ann.ssl_redirect {
            Arc::new(RoutePolicy {
                ssl_redirect: true,
                max_body_bytes: ann.max_body_bytes,
                waf,
            })
        } else {
            plain.clone()
        };
        let name = meta.name.as_deref().unwrap_or("");
        let mut cx = IngressContext {
            id: Arc::from(concat(&[namespace, "/", name])),
            meta,
            namespace,
            plain,
            redirect,
            reported: HashSet::new(),
        };
        for (severity, reason) in notes {
            self.push(&cx, severity, reason);
        }
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
            let reason = "Ingress has neither rules nor a defaultBackend: nothing to route";
            self.push(&cx, Severity::Warning, reason.into());
        }
        if let Some(default) = &spec.default_backend {
            self.add_default_backend(&mut cx, default);
        }
        for rule in rules {
            let host = rule.host.as_deref().filter(|h| !h.is_empty());
            for path in rule.http.iter().flat_map(|h| &h.paths) {
                if !self.add_path(&mut cx, host, path) {
                    break; // invalid host: reported once, the rule's other paths skipped
                }
            }
        }
    }

    fn add_default_backend(&mut self, cx: &mut IngressContext<'a>, default: &'a IngressBackend) {
        let Some(backend) = self.backend(cx, default, || "defaultBackend".into()) else {
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
        cx: &mut IngressContext<'a>,
        host: Option<&'a str>,
        p: &'a HTTPIngressPath,
    ) -> bool {
        let shown_host = host.unwrap_or("_");
        let raw_path = p.path.as_deref().filter(|s| !s.is_empty());
        let path_type = match p.path_type.as_str() {
            "Exact" => PathType::Exact,
            "Prefix" => PathType::Prefix,
            "ImplementationSpecific" => PathType::ImplementationSpecific,
            other => {
                let shown = join(shown_host, raw_path.unwrap_or("(none)"));
                let reason = if other.is_empty() {
                    format!("path {shown}: pathType is required: path skipped")
                } else {
                    format!(
                        "path {shown}: invalid pathType {other:?} \
                         (Exact, Prefix or ImplementationSpecific): path skipped"
                    )
                };
                self.push(cx, Severity::Error, reason);
                return true;
            }
        };
        let path = match (raw_path, path_type) {
            (Some(path), _) => path,
            (None, PathType::ImplementationSpecific) => "/",
            (None, _) => {
                let reason = format!(
                    "path {shown_host}(none): a path is required for pathType {path_type:?}: \
                     path skipped"
                );
                self.push(cx, Severity::Error, reason);
                return true;
            }
        };
        let what = || format!("path {}", join(shown_host, path));
        let Some(backend) = self.backend(cx, &p.backend, what) else {
            return true;
        };
        let lower_host = host.map(lower);
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
        let exact = path_type == PathType::Exact;
        let key_path = if exact {
            path
        } else {
            path.trim_end_matches('/')
        };
        match self.builder.add(host, path, path_type, route) {
            Ok(()) => {
                let key = (lower_host, key_path, exact);
                self.owners.entry(key).or_insert_with(|| cx.id.clone());
                true
            }
            Err(RouteError::Conflict { .. }) => {
                let key = (lower_host, key_path, exact);
                let owner = self.owners.get(&key).map_or("an older Ingress", |o| &**o);
                let reason = format!(
                    "{} ({path_type:?}) is already defined by {owner} (older): this rule is skipped",
                    what()
                );
                self.push(cx, Severity::Warning, reason);
                true
            }
            Err(e @ RouteError::InvalidPath { .. }) => {
                let reason = format!("{}: {e}: path skipped", what());
                self.push(cx, Severity::Error, reason);
                true
            }
            Err(e @ RouteError::InvalidHost { .. }) => {
                let reason = format!("rule {shown_host}: {e}: rule skipped");
                self.push(cx, Severity::Error, reason);
                false
            }
        }
    }

    /// Resolves an Ingress backend; None (reported) for unsupported resource backends.
    fn backend(
        &mut self,
        cx: &mut IngressContext<'a>,
        backend: &'a IngressBackend,
        what: impl Fn() -> String,
    ) -> Option<Arc<Backend>> {
        let Some(service) = backend.service.as_ref() else {
            let reason = if backend.resource.is_some() {
                format!("{}: resource backends are not supported: skipped", what())
            } else {
                format!("{}: backend names no service: skipped", what())
            };
            self.push(cx, Severity::Error, reason);
            return None;
        };
        let resolved = self.resolver.resolve(cx.namespace, service);
        let backend = resolved.backend.clone();
        if !resolved.notes.is_empty() && cx.reported.insert(Arc::as_ptr(&backend) as usize) {
            for (severity, reason) in &resolved.notes {
                let source = self.objects.source("Ingress", cx.meta);
                self.diagnostics
                    .push(Diagnostic::new(*severity, source, reason.clone()));
            }
        }
        Some(backend)
    }

    fn push(&mut self, cx: &IngressContext<'_>, severity: Severity, reason: String) {
        let source: Source = self.objects.source("Ingress", cx.meta);
        self.diagnostics
            .push(Diagnostic::new(severity, source, reason));
    }
}

/// Lower-cases a host, borrowing when it already is.
fn lower(host: &str) -> Cow<'_, str> {
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        Cow::Borrowed(host)
    }
}

/// `host/path` for labels and messages (`host path` when the path is not absolute).
fn join(host: &str, path: &str) -> String {
    let sep = if path.starts_with('/') { "" } else { " " };
    concat(&[host, sep, path])
}

/// Concatenation without the formatting machinery (this runs per route).
fn concat(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    parts.iter().for_each(|p| out.push_str(p));
    out
}
