//! portcullis-kube-provider: the control plane's Kubernetes side.
//!
//! ```text
//!  kube-apiserver ──watch──► 6 reflectors ──dirty──► debounced rebuild ──► Reloader (shared
//!   (Ingress, IngressClass,      (stores)              (full ObjectSet)      translate, one
//!    Service, EndpointSlice,                                │                 ArcSwap store)
//!    TLS Secret, ConfigMap)                                 ▼
//!                         Lease ──leader?──► status writer + Events (leader only)
//! ```
//!
//! - [`reflectors`]: one `kube_runtime` reflector per kind, relist on `410 Gone`, default
//!   backoff while the API server is away (the last snapshot keeps serving meanwhile);
//!   `--watch-namespace` scopes every namespaced kind.
//! - [`config_maps`]: only ConfigMaps an Ingress names (WAF exclusion rules) reach the
//!   translation or trigger a rebuild.
//! - [`rebuild`]: debounced rebuild from the full stores through the SAME
//!   [`portcullis_control::translate()`] as file mode; nothing is stored before every kind's
//!   first list, so `/readyz` turns 200 only with the cluster's complete state.
//! - [`leader`]: leader election with a `coordination.k8s.io/v1` Lease.
//! - [`status`]: `.status.loadBalancer.ingress` from `--publish-service`/`--publish-address`.
//! - [`events`]: rate-limited Events on Ingresses that cannot be served as written.
//!
//! The binary builds a [`kube::Client`] with [`client`] and calls [`KubeProvider::start`]
//! with the same `Reloader` it would give the manifest watcher.

pub mod config_maps;
pub mod error;
pub mod events;
pub mod leader;
mod provider;
pub mod rebuild;
pub mod reflectors;
pub mod status;

use std::path::Path;

pub use error::Error;
pub use kube::Client;
pub use leader::{ElectionOptions, default_identity};
pub use provider::{KubeOptions, KubeProvider, RebuildTrigger};
pub use rebuild::Debounce;
pub use status::Publish;

/// A client from `kubeconfig` when given, else the inferred configuration (in-cluster
/// service account, then `$KUBECONFIG` / `~/.kube/config`).
pub async fn client(kubeconfig: Option<&Path>) -> Result<Client, Error> {
    let config = match kubeconfig {
        Some(path) => {
            let file =
                kube::config::Kubeconfig::read_from(path).map_err(|source| Error::Kubeconfig {
                    path: path.to_path_buf(),
                    source,
                })?;
            kube::Config::from_custom_kubeconfig(file, &Default::default())
                .await
                .map_err(|source| Error::Kubeconfig {
                    path: path.to_path_buf(),
                    source,
                })?
        }
        None => kube::Config::infer().await?,
    };
    Ok(Client::try_from(config)?)
}
