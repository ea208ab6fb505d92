//! Command-line interface (clap). Flag names are stable: scripts rely on them.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "portcullis",
    version,
    about = "Kubernetes L7 ingress controller with a WAF"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve traffic: HTTP/HTTPS listeners, admin endpoints, hot reload of the manifests.
    Run(Box<RunArgs>),
    /// Validate a config file and a manifests directory; exit 1 when there are errors.
    Check(CheckArgs),
    /// Run one demo origin (albedo-compatible: any path → 200, POST /reflect).
    DemoBackend(DemoBackendArgs),
    /// WAF tools.
    #[command(subcommand)]
    Waf(crate::waf_cmd::WafCommand),
}

/// Where the configuration comes from; shared by `run` and `check`.
#[derive(Debug, Args, Clone)]
pub struct Sources {
    /// YAML config file (listeners, timeouts, limits, admin, logging).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory of Kubernetes manifests (Ingress, IngressClass, Service, EndpointSlice,
    /// TLS Secret); overrides `manifests:` of the config file.
    #[arg(long, value_name = "DIR")]
    pub manifests: Option<PathBuf>,
    /// Serve Ingresses that name no class even when our IngressClass is not the default.
    #[arg(long)]
    pub watch_ingress_without_class: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub sources: Sources,
    /// Plain HTTP listener (HTTP/1.1 and h2c), e.g. 0.0.0.0:8080.
    #[arg(long, value_name = "ADDR")]
    pub http_addr: Option<SocketAddr>,
    /// HTTPS listener (TLS 1.2/1.3, ALPN h2 and http/1.1), e.g. 0.0.0.0:8443.
    #[arg(long, value_name = "ADDR")]
    pub https_addr: Option<SocketAddr>,
    /// Admin listener (/healthz, /readyz, /metrics), loopback by default.
    #[arg(long, value_name = "ADDR")]
    pub admin_addr: Option<SocketAddr>,
    /// Also start the demo backends listed under `demo_backends:` in the config file.
    #[arg(long)]
    pub demo_backends: bool,
    #[command(flatten)]
    pub kube: KubeArgs,
}

/// Kubernetes mode: watch the API server instead of a manifests directory.
#[derive(Debug, Args, Clone)]
pub struct KubeArgs {
    /// Watch the Kubernetes API with the in-cluster configuration (or $KUBECONFIG) instead of
    /// a manifests directory.
    #[arg(long, conflicts_with = "manifests")]
    pub kubernetes: bool,
    /// Watch the Kubernetes API with this kubeconfig (implies --kubernetes).
    #[arg(long, value_name = "PATH", conflicts_with = "manifests")]
    pub kubeconfig: Option<PathBuf>,
    /// Watch only this namespace (IngressClasses are cluster-scoped and always watched).
    #[arg(long, value_name = "NS")]
    pub watch_namespace: Option<String>,
    /// Publish this Service's load-balancer addresses in the status of served Ingresses.
    #[arg(
        long,
        value_name = "NAMESPACE/NAME",
        conflicts_with = "publish_address"
    )]
    pub publish_service: Option<String>,
    /// Publish these addresses (IPs or DNS names, comma-separated) in the Ingress status.
    #[arg(long, value_name = "ADDR[,ADDR...]")]
    pub publish_address: Option<String>,
    /// Name of the coordination.k8s.io/v1 Lease used for leader election.
    #[arg(long, value_name = "NAME", default_value = "portcullis-leader")]
    pub election_id: String,
    /// Namespace of the Lease (default: $POD_NAMESPACE, else the client's namespace).
    #[arg(long, value_name = "NS")]
    pub lease_namespace: Option<String>,
    /// Lease duration in seconds (renew deadline and retry period are derived from it).
    #[arg(long, value_name = "SECONDS", default_value_t = 15)]
    pub lease_duration: u64,
}

impl KubeArgs {
    /// Whether Kubernetes mode is on.
    pub fn enabled(&self) -> bool {
        self.kubernetes || self.kubeconfig.is_some()
    }
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub sources: Sources,
}

#[derive(Debug, Args)]
pub struct DemoBackendArgs {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9001")]
    pub listen: SocketAddr,
    /// Name the backend reports in its answers.
    #[arg(long, default_value = "demo")]
    pub name: String,
}
