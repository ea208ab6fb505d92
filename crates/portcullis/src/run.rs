//! `portcullis run`: wires a provider (the manifests directory, or the Kubernetes API with
//! `--kubernetes`/`--kubeconfig`, see [`crate::kube_mode`]) to the data plane.
//!
//! ```text
//! manifests dir ──ManifestWatcher──┐
//! kube API ─────KubeProvider───────┴─► Reloader (translate) ──store──► ArcSwap<Snapshot>
//!                                                                        │ load per request
//!                                          listeners ◄── portcullis_proxy::Server
//! ```

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use arc_swap::ArcSwap;
use portcullis_control::{
    ManifestWatcher, ReloadOutcome, Reloader, TranslateOptions, WatchOptions,
};
use portcullis_proxy::{Metrics, Server};
use portcullis_snapshot::{SharedSnapshot, Snapshot, TlsStore};
use rustls::sign::CertifiedKey;

use crate::cli::{DemoBackendArgs, KubeArgs, RunArgs};
use crate::config::Settings;
use crate::{demo_backend, kube_mode, logging};

/// The certificate for SNI names without one: from the config file, else self-signed.
pub fn default_certificate(settings: &Settings) -> anyhow::Result<Arc<CertifiedKey>> {
    match &settings.default_certificate {
        Some(files) => {
            let cert = std::fs::read(&files.cert)
                .with_context(|| format!("cannot read {}", files.cert.display()))?;
            let key = std::fs::read(&files.key)
                .with_context(|| format!("cannot read {}", files.key.display()))?;
            let ck = portcullis_control::tls::certified_key_from_pem(&cert, &key)
                .with_context(|| format!("default certificate {}", files.cert.display()))?;
            Ok(Arc::new(ck))
        }
        None => portcullis_control::tls::self_signed(&["portcullis-default.invalid"])
            .context("cannot generate the default certificate"),
    }
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let kube = args.kube.enabled().then(|| args.kube.clone());
    let mut sources = args.sources.clone();
    if kube.is_some() {
        // Settings requires a manifests directory; Kubernetes mode reads none (clap rejects
        // --manifests with --kubernetes), so any existing directory satisfies the check.
        sources.manifests = Some(".".into());
    }
    let mut settings = Settings::load(&sources)?;
    logging::init(&settings.logging);
    if let Some(a) = args.http_addr {
        settings.proxy.http_addr = Some(a);
    }
    if let Some(a) = args.https_addr {
        settings.proxy.https_addr = Some(a);
    }
    if let Some(a) = args.admin_addr {
        settings.proxy.admin_addr = a;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // WAF log lines are kept until a runtime thread goes idle or stops.
        .on_thread_park(portcullis_proxy::waf::log::flush_thread)
        .on_thread_stop(portcullis_proxy::waf::log::stop_thread)
        .build()
        .context("cannot start the tokio runtime")?;
    let served = runtime.block_on(serve(settings, args.demo_backends, kube));
    drop(runtime);
    // WAF log lines still kept in the batch.
    portcullis_proxy::waf::log::flush();
    served
}

/// The running provider, stopped on shutdown.
enum Provider {
    Files(ManifestWatcher),
    Kube(portcullis_kube_provider::KubeProvider),
}

async fn serve(
    settings: Settings,
    demo_backends: bool,
    kube: Option<KubeArgs>,
) -> anyhow::Result<ExitCode> {
    let default_cert = default_certificate(&settings)?;
    let shared: SharedSnapshot = Arc::new(ArcSwap::from_pointee(Snapshot::empty(TlsStore::new(
        default_cert.clone(),
    ))));
    let metrics = Arc::new(Metrics::new());

    if demo_backends {
        for b in &settings.demo_backends {
            let addr = demo_backend::spawn(b.name.clone(), b.addr).await?;
            tracing::info!(name = %b.name, %addr, "demo backend listening");
        }
    }

    let mut opts = TranslateOptions::new(default_cert);
    opts.watch_ingress_without_class = settings.watch_ingress_without_class;
    let waf = match &settings.waf {
        Some(w) => Some(w.start()?),
        None => None,
    };
    opts.waf = waf.clone();
    let reloader = Reloader::new(shared.clone(), opts);
    let provider = match &kube {
        Some(args) => {
            let p = kube_mode::start(args, reloader, metrics.clone()).await?;
            // Rule-file changes rebuild through the provider's own debounced trigger.
            if let (Some(policies), Some(cfg)) = (waf, &settings.waf) {
                let trigger = p.rebuild_trigger();
                crate::waf_config::watch_rules(policies, cfg.poll_interval, move || {
                    trigger.trigger()
                });
            }
            Provider::Kube(p)
        }
        None => Provider::Files(watch_files(&settings, reloader, &metrics, waf)?),
    };

    let handle = Server::start(settings.proxy.clone(), shared, metrics)
        .await
        .context("cannot start the listeners")?;
    tracing::info!(
        http = ?handle.http_addr(),
        https = ?handle.https_addr(),
        admin = %handle.admin_addr(),
        source = %match &provider {
            Provider::Files(_) => settings.manifests.display().to_string(),
            Provider::Kube(_) => "kubernetes".to_string(),
        },
        "portcullis is serving"
    );

    wait_for_signal().await;
    tracing::info!("shutting down: no new connections, draining in-flight requests");
    match provider {
        Provider::Files(watcher) => watcher.stop(),
        Provider::Kube(p) => p.stop().await,
    }
    let report = handle.shutdown().await;
    tracing::info!(?report, "stopped");
    Ok(ExitCode::SUCCESS)
}

/// File mode: load the directory once, then watch it.
fn watch_files(
    settings: &Settings,
    reloader: Reloader,
    metrics: &Arc<Metrics>,
    waf: Option<Arc<portcullis_control::waf_policy::WafPolicies>>,
) -> anyhow::Result<ManifestWatcher> {
    // Shared with the WAF rules watcher, which rebuilds when rule files change.
    let reloader = Arc::new(std::sync::Mutex::new(reloader));
    let lock = |r: &std::sync::Mutex<Reloader>| {
        r.lock()
            .unwrap_or_else(|p| p.into_inner())
            .reload_dir(&settings.manifests)
    };
    record(metrics, &lock(&reloader));
    if let (Some(policies), Some(cfg)) = (waf, &settings.waf) {
        let (r, m, dir) = (
            reloader.clone(),
            metrics.clone(),
            settings.manifests.clone(),
        );
        crate::waf_config::watch_rules(policies, cfg.poll_interval, move || {
            let outcome = r.lock().unwrap_or_else(|p| p.into_inner()).reload_dir(&dir);
            record(&m, &outcome);
        });
    }
    let watch_metrics = metrics.clone();
    ManifestWatcher::spawn(
        settings.manifests.clone(),
        WatchOptions {
            debounce: settings.debounce,
            ..WatchOptions::default()
        },
        move |load| {
            let outcome = reloader
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .apply_load(load);
            record(&watch_metrics, &outcome);
        },
    )
    .with_context(|| format!("cannot watch {}", settings.manifests.display()))
}

pub(crate) fn record(metrics: &Metrics, outcome: &ReloadOutcome) {
    if outcome.is_applied() {
        metrics.reload_ok();
    } else {
        metrics.reload_failed();
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

pub fn demo_backend(args: DemoBackendArgs) -> anyhow::Result<ExitCode> {
    logging::init(&Default::default());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    runtime.block_on(async {
        let addr = demo_backend::spawn(args.name.clone(), args.listen).await?;
        tracing::info!(name = %args.name, %addr, "demo backend listening");
        wait_for_signal().await;
        Ok(ExitCode::SUCCESS)
    })
}
