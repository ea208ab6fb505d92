//! TLS end to end with a real TLS client (openssl s_client): SNI picks the Secret's
//! certificate, other names get the default certificate, and a changed Secret file is served
//! without a restart.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::*;

fn openssl_available() -> bool {
    Command::new("openssl").arg("version").output().is_ok()
}

/// A self-signed certificate (PEM cert, PEM key) for the DNS name `cn` with subject `subject`,
/// made now with openssl in `dir`.
fn make_cert(dir: &std::path::Path, cn: &str, subject: &str) -> (String, String) {
    std::fs::create_dir_all(dir).unwrap();
    let (crt, key) = (dir.join(format!("{cn}.crt")), dir.join(format!("{cn}.key")));
    let st = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&crt)
        .args([
            "-subj",
            subject,
            "-addext",
            &format!("subjectAltName=DNS:{cn}"),
        ])
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    (
        std::fs::read_to_string(crt).unwrap(),
        std::fs::read_to_string(key).unwrap(),
    )
}

fn secret_yaml(name: &str, crt: &str, key: &str) -> String {
    use base64::Engine as _;
    let b64 = &base64::engine::general_purpose::STANDARD;
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{ name: {name}, namespace: default }}\ntype: kubernetes.io/tls\ndata:\n  tls.crt: {}\n  tls.key: {}\n",
        b64.encode(crt.as_bytes()),
        b64.encode(key.as_bytes())
    )
}

/// The subject the server presents for `sni`.
fn served_subject(addr: std::net::SocketAddr, sni: &str) -> String {
    let mut child = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &addr.to_string(),
            "-servername",
            sni,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(b"");
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .find(|l| l.starts_with("subject="))
        .unwrap_or("subject=<none>")
        .to_string()
}

#[test]
fn sni_selects_certificates_and_a_changed_secret_is_served_without_restart() {
    if !openssl_available() {
        eprintln!("skipping: openssl not installed (scripts/test-all.sh installs it)");
        return;
    }
    let s = Scratch::new("tls");
    let (_a, addr) = demo_backend("alpha");
    let (crt1, key1) = make_cert(&s.0.join("v1"), "secure.test", "/CN=secure.test");
    s.write_manifest("svc.yaml", &service_yaml("alpha", addr));
    s.write_manifest("secret.yaml", &secret_yaml("secure-tls", &crt1, &key1));
    let ing = ingress_yaml("secure", "secure.test", &[("/", "alpha")]).replace(
        "spec:\n",
        "spec:\n  tls:\n    - hosts: [secure.test]\n      secretName: secure-tls\n",
    );
    s.write_manifest("ing.yaml", &ing);
    let p = start(
        &s,
        "proxy:\n  access_log: false\ncontroller:\n  debounce: 10ms\n",
        true,
    );

    let first = served_subject(p.https, "secure.test");
    assert!(
        first.contains("CN") && first.contains("secure.test"),
        "{first}"
    );
    let other = served_subject(p.https, "unknown.test");
    assert!(
        !other.contains("secure.test"),
        "unknown names get the default cert: {other}"
    );

    // Replace the Secret with a certificate whose subject differs (same SAN).
    let before = p.metric("portcullis_snapshot_generation").unwrap();
    let (crt2, key2) = make_cert(&s.0.join("v2"), "secure.test", "/CN=secure.test/O=rotated");
    s.write_manifest("secret.yaml", &secret_yaml("secure-tls", &crt2, &key2));
    p.wait_generation(before + 1.0);
    let rotated = served_subject(p.https, "secure.test");
    assert!(
        rotated.contains("rotated"),
        "new certificate not served: {rotated}"
    );
}
