//! Helpers of the end-to-end tests against a real kube-apiserver (see scripts/e2e-kube.sh):
//! the environment the script exports, the admin client, the real `portcullis` binary in
//! Kubernetes mode, echo backends (the binary's `demo-backend`) and a tiny HTTP/1.1 client
//! (plain and TLS, keep-alive) that also returns the certificate the server presented.
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// What scripts/e2e-kube.sh exports.
pub struct Env {
    pub admin_kubeconfig: PathBuf,
    pub controller_kubeconfig: PathBuf,
    pub apiserver_start: PathBuf,
    pub apiserver_pidfile: PathBuf,
    /// etcd's client URL (its v3 JSON gateway).
    pub etcd: String,
    /// First three octets of the backend network (192.0.2 inside the script's namespace).
    pub net: String,
    pub bin: PathBuf,
}

impl Env {
    /// None (and a message) when the suite is not run by scripts/e2e-kube.sh.
    pub fn get() -> Option<Env> {
        let Ok(admin) = std::env::var("PORTCULLIS_E2E_KUBECONFIG") else {
            // Written past the test harness's capture so that it shows in a normal run.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: PORTCULLIS_E2E_KUBECONFIG is unset; run scripts/e2e-kube.sh to start a \
                 real kube-apiserver and run this suite against it"
            );
            return None;
        };
        let var = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} must be set"));
        Some(Env {
            admin_kubeconfig: admin.into(),
            controller_kubeconfig: var("PORTCULLIS_E2E_CONTROLLER_KUBECONFIG").into(),
            apiserver_start: var("PORTCULLIS_E2E_APISERVER_START").into(),
            apiserver_pidfile: var("PORTCULLIS_E2E_APISERVER_PIDFILE").into(),
            etcd: var("PORTCULLIS_E2E_ETCD"),
            net: var("PORTCULLIS_E2E_BACKEND_NET"),
            bin: var("PORTCULLIS_BIN").into(),
        })
    }

    pub async fn admin(&self) -> Client {
        portcullis_kube_provider::client(Some(&self.admin_kubeconfig))
            .await
            .expect("admin client")
    }

    /// `NET.last`.
    pub fn ip(&self, last: u8) -> String {
        format!("{}.{last}", self.net)
    }
}

/// A child process, SIGTERMed (then killed) on drop.
pub struct Proc {
    pub child: Child,
    pub log: PathBuf,
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .args([sig, &self.pid().to_string()])
            .status();
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Log lines where the API server refused a permission. Refusals naming a Role or
    /// binding "not found" are left out: right after an API server (re)start its RBAC
    /// authorizer answers from caches that are still filling, which is not a missing grant.
    pub fn forbidden_lines(&self) -> Vec<String> {
        forbidden_lines_in(&self.log_text())
    }
}

/// [`Proc::forbidden_lines`] of a piece of a log.
pub fn forbidden_lines_in(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.to_ascii_lowercase().contains("forbidden") && !l.contains("not found"))
        .map(str::to_string)
        .collect()
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.signal("-TERM");
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where process logs go: the script's work directory (kept when the suite fails, removed
/// when it passes), else the temp directory.
fn log_dir() -> PathBuf {
    std::env::var_os("PORTCULLIS_E2E_WORKDIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
}

fn spawn(bin: &PathBuf, args: &[String], log: PathBuf) -> Proc {
    let out = std::fs::File::create(&log).expect("log file");
    let child = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("spawn portcullis");
    Proc { child, log }
}

/// An echo backend answering `hello from NAME` on `addr`.
pub fn backend(env: &Env, name: &str, addr: &str) -> Proc {
    let log = log_dir().join(format!("backend-{name}-{}.log", std::process::id()));
    spawn(
        &env.bin,
        &[
            "demo-backend".into(),
            "--listen".into(),
            addr.into(),
            "--name".into(),
            name.into(),
        ],
        log,
    )
}

/// Loopback ports of one controller.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub http: u16,
    pub https: u16,
    pub admin: u16,
}

