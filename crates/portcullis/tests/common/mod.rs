//! Helpers for the binary's end-to-end tests: a scratch directory, the real `portcullis`
//! binary started on loopback ports, demo backends (the binary's own `demo-backend`
//! subcommand) and a small blocking HTTP/1.1 keep-alive client.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_portcullis");

/// A fresh directory under the system temp dir, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "portcullis-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("manifests")).unwrap();
        Scratch(dir)
    }

    pub fn manifests(&self) -> PathBuf {
        self.0.join("manifests")
    }

    /// Writes a manifest atomically (write + rename), as editors and kubectl-style tools do.
    pub fn write_manifest(&self, name: &str, text: &str) {
        let tmp = self.0.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, self.manifests().join(name)).unwrap();
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed on drop.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `portcullis demo-backend` named `name` on a free port.
pub fn demo_backend(name: &str) -> (Proc, SocketAddr) {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let child = Command::new(BIN)
        .args([
            "demo-backend",
            "--listen",
            &addr.to_string(),
            "--name",
            name,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_tcp(addr);
    (Proc(child), addr)
}

pub fn wait_tcp(addr: SocketAddr) {
    let start = Instant::now();
    while TcpStream::connect(addr).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{addr} never listened"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The running proxy and its addresses.
pub struct Portcullis {
    pub proc: Proc,
    pub http: SocketAddr,
    pub https: SocketAddr,
    pub admin: SocketAddr,
    pub log: PathBuf,
}

/// Starts the real binary with `config` (YAML text) on free loopback ports and waits for
/// the admin listener; `ready` also waits for /readyz 200. A free port can be taken by a
/// parallel test between `free_port` and the bind: a process that exits before listening is
/// started again on new ports (three tries); otherwise the panic shows its log.
pub fn start(scratch: &Scratch, config: &str, ready: bool) -> Portcullis {
    let cfg = scratch.0.join("portcullis.yaml");
    std::fs::write(&cfg, config).unwrap();
    let mut tries = 0;
    let p = loop {
        tries += 1;
        let http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let https: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let log = scratch.0.join("portcullis.log");
        let child = Command::new(BIN)
            .arg("run")
            .arg("--config")
            .arg(&cfg)
            .arg("--manifests")
            .arg(scratch.manifests())
            .args(["--http-addr", &http.to_string()])
            .args(["--https-addr", &https.to_string()])
            .args(["--admin-addr", &admin.to_string()])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut p = Portcullis {
            proc: Proc(child),
            http,
            https,
            admin,
            log,
        };
        let started = Instant::now();
        let exited = loop {
            if TcpStream::connect(admin).is_ok() {
                break false;
            }
            if p.proc.0.try_wait().ok().flatten().is_some() {
                break true;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{admin} never listened; log:\n{}",
                p.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        if !exited {
            break p;
        }
        assert!(
            tries < 3,
            "portcullis exited before listening; log:\n{}",
            p.log_text()
        );
    };
    if ready {
        let start = Instant::now();
        while get(p.admin, "/readyz", "localhost").0 != 200 {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "never ready; log:\n{}",
                p.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    p
}

impl Portcullis {
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The value of a series from /metrics, named with its labels exactly as exposed,
    /// e.g. `portcullis_snapshot_generation` or `portcullis_reloads_total{result="ok"}`.
    pub fn metric(&self, series: &str) -> Option<f64> {
        let (_, body) = get(self.admin, "/metrics", "localhost");
        body.lines()
            .filter_map(|l| l.rsplit_once(' '))
            .find(|(k, _)| *k == series)
            .and_then(|(_, v)| v.parse().ok())
    }

    /// Waits until the snapshot generation is at least `n`.
    pub fn wait_generation(&self, n: f64) {
        let start = Instant::now();
        while self.metric("portcullis_snapshot_generation").unwrap_or(0.0) < n {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "generation {n} never reached; log:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// One GET on a new connection: (status, body).
pub fn get(addr: SocketAddr, path: &str, host: &str) -> (u16, String) {
    let mut c = Client::connect(addr);
    c.get(path, host).unwrap_or((0, String::new()))
}

/// A blocking HTTP/1.1 keep-alive client (Content-Length and chunked responses).
pub struct Client {
    reader: BufReader<TcpStream>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Client {
            reader: BufReader::new(s),
        }
    }

    pub fn get(&mut self, path: &str, host: &str) -> std::io::Result<(u16, String)> {
        let req =
            format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: portcullis-test\r\n\r\n");
        self.reader.get_mut().write_all(req.as_bytes())?;
        self.read_response()
    }

    fn read_response(&mut self) -> std::io::Result<(u16, String)> {
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
        let mut length = 0usize;
        let mut chunked = false;
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let (k, v) = l.split_once(':').unwrap_or((l, ""));
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            } else if k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked") {
                chunked = true;
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                self.reader.read_line(&mut line)?;
                let n = usize::from_str_radix(line.trim(), 16).unwrap_or(0);
                let mut chunk = vec![0; n + 2];
                self.reader.read_exact(&mut chunk)?;
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
            }
        } else {
            body.resize(length, 0);
            self.reader.read_exact(&mut body)?;
        }
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }
}

/// Manifests for one Service `name` with an EndpointSlice pointing at `addr`.
pub fn service_yaml(name: &str, addr: SocketAddr) -> String {
    format!(
        r#"apiVersion: v1
kind: Service
metadata: {{ name: {name}, namespace: default }}
spec:
  ports: [{{ name: http, port: 80, targetPort: {port} }}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {name}-1
  namespace: default
  labels: {{ kubernetes.io/service-name: {name} }}
addressType: IPv4
ports: [{{ name: http, port: {port} }}]
endpoints:
  - addresses: ["{ip}"]
    conditions: {{ ready: true }}
"#,
        port = addr.port(),
        ip = addr.ip()
    )
}

/// An Ingress (no class; the set has no IngressClass so it is served) for `host` routing
/// each `(path, service)` as Prefix.
pub fn ingress_yaml(name: &str, host: &str, paths: &[(&str, &str)]) -> String {
    let mut s = format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{ name: {name}, namespace: default }}\nspec:\n  rules:\n    - host: {host}\n      http:\n        paths:\n"
    );
    for (path, svc) in paths {
        s.push_str(&format!(
            "          - {{ path: {path}, pathType: Prefix, backend: {{ service: {{ name: {svc}, port: {{ number: 80 }} }} }} }}\n"
        ));
    }
    s
}

pub fn path_of(p: &Path) -> String {
    p.display().to_string()
}
