//! Log output: JSON lines by default (the access log is one JSON line per request on the
//! `access` target), or human-readable text. `RUST_LOG` overrides the configured level.

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LoggingConfig};

pub fn init(config: &LoggingConfig) {
    let filter = EnvFilter::try_from_default_env()
        // rustls logs a warning per handshake for clients that send an IP address as SNI
        // (wrk, some health checkers); that is not actionable, so rustls speaks at error only.
        .or_else(|_| EnvFilter::try_new(format!("{},rustls=error", config.level)))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
