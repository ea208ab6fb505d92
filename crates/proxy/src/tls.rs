//! TLS termination: a rustls server configuration whose certificate resolver reads the live
//! snapshot on every handshake.
//!
//! The resolver loads the `SharedSnapshot` and asks its `TlsStore` for the SNI name: a changed
//! Secret is in the next snapshot and is served by the next handshake, without restart.
//! Unknown names and clients without SNI get the store's default certificate. TLS 1.2 and 1.3
//! only; ALPN offers `h2` then `http/1.1`; the crypto provider is `ring`, chosen explicitly
//! (no process-wide default is needed).

use std::sync::Arc;

use portcullis_snapshot::SharedSnapshot;
use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// Resolves the certificate from the snapshot current at handshake time.
#[derive(Debug)]
pub struct SnapshotCertResolver {
    shared: SharedSnapshot,
}

impl SnapshotCertResolver {
    pub fn new(shared: SharedSnapshot) -> Self {
        SnapshotCertResolver { shared }
    }
}

impl ResolvesServerCert for SnapshotCertResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.shared.load().tls.resolve(hello.server_name()))
    }
}

/// The server configuration used by the HTTPS listener.
pub fn server_config(shared: SharedSnapshot) -> Result<Arc<ServerConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(SnapshotCertResolver::new(shared)));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config.ticketer = rustls::crypto::ring::Ticketer::new()?;
    Ok(Arc::new(config))
}
