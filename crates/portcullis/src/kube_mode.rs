//! Kubernetes mode (`run --kubernetes` / `--kubeconfig PATH`): the flags become
//! [`KubeOptions`] and the [`KubeProvider`] feeds the same `Reloader` the manifest watcher
//! would. The data plane, the TLS resolver and the metrics are the same as in file mode.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use portcullis_control::Reloader;
use portcullis_kube_provider::{
    Debounce, ElectionOptions, KubeOptions, KubeProvider, Publish, default_identity,
};
use portcullis_proxy::Metrics;

use crate::cli::KubeArgs;
use crate::run::record;

/// Where the service account's namespace is mounted in a pod.
const SERVICE_ACCOUNT_NAMESPACE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/// Builds the client and starts the provider.
pub async fn start(
    args: &KubeArgs,
    reloader: Reloader,
    metrics: Arc<Metrics>,
) -> anyhow::Result<KubeProvider> {
    let publish = match (&args.publish_service, &args.publish_address) {
        (Some(s), _) => Some(Publish::service(s)?),
        (None, Some(a)) => Some(Publish::addresses(a)?),
        (None, None) => None,
    };
    let client = portcullis_kube_provider::client(args.kubeconfig.as_deref())
        .await
        .context("Kubernetes mode")?;
    let lease_namespace = args
        .lease_namespace
        .clone()
        .or_else(|| std::env::var("POD_NAMESPACE").ok())
        .or_else(|| {
            std::fs::read_to_string(SERVICE_ACCOUNT_NAMESPACE)
                .ok()
                .map(|s| s.trim().to_string())
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| client.default_namespace().to_string());
    let opts = KubeOptions {
        watch_namespace: args.watch_namespace.clone(),
        publish,
        election: ElectionOptions {
            lease_name: args.election_id.clone(),
            lease_namespace,
            identity: default_identity(),
            lease_duration: Duration::from_secs(args.lease_duration.max(2)),
        },
        debounce: Debounce::default(),
        status_resync: Duration::from_secs(30),
    };
    tracing::info!(
        namespace = opts.watch_namespace.as_deref().unwrap_or("(all)"),
        lease = %format!("{}/{}", opts.election.lease_namespace, opts.election.lease_name),
        identity = %opts.election.identity,
        "watching the Kubernetes API"
    );
    Ok(KubeProvider::start(
        client,
        opts,
        reloader,
        move |outcome| record(&metrics, outcome),
    ))
}