impl Ports {
    pub fn nth(n: u16) -> Ports {
        Ports {
            http: 18080 + n * 10,
            https: 18443 + n * 10,
            admin: 19180 + n * 10,
        }
    }
}

/// Starts `portcullis run --kubeconfig <deploy/'s ServiceAccount token>`.
pub fn controller(env: &Env, tag: &str, ports: Ports, extra: &[&str]) -> Proc {
    controller_as(env, &env.controller_kubeconfig, tag, ports, extra)
}

/// Starts `portcullis run --kubeconfig KUBECONFIG` (another identity than deploy/'s).
pub fn controller_as(
    env: &Env,
    kubeconfig: &std::path::Path,
    tag: &str,
    ports: Ports,
    extra: &[&str],
) -> Proc {
    let log = log_dir().join(format!("portcullis-{tag}-{}.log", std::process::id()));
    let mut args: Vec<String> = vec![
        "run".into(),
        "--kubeconfig".into(),
        kubeconfig.display().to_string(),
        "--http-addr".into(),
        format!("127.0.0.1:{}", ports.http),
        "--https-addr".into(),
        format!("127.0.0.1:{}", ports.https),
        "--admin-addr".into(),
        format!("127.0.0.1:{}", ports.admin),
        "--lease-namespace".into(),
        "portcullis".into(),
        "--election-id".into(),
        "portcullis-leader".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    spawn(&env.bin, &args, log)
}

/// A kubeconfig like the controller's, authenticating with a token of ServiceAccount
/// `portcullis/NAME` (TokenRequest by the admin): a controller with other grants than deploy/'s.
pub async fn kubeconfig_for_service_account(env: &Env, client: &Client, name: &str) -> PathBuf {
    use k8s_openapi::api::authentication::v1::TokenRequest;
    use k8s_openapi::api::core::v1::ServiceAccount;
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "portcullis");
    let request: TokenRequest = serde_json::from_value(
        serde_json::json!({ "spec": { "audiences": [], "expirationSeconds": 3600 } }),
    )
    .unwrap();
    let token = accounts
        .create_token_request(name, &Default::default(), &request)
        .await
        .unwrap_or_else(|e| panic!("token of {name}: {e}"))
        .status
        .and_then(|s| s.token)
        .expect("a token in the TokenRequest status");
    let text = std::fs::read_to_string(&env.controller_kubeconfig).expect("controller kubeconfig");
    let start = text.find("token: \"").expect("token in kubeconfig") + "token: \"".len();
    let end = start + text[start..].find('"').expect("end of token");
    let path = log_dir().join(format!("{name}-{}.kubeconfig", std::process::id()));
    std::fs::write(&path, format!("{}{token}{}", &text[..start], &text[end..])).unwrap();
    path
}

/// Waits until `/readyz` of a controller answers 200.
pub async fn wait_ready(ports: Ports, within: Duration) {
    let start = Instant::now();
    while start.elapsed() < within {
        if let Ok(r) = http_get(ports.admin, "localhost", "/readyz").await
            && r.status == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "controller on admin port {} never became ready",
        ports.admin
    );
}

/// Polls `check` every 5 ms until it returns true; the time it took, or None after `within`.
pub async fn until<F, Fut>(within: Duration, mut check: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < within {
        if check().await {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    None
}

/// Server-side apply of a JSON manifest (create or update).
pub async fn apply<K>(api: &Api<K>, obj: serde_json::Value) -> K
where
    K: kube::Resource + Clone + DeserializeOwned + Serialize + std::fmt::Debug,
{
    let name = obj["metadata"]["name"].as_str().expect("name").to_string();
    api.patch(
        &name,
        &PatchParams::apply("e2e").force(),
        &Patch::Apply(&obj),
    )
    .await
    .unwrap_or_else(|e| panic!("apply {name}: {e}"))
}

pub async fn delete<K>(api: &Api<K>, name: &str)
where
    K: kube::Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let _ = api.delete(name, &DeleteParams::default()).await;
}

/// Percentile (0..=100) of measured durations.
pub fn percentile(samples: &mut [Duration], p: usize) -> Duration {
    samples.sort();
    let i = ((samples.len() * p).div_ceil(100)).clamp(1, samples.len()) - 1;
    samples[i]
}

/// One HTTP response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

/// GET over plain HTTP to 127.0.0.1:`port` with `Host: host` (connection closed after).
pub async fn http_get(port: u16, host: &str, path: &str) -> std::io::Result<Response> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await?;
    request(&mut s, host, path, true).await
}

