//! portcullis-control: the control plane — Kubernetes objects → translation → [`Snapshot`].
//!
//! ```text
//!  manifests dir ──load_dir──┐                          ┌── SharedSnapshot (one ArcSwap)
//!  (watch: notify + poll)    ├─► ObjectSet ─translate─► Snapshot ──Reloader::store──┘
//!  kube reflectors (later) ──┘        (pure, deterministic)   + diagnostics
//! ```
//!
//! - [`manifests`]: the file provider (a directory of YAML/JSON manifests → [`ObjectSet`]).
//! - [`translate()`]: the ONE translation shared by the file provider and the Kubernetes
//!   watcher. It never fails: problems become [`Diagnostic`]s and the rest is applied.
//! - [`class`], [`annotations`], [`backends`], [`certificates`], [`tls`] and the route pass
//!   (`routes.rs`): its parts.
//! - [`watch`]: debounced directory watching; [`reload`]: generation numbering and the one
//!   store into the [`SharedSnapshot`]; [`check()`]: validation for `portcullis check`.
//!
//! The data plane never depends on this crate; both depend on `portcullis-snapshot`.
//!
//! [`Snapshot`]: portcullis_snapshot::Snapshot
//! [`SharedSnapshot`]: portcullis_snapshot::SharedSnapshot

pub mod annotations;
pub mod backends;
pub mod certificates;
pub mod check;
pub mod class;
pub mod diagnostics;
pub mod documents;
pub mod legacy;
pub mod manifests;
pub mod objects;
pub mod reload;
mod routes;
pub mod tls;
pub mod translate;
pub mod waf_annotations;
pub mod waf_policy;
mod waf_seclang;
pub mod watch;

pub use check::check;
pub use diagnostics::{Diagnostic, Severity, Source, has_errors};
pub use manifests::{LoadError, Loaded, load_dir};
pub use objects::ObjectSet;
pub use reload::{ReloadCounters, ReloadOutcome, Reloader};
pub use translate::{TranslateOptions, Translation, translate};
pub use watch::{ManifestWatcher, WatchOptions};

/// The IngressClass `spec.controller` string this controller claims. Put it in the
/// IngressClass that should be served by portcullis:
///
/// ```yaml
/// apiVersion: networking.k8s.io/v1
/// kind: IngressClass
/// metadata:
///   name: portcullis
/// spec:
///   controller: portcullis.dev/ingress-controller
/// ```
pub const CONTROLLER_NAME: &str = "portcullis.dev/ingress-controller";

/// Prefix of the annotations portcullis reads (see [`annotations`]).
pub const ANNOTATION_PREFIX: &str = "portcullis.dev/";

/// The Secret type holding a certificate and key.
pub const SECRET_TYPE_TLS: &str = "kubernetes.io/tls";
