//! One reflector per kind, and the change signal they share.
//!
//! Each kind the translation reads (Ingress, IngressClass, Service, EndpointSlice, Secrets
//! of type `kubernetes.io/tls` and ConfigMaps) gets a `kube_runtime` reflector: a watcher
//! (list, then watch; relist on `410 Gone`; the runtime's default exponential backoff while
//! the API server is unreachable) writing into a [`Store`]. A store keeps its last complete contents while its
//! watcher relists and swaps them atomically when the new list is complete, so a relist never
//! leaves a gap in service.
//!
//! Every event bumps [`Changes`] (a ConfigMap's only when an Ingress names it, see
//! [`crate::config_maps`]); the first complete list of a kind sets that kind's bit.
//! Nothing is built until every bit is set ([`Changes::wait_all_listed`]).

use std::fmt::Debug;
use std::sync::Arc;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use kube::runtime::reflector::Store;
use kube::runtime::watcher::Event;
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, Client, Resource};
use portcullis_control::ObjectSet;
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config_maps;

/// The field selector of the Secret reflector: only TLS Secrets are ever needed (and the
/// ClusterRole can stay as narrow as the data we read).
pub const TLS_SECRET_SELECTOR: &str = "type=kubernetes.io/tls";

/// The kinds watched, in bit order of [`Changes`]' listed mask.
pub const KINDS: [&str; 6] = [
    "Ingress",
    "IngressClass",
    "Service",
    "EndpointSlice",
    "Secret",
    "ConfigMap",
];
const ALL_LISTED: u8 = (1 << KINDS.len()) - 1;

/// The change signal shared by the reflectors and the rebuild loop.
#[derive(Debug)]
pub struct Changes {
    /// Bumped on every event from any reflector.
    counter: watch::Sender<u64>,
    /// Bit `i` set once `KINDS[i]` completed its first list.
    listed: watch::Sender<u8>,
}

impl Changes {
    pub fn new() -> Arc<Self> {
        Arc::new(Changes {
            counter: watch::Sender::new(0),
            listed: watch::Sender::new(0),
        })
    }

    /// Marks the state dirty.
    pub fn mark(&self) {
        self.counter.send_modify(|c| *c = c.wrapping_add(1));
    }

    fn set_listed(&self, bit: usize) {
        self.listed.send_modify(|m| *m |= 1 << bit);
    }

    /// A receiver that sees every [`Changes::mark`].
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.counter.subscribe()
    }

    /// Whether every kind finished its initial list.
    pub fn all_listed(&self) -> bool {
        *self.listed.borrow() == ALL_LISTED
    }

    /// Waits until every kind finished its initial list.
    pub async fn wait_all_listed(&self) {
        let mut rx = self.listed.subscribe();
        // The sender lives in `self`, so this cannot fail while we borrow it.
        let _ = rx.wait_for(|m| *m == ALL_LISTED).await;
    }
}

/// The readers of the six stores.
#[derive(Clone)]
pub struct Stores {
    pub ingresses: Store<Ingress>,
    pub ingress_classes: Store<IngressClass>,
    pub services: Store<Service>,
    pub endpoint_slices: Store<EndpointSlice>,
    pub secrets: Store<Secret>,
    pub config_maps: Store<ConfigMap>,
    /// The full key of the annotation that names an exclusions ConfigMap.
    pub exclusions_annotation: Arc<str>,
}

impl Stores {
    /// The full current state as the translation's input (Arcs shared with the stores).
    /// ConfigMaps: only those an Ingress names.
    pub fn object_set(&self) -> ObjectSet {
        let ingresses = self.ingresses.state();
        let wanted = config_maps::referenced(&ingresses, &self.exclusions_annotation);
        ObjectSet {
            ingresses,
            ingress_classes: self.ingress_classes.state(),
            services: self.services.state(),
            endpoint_slices: self.endpoint_slices.state(),
            secrets: self.secrets.state(),
            config_maps: config_maps::selected(&self.config_maps, &wanted),
            origins: Default::default(),
        }
    }
}

impl Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stores")
            .field("ingresses", &self.ingresses.len())
            .field("ingress_classes", &self.ingress_classes.len())
            .field("services", &self.services.len())
            .field("endpoint_slices", &self.endpoint_slices.len())
            .field("secrets", &self.secrets.len())
            .field("config_maps", &self.config_maps.len())
            .finish()
    }
}

