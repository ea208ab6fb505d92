//! IngressClass selection: which Ingresses this controller serves.
//!
//! The controller claims one controller string ([`crate::CONTROLLER_NAME`] by default). An
//! IngressClass whose `spec.controller` equals it is *ours*. For each Ingress:
//!
//! 1. `spec.ingressClassName` set → served iff it names one of our IngressClasses. A class
//!    that does not exist, or belongs to another controller, is ignored (the conformance
//!    suite's "invalid ingress class" scenario).
//! 2. Otherwise the legacy annotation `kubernetes.io/ingress.class` (deprecated, warned) →
//!    served iff it names one of our IngressClasses, **or** the set holds no IngressClass
//!    objects at all. Rationale: the annotation predates IngressClass objects and its values
//!    are often not valid object names (the seed's `PublicIngress` has capitals, which an
//!    IngressClass name cannot), so with no classes defined a lone controller answers to any
//!    value, as controllers configured without a class filter always did; once IngressClasses
//!    exist they decide, and a value naming none of ours means another controller.
//!    If both the field and the annotation are set and differ, the field wins (warning).
//! 3. No class at all → served iff one of our IngressClasses carries
//!    `ingressclass.kubernetes.io/is-default-class: "true"`, or the set holds no IngressClass
//!    at all, or `watch_ingress_without_class` is on.
//!
//! Ignored Ingresses produce an info diagnostic only, since foreign Ingresses are normal in a
//! shared cluster.

use std::collections::HashSet;
use std::sync::Arc;

use k8s_openapi::api::networking::v1::{Ingress, IngressClass};

use crate::diagnostics::Severity;
use crate::objects::annotation;

/// The legacy class annotation.
pub const LEGACY_CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";
/// Marks an IngressClass as the cluster default.
pub const DEFAULT_CLASS_ANNOTATION: &str = "ingressclass.kubernetes.io/is-default-class";

/// The IngressClasses of a set, indexed for [`ClassIndex::select`].
#[derive(Debug, Clone, Default)]
pub struct ClassIndex {
    ours: HashSet<String>,
    any: bool,
    our_default: bool,
}

/// Whether an Ingress is served, and what to tell the operator about that decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub served: bool,
    pub notes: Vec<(Severity, String)>,
}

impl ClassIndex {
    pub fn new(classes: &[Arc<IngressClass>], controller: &str) -> Self {
        let mut index = ClassIndex {
            any: !classes.is_empty(),
            ..ClassIndex::default()
        };
        for class in classes {
            let controller_matches = class
                .spec
                .as_ref()
                .and_then(|s| s.controller.as_deref())
                .is_some_and(|c| c == controller);
            let Some(name) = class.metadata.name.as_deref() else {
                continue;
            };
            if controller_matches {
                index.ours.insert(name.to_string());
                if annotation(&class.metadata, DEFAULT_CLASS_ANNOTATION) == Some("true") {
                    index.our_default = true;
                }
            }
        }
        index
    }

    /// Whether `name` is one of our IngressClasses.
    pub fn is_ours(&self, name: &str) -> bool {
        self.ours.contains(name)
    }

    /// Decides whether `ingress` is served (see the module docs for the rules).
    pub fn select(&self, ingress: &Ingress, watch_ingress_without_class: bool) -> Selection {
        let mut notes = Vec::new();
        let field = ingress
            .spec
            .as_ref()
            .and_then(|s| s.ingress_class_name.as_deref())
            .filter(|c| !c.is_empty());
        let legacy =
            annotation(&ingress.metadata, LEGACY_CLASS_ANNOTATION).filter(|c| !c.is_empty());

        let served = match (field, legacy) {
            (Some(class), legacy) => {
                if let Some(l) = legacy.filter(|l| *l != class) {
                    notes.push((
                        Severity::Warning,
                        format!(
                            "both spec.ingressClassName {class:?} and annotation \
                             {LEGACY_CLASS_ANNOTATION}={l:?} are set: the field wins"
                        ),
                    ));
                }
                let ours = self.is_ours(class);
                if !ours {
                    notes.push((
                        Severity::Info,
                        format!("IngressClass {class:?} is not ours (unknown or another controller's): ignored"),
                    ));
                }
                ours
            }
            (None, Some(class)) => {
                notes.push((
                    Severity::Warning,
                    format!(
                        "annotation {LEGACY_CLASS_ANNOTATION} is deprecated: use spec.ingressClassName"
                    ),
                ));
                let ours = self.is_ours(class) || !self.any;
                if !ours {
                    notes.push((
                        Severity::Info,
                        format!(
                            "ingress class {class:?} names none of our IngressClasses: ignored"
                        ),
                    ));
                }
                ours
            }
            (None, None) => {
                let served = self.our_default || !self.any || watch_ingress_without_class;
                if !served {
                    notes.push((
                        Severity::Info,
                        "no ingress class, and our IngressClass is not the default: ignored".into(),
                    ));
                }
                served
            }
        };
        Selection { served, notes }
    }
}
