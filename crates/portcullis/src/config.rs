//! The YAML config file: raw serde structs (stage one), then [`Settings`], the validated
//! values `run` and `check` use (stage two), with command-line flags applied on top.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use portcullis_proxy::ProxyConfig;
use serde::Deserialize;

use crate::cli::Sources;

/// The file as written. Every section is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileConfig {
    /// Manifests directory, relative to the config file.
    pub manifests: Option<PathBuf>,
    pub proxy: ProxyConfig,
    pub controller: ControllerConfig,
    pub tls: TlsConfig,
    pub logging: LoggingConfig,
    /// Demo origins started by `run --demo-backends`.
    pub demo_backends: Vec<DemoBackend>,
    /// The WAF ([`crate::waf_config`]).
    pub waf: Option<crate::waf_config::WafFileConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ControllerConfig {
    pub watch_ingress_without_class: bool,
    /// Quiet time after a change in the manifests directory before the rebuild.
    #[serde(with = "duration_text")]
    pub debounce: Duration,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            watch_ingress_without_class: false,
            debounce: Duration::from_millis(100),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM files of the certificate served for names without one; generated at start
    /// (self-signed) when unset.
    pub default_certificate: Option<CertFiles>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoggingConfig {
    /// `error`, `warn`, `info`, `debug`, `trace` or a tracing filter; RUST_LOG wins if set.
    pub level: String,
    pub format: LogFormat,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        LoggingConfig {
            level: "info".into(),
            format: LogFormat::Json,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Json,
    Text,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoBackend {
    pub name: String,
    pub addr: SocketAddr,
}

/// Validated settings: the config file with paths resolved and flags applied.
#[derive(Debug)]
pub struct Settings {
    pub manifests: PathBuf,
    pub proxy: ProxyConfig,
    pub watch_ingress_without_class: bool,
    pub debounce: Duration,
    pub default_certificate: Option<CertFiles>,
    pub logging: LoggingConfig,
    pub demo_backends: Vec<DemoBackend>,
    /// `None` when the config has no `waf:` section.
    pub waf: Option<crate::waf_config::WafConfig>,
}

impl Settings {
    pub fn load(sources: &Sources) -> anyhow::Result<Settings> {
        let (file, base) = match &sources.config {
            Some(path) => (
                read_file(path)?,
                path.parent().unwrap_or(Path::new(".")).to_path_buf(),
            ),
            None => (FileConfig::default(), PathBuf::from(".")),
        };
        let manifests = match (&sources.manifests, &file.manifests) {
            (Some(flag), _) => flag.clone(),
            (None, Some(rel)) => base.join(rel),
            (None, None) => bail!(
                "no manifests directory: pass --manifests DIR or set `manifests:` in the config file"
            ),
        };
        if !manifests.is_dir() {
            bail!(
                "manifests directory {} does not exist or is not a directory",
                manifests.display()
            );
        }
        let default_certificate = file.tls.default_certificate.map(|c| CertFiles {
            cert: base.join(c.cert),
            key: base.join(c.key),
        });
        let waf = match file.waf {
            Some(w) => Some(w.validate(&base)?),
            None => None,
        };
        Ok(Settings {
            waf,
            manifests,
            proxy: file.proxy,
            watch_ingress_without_class: sources.watch_ingress_without_class
                || file.controller.watch_ingress_without_class,
            debounce: file.controller.debounce,
            default_certificate,
            logging: file.logging,
            demo_backends: file.demo_backends,
        })
    }
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    serde_yaml::from_str(&text).map_err(|e| match e.location() {
        Some(loc) => anyhow::anyhow!("{}:{}:{}: {e}", path.display(), loc.line(), loc.column()),
        None => anyhow::anyhow!("{}: {e}", path.display()),
    })
}

/// Durations as `"100ms"`, `"2s"` (the proxy's parser, so both sections read alike).
mod duration_text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        portcullis_proxy::config::parse_duration(&text).ok_or_else(|| {
            serde::de::Error::custom(format!("invalid duration {text:?} (use e.g. 100ms, 2s)"))
        })
    }
}
