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
//!    `defaultBackend` and every `rules[].http.paths[]` entry become `Route`s in a
//!    `RouteTableBuilder` (`routes.rs`); backends are resolved by [`crate::backends`]. An invalid path or
//!    host skips that path (error), a conflict skips the newer rule (warning); the rest of the
//!    Ingress still applies.
//!
//! Policy per route: `waf` from [`TranslateOptions::waf`] for the Ingress's WAF annotations
//! ([`crate::waf_annotations`]); `ssl_redirect` when the route's host has TLS (in any served Ingress) and
//! the Ingress's `ssl-redirect` annotation is not `"false"`; `max_body_bytes` from
//! `proxy-body-size`. Route labels are `host/path` (`_` for rules without host, e.g.
//! `_/api`) and `default-backend`.

use std::sync::Arc;
use std::time::SystemTime;

use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::jiff::Timestamp;
use portcullis_snapshot::Snapshot;
use rustls::sign::CertifiedKey;

use crate::certificates::build_tls;
use crate::class::ClassIndex;
use crate::diagnostics::Diagnostic;
use crate::objects::{ObjectSet, namespace_of};
use crate::routes::RouteBuild;

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
    /// The WAF policy compiler and cache ([`crate::waf_policy`]); `None` = no WAF anywhere.
    pub waf: Option<Arc<crate::waf_policy::WafPolicies>>,
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
            waf: None,
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
    served.sort_by(|a, b| age_key(a).cmp(&age_key(b)));

    let (tls, tls_hosts) = build_tls(
        objects,
        &served,
        opts.default_certificate.clone(),
        &mut diagnostics,
    );
    let mut routes = RouteBuild::new(objects, &tls_hosts, &mut diagnostics);
    for ingress in &served {
        routes.add_ingress(ingress, opts);
    }
    let builder = routes.into_builder();
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

/// Sort key: age first (missing timestamps first), then namespace, then name.
fn age_key(i: &Ingress) -> (Option<Timestamp>, &str, &str) {
    (
        i.metadata.creation_timestamp.as_ref().map(|t| t.0),
        namespace_of(&i.metadata),
        i.metadata.name.as_deref().unwrap_or(""),
    )
}
