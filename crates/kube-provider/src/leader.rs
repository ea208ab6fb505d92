//! Leader election with a `coordination.k8s.io/v1` Lease.
//!
//! The same algorithm as client-go's `leaderelection` with a `LeaseLock`, reduced to what
//! portcullis needs (every replica serves traffic; only the leader writes Ingress status and
//! Events):
//!
//! - Every `retry` a candidate reads the Lease. Free (no holder), held by itself, or expired
//!   → it writes itself as holder with the Lease's `resourceVersion` (optimistic concurrency:
//!   of two candidates racing, the API server accepts exactly one write; the other gets 409).
//! - Expiry is judged on the candidate's own clock: the Lease is expired when its holder and
//!   `renewTime` have not changed for `leaseDurationSeconds` since this candidate last saw them
//!   change, so clock skew between nodes does not matter.
//! - A leader that could not renew for `renew_deadline` steps down before its Lease can be
//!   taken (renew_deadline < lease duration), so two leaders never write at once.
//! - On shutdown the leader releases the Lease (empty holder, 1 s duration) so a successor
//!   takes over at once.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::PostParams;
use kube::{Api, Client};
use tokio::sync::watch;
use tokio::time::Instant;

/// Where the Lease is and who we are.
#[derive(Debug, Clone)]
pub struct ElectionOptions {
    /// Name of the Lease (`--election-id`).
    pub lease_name: String,
    /// Namespace of the Lease (`--lease-namespace`).
    pub lease_namespace: String,
    /// This replica's identity, unique among the candidates.
    pub identity: String,
    /// `leaseDurationSeconds`; renew deadline and retry period are derived from it.
    pub lease_duration: Duration,
}

impl ElectionOptions {
    fn renew_deadline(&self) -> Duration {
        self.lease_duration * 2 / 3
    }

    fn retry(&self) -> Duration {
        (self.lease_duration / 7).max(Duration::from_millis(200))
    }
}

/// A default identity: `$POD_NAME` (or the host name) and the process id.
pub fn default_identity() -> String {
    let host = std::env::var("POD_NAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .ok()
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "portcullis".into());
    format!("{host}_{}", std::process::id())
}

/// The candidate's loop state.
pub struct Elector {
    api: Api<Lease>,
    opts: ElectionOptions,
    /// Holder and renewTime last seen, and when they were first seen (our clock).
    observed: Option<(Option<String>, Option<Timestamp>, Instant)>,
    last_renew: Option<Instant>,
    leader: watch::Sender<bool>,
}

impl std::fmt::Debug for Elector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Elector")
            .field("opts", &self.opts)
            .field("leader", &*self.leader.borrow())
            .finish()
    }
}

impl Elector {
    pub fn new(client: Client, opts: ElectionOptions) -> Self {
        Elector {
            api: Api::namespaced(client, &opts.lease_namespace),
            opts,
            observed: None,
            last_renew: None,
            leader: watch::Sender::new(false),
        }
    }

    /// Whether this replica leads, as a channel.
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.leader.subscribe()
    }

    /// Campaigns and renews until the task is dropped.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        loop {
            let result = self.try_acquire_or_renew().await;
            let now = Instant::now();
            match result {
                Ok(true) => self.last_renew = Some(now),
                Ok(false) => self.last_renew = None,
                Err(e) => {
                    tracing::warn!(error = %e, lease = %self.opts.lease_name, "cannot read or write the Lease")
                }
            }
            let leading = self
                .last_renew
                .is_some_and(|t| now.duration_since(t) < self.opts.renew_deadline());
            self.leader.send_if_modified(|l| {
                if *l != leading {
                    tracing::info!(identity = %self.opts.identity, leading, "leadership changed");
                    *l = leading;
                    true
                } else {
                    false
                }
            });
            tokio::select! {
                _ = tokio::time::sleep(self.opts.retry()) => {}
                _ = stop.wait_for(|s| *s) => break,
            }
        }
        if *self.leader.borrow() {
            self.leader.send_replace(false);
            match self.release().await {
                Ok(()) => tracing::info!("Lease released"),
                Err(e) => tracing::warn!(error = %e, "cannot release the Lease"),
            }
        }
    }

    /// One round: true when we hold the Lease after it.
    async fn try_acquire_or_renew(&mut self) -> Result<bool, kube::Error> {
        let now = Timestamp::now();
        let duration_secs = self.opts.lease_duration.as_secs().max(1) as i32;
        let Some(mut lease) = self.api.get_opt(&self.opts.lease_name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.opts.lease_name.clone()),
                    namespace: Some(self.opts.lease_namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.opts.identity.clone()),
                    lease_duration_seconds: Some(duration_secs),
                    acquire_time: Some(MicroTime(now)),
                    renew_time: Some(MicroTime(now)),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(s)) if s.is_already_exists() || s.is_conflict() => Ok(false),
                Err(e) => Err(e),
            };
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        let renew = spec.renew_time.as_ref().map(|t| t.0);
        let seen_at = match &self.observed {
            Some((h, r, at)) if *h == holder && *r == renew => *at,
            _ => {
                let at = Instant::now();
                self.observed = Some((holder.clone(), renew, at));
                at
            }
        };
        let their_duration =
            Duration::from_secs(spec.lease_duration_seconds.unwrap_or(duration_secs).max(0) as u64);
        let mine = holder.as_deref() == Some(self.opts.identity.as_str());
        let expired = holder.is_none() || seen_at.elapsed() >= their_duration;
        if !mine && !expired {
            return Ok(false);
        }
        if !mine {
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
            spec.acquire_time = Some(MicroTime(now));
        }
        spec.holder_identity = Some(self.opts.identity.clone());
        spec.renew_time = Some(MicroTime(now));
        spec.lease_duration_seconds = Some(duration_secs);
        match self
            .api
            .replace(&self.opts.lease_name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.is_conflict() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Gives the Lease up so another candidate takes it at once.
    async fn release(&self) -> Result<(), kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.opts.lease_name).await? else {
            return Ok(());
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if spec.holder_identity.as_deref() != Some(self.opts.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(MicroTime(Timestamp::now()));
        self.api
            .replace(&self.opts.lease_name, &PostParams::default(), &lease)
            .await
            .map(|_| ())
    }
}
