//! Errors of the Kubernetes provider. Only start-up can fail: once running, API errors are
//! retried with backoff and logged, and the last snapshot keeps serving.

use std::path::PathBuf;

/// Why the provider could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The kubeconfig file could not be read or parsed.
    #[error("cannot read kubeconfig {path}: {source}")]
    Kubeconfig {
        path: PathBuf,
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// Neither in-cluster configuration nor a kubeconfig could be found.
    #[error("cannot infer a Kubernetes configuration (in-cluster or $KUBECONFIG): {0}")]
    Infer(#[from] kube::config::InferConfigError),
    /// The client could not be built from the configuration (TLS material, proxy, …).
    #[error("cannot build the Kubernetes client: {0}")]
    Client(#[from] kube::Error),
    /// `--publish-service` is not `NAMESPACE/NAME`.
    #[error("invalid publish service {0:?}: expected NAMESPACE/NAME")]
    PublishService(String),
    /// `--publish-address` names neither an IP address nor a DNS name.
    #[error("invalid publish address {0:?}: expected an IP address or a DNS name")]
    PublishAddress(String),
}
