//! Starting and stopping the provider: reflectors, rebuild loop, election, leader duties.

use std::sync::Arc;
use std::time::Duration;

use kube::Client;
use portcullis_control::{ReloadOutcome, Reloader, TranslateOptions};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::events::IngressEvents;
use crate::leader::{ElectionOptions, Elector};
use crate::rebuild::{self, Built, Debounce};
use crate::reflectors::{self, Changes};
use crate::status::{self, Publish};

/// How the provider watches and what it publishes.
#[derive(Debug, Clone)]
pub struct KubeOptions {
    /// Watch only this namespace: Ingresses, Services, EndpointSlices, Secrets and ConfigMaps
    /// elsewhere are neither served nor given a status (IngressClasses are cluster-scoped and
    /// always watched).
    pub watch_namespace: Option<String>,
    /// Where the Ingress status addresses come from; None: status is not written.
    pub publish: Option<Publish>,
    pub election: ElectionOptions,
    pub debounce: Debounce,
    /// How often the leader re-checks status even without changes (drift, publish Service).
    pub status_resync: Duration,
}

/// The running provider. Dropping it aborts its tasks; [`KubeProvider::stop`] also releases
/// the Lease when this replica leads.
#[derive(Debug)]
pub struct KubeProvider {
    tasks: Vec<JoinHandle<()>>,
    elector: Option<JoinHandle<()>>,
    stop_election: watch::Sender<bool>,
    leader: watch::Receiver<bool>,
    changes: Arc<Changes>,
}

/// Forces a rebuild from outside the cluster's objects (e.g. the WAF rule files changed).
#[derive(Debug, Clone)]
pub struct RebuildTrigger(Arc<Changes>);

impl RebuildTrigger {
    /// Marks the state dirty: a debounced rebuild follows.
    pub fn trigger(&self) {
        self.0.mark();
    }
}

impl KubeProvider {
    /// Starts watching. `on_outcome` is called after every rebuild (metrics).
    pub fn start<F>(
        client: Client,
        opts: KubeOptions,
        reloader: Reloader,
        on_outcome: F,
    ) -> KubeProvider
    where
        F: FnMut(&ReloadOutcome) + Send + 'static,
    {
        let changes = Changes::new();
        let translate_opts = reloader.options().clone();
        let (stores, mut tasks) = reflectors::spawn_all(
            &client,
            opts.watch_namespace.as_deref(),
            &translate_opts.annotation_prefix,
            &changes,
        );
        let trigger = changes.clone();
        let (built_tx, built_rx) = watch::channel(None);
        tasks.push(tokio::spawn(rebuild::run(
            stores,
            changes,
            reloader,
            opts.debounce,
            on_outcome,
            built_tx,
        )));

        let elector = Elector::new(client.clone(), opts.election.clone());
        let leader = elector.subscribe();
        let (stop_election, stop_rx) = watch::channel(false);
        let elector = tokio::spawn(elector.run(stop_rx));

        let duties = LeaderDuties {
            events: IngressEvents::new(client.clone(), &opts.election.identity),
            client,
            publish: opts.publish.clone(),
            translate_opts,
            resync: opts.status_resync,
        };
        tasks.push(tokio::spawn(duties.run(leader.clone(), built_rx)));
        KubeProvider {
            tasks,
            elector: Some(elector),
            stop_election,
            leader,
            changes: trigger,
        }
    }

    /// A handle that forces a rebuild (after the first complete list).
    pub fn rebuild_trigger(&self) -> RebuildTrigger {
        RebuildTrigger(self.changes.clone())
    }

    /// Whether this replica currently holds the Lease.
    pub fn is_leader(&self) -> bool {
        *self.leader.borrow()
    }

    /// Stops watching and releases the Lease if held.
    pub async fn stop(mut self) {
        for t in &self.tasks {
            t.abort();
        }
        self.stop_election.send_replace(true);
        if let Some(e) = self.elector.take() {
            let _ = tokio::time::timeout(Duration::from_secs(3), e).await;
        }
    }
}

impl Drop for KubeProvider {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        if let Some(e) = &self.elector {
            e.abort();
        }
    }
}

/// What only the leader does after each rebuild: status and Events.
struct LeaderDuties {
    client: Client,
    publish: Option<Publish>,
    translate_opts: TranslateOptions,
    events: IngressEvents,
    resync: Duration,
}

impl LeaderDuties {
    async fn run(
        mut self,
        mut leader: watch::Receiver<bool>,
        mut built: watch::Receiver<Option<Built>>,
    ) {
        let mut tick = tokio::time::interval(self.resync);
        loop {
            tokio::select! {
                r = leader.changed() => if r.is_err() { return },
                r = built.changed() => if r.is_err() { return },
                _ = tick.tick() => {}
            }
            if !*leader.borrow_and_update() {
                continue;
            }
            let Some(b) = built.borrow_and_update().clone() else {
                continue;
            };
            self.sync_status(&b).await;
            self.events.publish(&b.objects, &b.diagnostics).await;
        }
    }

    async fn sync_status(&self, b: &Built) {
        let Some(publish) = &self.publish else {
            return;
        };
        let Some(addresses) = publish.resolve(&self.client).await else {
            return;
        };
        for update in status::plan(&b.objects, &self.translate_opts, &addresses) {
            match status::write(&self.client, &update).await {
                Ok(()) => tracing::info!(
                    ingress = %format!("{}/{}", update.namespace, update.name),
                    addresses = update.addresses.len(),
                    "Ingress status written"
                ),
                Err(e) => tracing::warn!(
                    ingress = %format!("{}/{}", update.namespace, update.name),
                    error = %e,
                    "cannot write Ingress status"
                ),
            }
        }
    }
}
