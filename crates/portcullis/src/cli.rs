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
    Run(RunArgs),
    /// Validate a config file and a manifests directory; exit 1 when there are errors.
    Check(CheckArgs),
    /// Run one demo origin (albedo-compatible: any path → 200, POST /reflect).
    DemoBackend(DemoBackendArgs),
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
