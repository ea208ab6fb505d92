//! TLS material: `kubernetes.io/tls` Secrets (PEM) → rustls [`CertifiedKey`]s.
//!
//! A Secret's `tls.crt` holds the certificate chain (leaf first) and `tls.key` the private key
//! (PKCS#8, PKCS#1 or SEC1), either base64 in `data` or plain in `stringData` (which wins, as
//! the API server merges it over `data`). The key is loaded with the ring provider and checked
//! against the leaf certificate. [`covers_host`] checks a certificate's names against an
//! Ingress host so a mismatch can be warned about. [`self_signed`] makes the default
//! certificate served when none is configured.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};

/// Key of the certificate chain in a TLS Secret.
pub const TLS_CERT_KEY: &str = "tls.crt";
/// Key of the private key in a TLS Secret.
pub const TLS_PRIVATE_KEY: &str = "tls.key";

/// Why a Secret could not be turned into a certificate.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CertError {
    #[error("Secret has no {0}")]
    MissingField(&'static str),
    #[error("{TLS_CERT_KEY} holds no PEM certificate")]
    NoCertificate,
    #[error("{field}: invalid PEM: {reason}")]
    Pem { field: &'static str, reason: String },
    #[error("private key unusable: {0}")]
    Key(rustls::Error),
    #[error("cannot generate a certificate: {0}")]
    Generate(String),
}

/// Builds a [`CertifiedKey`] from a PEM chain and a PEM private key.
pub fn certified_key_from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<CertifiedKey, CertError> {
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CertError::Pem {
            field: TLS_CERT_KEY,
            reason: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(CertError::NoCertificate);
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| CertError::Pem {
        field: TLS_PRIVATE_KEY,
        reason: e.to_string(),
    })?;
    let provider = rustls::crypto::ring::default_provider();
    CertifiedKey::from_der(chain, key, &provider).map_err(CertError::Key)
}

/// Builds a [`CertifiedKey`] from a `kubernetes.io/tls` Secret.
pub fn certified_key_from_secret(secret: &Secret) -> Result<CertifiedKey, CertError> {
    let cert = secret_field(secret, TLS_CERT_KEY).ok_or(CertError::MissingField(TLS_CERT_KEY))?;
    let key =
        secret_field(secret, TLS_PRIVATE_KEY).ok_or(CertError::MissingField(TLS_PRIVATE_KEY))?;
    certified_key_from_pem(cert, key)
}

/// A field of a Secret: `stringData` first, then (already base64-decoded) `data`.
fn secret_field<'a>(secret: &'a Secret, field: &str) -> Option<&'a [u8]> {
    if let Some(s) = secret.string_data.as_ref().and_then(|m| m.get(field)) {
        return Some(s.as_bytes());
    }
    secret
        .data
        .as_ref()
        .and_then(|m| m.get(field))
        .map(|b| b.0.as_slice())
}

/// Whether the leaf certificate of `key` is valid for `host` (`a.b` or `*.b`). A wildcard host
/// is checked with a representative name of one label under it.
pub fn covers_host(key: &CertifiedKey, host: &str) -> bool {
    let Some(leaf) = key.cert.first() else {
        return false;
    };
    let Ok(cert) = webpki::EndEntityCert::try_from(leaf) else {
        return false;
    };
    covers_host_parsed(&cert, host)
}

/// [`covers_host`] for an already parsed leaf certificate.
pub fn covers_host_parsed(cert: &webpki::EndEntityCert<'_>, host: &str) -> bool {
    let probe = match host.strip_prefix("*.") {
        Some(parent) => format!("portcullis-wildcard-probe.{parent}"),
        None => host.to_string(),
    };
    let Ok(name) = ServerName::try_from(probe) else {
        return false;
    };
    cert.verify_is_valid_for_subject_name(&name).is_ok()
}

/// A fresh self-signed certificate for `names` (the default certificate when none is
/// configured; also used by tests and benchmarks).
pub fn self_signed(names: &[&str]) -> Result<Arc<CertifiedKey>, CertError> {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let generated = rcgen::generate_simple_self_signed(names)
        .map_err(|e| CertError::Generate(e.to_string()))?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        generated.signing_key.serialize_der(),
    ));
    let provider = rustls::crypto::ring::default_provider();
    let ck = CertifiedKey::from_der(vec![generated.cert.der().clone()], key, &provider)
        .map_err(CertError::Key)?;
    Ok(Arc::new(ck))
}

/// A self-signed certificate and key as PEM strings, for writing test Secrets.
pub fn self_signed_pem(names: &[&str]) -> Result<(String, String), CertError> {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let generated = rcgen::generate_simple_self_signed(names)
        .map_err(|e| CertError::Generate(e.to_string()))?;
    Ok((generated.cert.pem(), generated.signing_key.serialize_pem()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trip_and_host_coverage() {
        let (cert, key) = self_signed_pem(&["myapp.com", "*.apps.example"]).unwrap();
        let ck = certified_key_from_pem(cert.as_bytes(), key.as_bytes()).unwrap();
        assert!(covers_host(&ck, "myapp.com"));
        assert!(covers_host(&ck, "x.apps.example"));
        assert!(covers_host(&ck, "*.apps.example"));
        assert!(!covers_host(&ck, "other.com"));
        assert!(!covers_host(&ck, "*.myapp.com"));
    }

    #[test]
    fn mismatched_key_is_rejected() {
        let (cert, _) = self_signed_pem(&["a.com"]).unwrap();
        let (_, other_key) = self_signed_pem(&["a.com"]).unwrap();
        let err = certified_key_from_pem(cert.as_bytes(), other_key.as_bytes()).unwrap_err();
        assert!(matches!(err, CertError::Key(_)), "{err}");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert_eq!(
            certified_key_from_pem(b"hello", b"world").unwrap_err(),
            CertError::NoCertificate
        );
        let (cert, _) = self_signed_pem(&["a.com"]).unwrap();
        assert!(matches!(
            certified_key_from_pem(cert.as_bytes(), b"nope").unwrap_err(),
            CertError::Pem { .. }
        ));
    }
}