/// Sends one request and reads one response (Content-Length or until close).
pub async fn request<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    host: &str,
    path: &str,
    close: bool,
) -> std::io::Result<Response> {
    let conn = if close { "close" } else { "keep-alive" };
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: {conn}\r\n\r\n");
    s.write_all(req.as_bytes()).await?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::other("connection closed before the head"));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line: {head}")))?;
    let length = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse::<usize>().ok())
            .flatten()
    });
    let mut body = buf[head_end..].to_vec();
    match length {
        Some(len) => {
            while body.len() < len {
                let n = s.read(&mut chunk).await?;
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
            }
        }
        None => {
            s.read_to_end(&mut body).await?;
        }
    }
    Ok(Response {
        status,
        body: String::from_utf8_lossy(&body).to_string(),
    })
}

/// A TLS connection to 127.0.0.1:`port` with SNI `name`; returns the stream and the leaf
/// certificate the server presented (not verified: the test compares it with the Secret's).
pub async fn tls_connect(
    port: u16,
    name: &str,
) -> std::io::Result<(tokio_rustls::client::TlsStream<TcpStream>, Vec<u8>)> {
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(std::io::Error::other)?
    .dangerous()
    .with_custom_certificate_verifier(Arc::new(AcceptAny))
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
    let sni =
        rustls::pki_types::ServerName::try_from(name.to_string()).map_err(std::io::Error::other)?;
    let stream = connector.connect(sni, tcp).await?;
    let leaf = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.as_ref().to_vec())
        .unwrap_or_default();
    Ok((stream, leaf))
}

/// Accepts any certificate: the tests check WHICH certificate is served, by comparing bytes.
#[derive(Debug)]
struct AcceptAny;

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A self-signed certificate for `host`: (cert PEM, key PEM, cert DER).
pub fn certificate(host: &str) -> (String, String, Vec<u8>) {
    let key = rcgen::KeyPair::generate().expect("key");
    let params = rcgen::CertificateParams::new(vec![host.to_string()]).expect("params");
    let cert = params.self_signed(&key).expect("cert");
    (cert.pem(), key.serialize_pem(), cert.der().to_vec())
}

/// `/metrics` value of `portcullis_reloads_total{result="ok"}`.
pub async fn reloads_ok(ports: Ports) -> u64 {
    let r = http_get(ports.admin, "localhost", "/metrics")
        .await
        .expect("metrics");
    r.body
        .lines()
        .find_map(|l| l.strip_prefix("portcullis_reloads_total{result=\"ok\"} "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as u64)
        .unwrap_or(0)
}

/// The addresses (IP or hostname) in an Ingress's `.status.loadBalancer.ingress`; None when
/// the Ingress cannot be read.
pub async fn status_addresses(
    api: &Api<k8s_openapi::api::networking::v1::Ingress>,
    name: &str,
) -> Option<Vec<String>> {
    let ingress = api.get(name).await.ok()?;
    Some(
        ingress
            .status
            .and_then(|s| s.load_balancer)
            .and_then(|l| l.ingress)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|e| e.ip.or(e.hostname))
            .collect(),
    )
}

/// Creates a namespace (server-side apply).
pub async fn namespace(client: &Client, name: &str) {
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    apply(
        &namespaces,
        serde_json::json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": name } }),
    )
    .await;
}
