//! Kubernetes Events on Ingresses that cannot be served as written.
//!
//! Every rebuild yields diagnostics; those of severity warning or error about an Ingress (a
//! missing Service or Secret, an invalid path, a rule that lost a conflict, an invalid
//! annotation) become `events.k8s.io/v1` Events on that Ingress, published by the leader only
//! (every replica computes the same diagnostics; one voice is enough).
//!
//! Rate limits, since a rebuild runs on every change in the cluster: the same (Ingress,
//! message) is published at most once per [`REPEAT_AFTER`], and at most [`MAX_PER_PASS`]
//! Events are sent per rebuild. The recorder of `kube_runtime` aggregates repeats into an
//! event series.

use std::collections::HashMap;
use std::time::Duration;

use k8s_openapi::api::networking::v1::Ingress;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Client, Resource};
use portcullis_control::objects::namespace_of;
use portcullis_control::{Diagnostic, ObjectSet, Severity, Source};
use tokio::time::Instant;

/// The same Event for the same Ingress is repeated at most this often.
pub const REPEAT_AFTER: Duration = Duration::from_secs(600);
/// At most this many Events per rebuild.
pub const MAX_PER_PASS: usize = 20;

/// The event key: Ingress `namespace/name` and the message.
type Key = (String, String);

/// Publishes diagnostics as Events, rate-limited.
pub struct IngressEvents {
    recorder: Recorder,
    sent: HashMap<Key, Instant>,
}

impl std::fmt::Debug for IngressEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngressEvents")
            .field("remembered", &self.sent.len())
            .finish()
    }
}

/// The Event reason for a diagnostic (short, PascalCase).
pub fn reason_for(d: &Diagnostic) -> &'static str {
    let r = d.reason.to_ascii_lowercase();
    if r.contains("already defined") || r.contains("already set") {
        "RuleConflict"
    } else if r.contains("secret") || r.contains("certificate") {
        "TLSProblem"
    } else if r.contains("service") || r.contains("endpoint") || r.contains("backend") {
        "BackendProblem"
    } else if r.contains("annotation") {
        "InvalidAnnotation"
    } else if r.contains("path") || r.contains("host") {
        "InvalidRule"
    } else if d.severity == Severity::Error {
        "CannotServe"
    } else {
        "IngressWarning"
    }
}

impl IngressEvents {
    pub fn new(client: Client, identity: &str) -> Self {
        let reporter = Reporter {
            controller: "portcullis".into(),
            instance: Some(identity.into()),
        };
        IngressEvents {
            recorder: Recorder::new(client, reporter),
            sent: HashMap::new(),
        }
    }

    /// Publishes the Events due for `diagnostics` (leader only; the caller checks).
    pub async fn publish(&mut self, objects: &ObjectSet, diagnostics: &[Diagnostic]) {
        let now = Instant::now();
        self.sent
            .retain(|_, at| now.duration_since(*at) < REPEAT_AFTER);
        let mut budget = MAX_PER_PASS;
        for d in diagnostics
            .iter()
            .filter(|d| d.severity >= Severity::Warning)
        {
            let Source::Object {
                kind: "Ingress",
                namespace,
                name,
                ..
            } = &d.source
            else {
                continue;
            };
            let key = (format!("{namespace}/{name}"), d.reason.clone());
            if self.sent.contains_key(&key) {
                continue;
            }
            if budget == 0 {
                tracing::debug!("event budget of this rebuild spent: the rest waits");
                break;
            }
            let Some(ingress) = find(objects, namespace, name) else {
                continue;
            };
            let event = Event {
                type_: EventType::Warning,
                reason: reason_for(d).into(),
                note: Some(truncate(&d.reason, 1000)),
                action: "Translate".into(),
                secondary: None,
            };
            budget -= 1;
            match self
                .recorder
                .publish(&event, &ingress.object_ref(&()))
                .await
            {
                Ok(()) => {
                    self.sent.insert(key, now);
                }
                Err(e) => tracing::warn!(error = %e, ingress = %key.0, "cannot publish an Event"),
            }
        }
    }
}

fn find<'a>(objects: &'a ObjectSet, namespace: &str, name: &str) -> Option<&'a Ingress> {
    objects
        .ingresses
        .iter()
        .find(|i| {
            i.metadata.name.as_deref() == Some(name) && namespace_of(&i.metadata) == namespace
        })
        .map(|i| &**i)
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}