/// Starts the six reflectors. `namespace` limits the namespaced kinds (IngressClass is
/// cluster-scoped and always watched cluster-wide). `annotation_prefix` is the translation's
/// (it tells which ConfigMaps an Ingress names).
pub fn spawn_all(
    client: &Client,
    namespace: Option<&str>,
    annotation_prefix: &str,
    changes: &Arc<Changes>,
) -> (Stores, Vec<JoinHandle<()>>) {
    let mut tasks = Vec::new();
    let config = watcher::Config::default;
    let ingresses = spawn_one::<Ingress>(
        scoped(client, namespace),
        config(),
        0,
        Watched::all(),
        changes,
        &mut tasks,
    );
    let ingress_classes = spawn_one::<IngressClass>(
        Api::all(client.clone()),
        config(),
        1,
        Watched::all(),
        changes,
        &mut tasks,
    );
    let services = spawn_one::<Service>(
        scoped(client, namespace),
        config(),
        2,
        Watched::all(),
        changes,
        &mut tasks,
    );
    let endpoint_slices = spawn_one::<EndpointSlice>(
        scoped(client, namespace),
        config(),
        3,
        Watched::all(),
        changes,
        &mut tasks,
    );
    let secrets = spawn_one::<Secret>(
        scoped(client, namespace),
        config().fields(TLS_SECRET_SELECTOR),
        4,
        Watched::all(),
        changes,
        &mut tasks,
    );
    let exclusions_annotation: Arc<str> = config_maps::annotation_key(annotation_prefix).into();
    let named = {
        let (ingresses, key) = (ingresses.clone(), exclusions_annotation.clone());
        Watched {
            trim: config_maps::trim,
            is_change: Box::new(move |cm| config_maps::is_referenced(&ingresses, &key, cm)),
        }
    };
    let config_maps = spawn_one::<ConfigMap>(
        scoped(client, namespace),
        config(),
        5,
        named,
        changes,
        &mut tasks,
    );
    let stores = Stores {
        ingresses,
        ingress_classes,
        services,
        endpoint_slices,
        secrets,
        config_maps,
        exclusions_annotation,
    };
    (stores, tasks)
}

/// What a reflector keeps of an object and which of its events are changes.
struct Watched<K> {
    /// Applied to every object before it enters the store.
    trim: fn(&mut K),
    /// Whether an added, modified or deleted object marks the state dirty.
    is_change: Box<dyn Fn(&K) -> bool + Send + Sync>,
}

impl<K> Watched<K> {
    /// Every object whole; every event a change.
    fn all() -> Self {
        Watched {
            trim: |_| {},
            is_change: Box::new(|_| true),
        }
    }
}

fn scoped<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

fn spawn_one<K>(
    api: Api<K>,
    config: watcher::Config,
    bit: usize,
    watched: Watched<K>,
    changes: &Arc<Changes>,
    tasks: &mut Vec<JoinHandle<()>>,
) -> Store<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let kind = KINDS[bit];
    let (reader, writer) = reflector::store();
    let stream = reflector(
        writer,
        watcher(api, config).default_backoff().modify(watched.trim),
    );
    let changes = changes.clone();
    tasks.push(tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        let mut failing = false;
        while let Some(event) = stream.next().await {
            match event {
                Ok(Event::Apply(obj) | Event::Delete(obj)) => {
                    if failing {
                        tracing::info!(kind, "watch re-established");
                    }
                    failing = false;
                    if (watched.is_change)(&obj) {
                        changes.mark();
                    }
                }
                Ok(Event::InitDone) => {
                    if failing {
                        tracing::info!(kind, "watch re-established: relisted");
                    }
                    failing = false;
                    changes.set_listed(bit);
                    changes.mark();
                }
                Ok(Event::Init | Event::InitApply(_)) => {}
                Err(e) => {
                    // The stream backs off by itself; the stores keep their last contents.
                    if !failing {
                        tracing::warn!(kind, error = %e, "watch failed: serving the last state, retrying with backoff");
                    } else {
                        tracing::debug!(kind, error = %e, "watch still failing");
                    }
                    failing = true;
                }
            }
        }
    }));
    reader
}
