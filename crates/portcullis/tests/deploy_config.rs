//! The config file shipped for clusters (`deploy/25-configmap.yaml`) stays valid and wired:
//!
//! - it is read from the ConfigMap's YAML (not a copy) and laid out as in the pod: the file
//!   where the Deployment mounts the ConfigMap and points `--config`, the rules where the
//!   `Dockerfile` copies them;
//! - the Deployment mounts that ConfigMap read-only at the directory of `--config`, its
//!   listeners are the pod's container ports, the probes' and the NetworkPolicy's admin port;
//! - `portcullis check` accepts it (with an empty manifests directory: in the cluster the
//!   Ingresses come from the API server);
//! - `portcullis run --kubeconfig` starts with it in Kubernetes mode: the WAF rules compile
//!   and the admin listener answers `/healthz`.

mod common;

use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use serde_yaml::Value;

const CONFIG_MAP: &str = "portcullis-config";

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn str_at<'a>(v: &'a Value, keys: &[&str]) -> &'a str {
    let mut cur = v;
    for k in keys {
        cur = &cur[*k];
    }
    cur.as_str()
        .unwrap_or_else(|| panic!("{} is not a string: {cur:?}", keys.join(".")))
}

fn port_of(addr: &str) -> u64 {
    let a: SocketAddr = addr.parse().unwrap_or_else(|e| panic!("{addr:?}: {e}"));
    u64::from(a.port())
}

/// `a/b/../c` → `a/c`, without touching the filesystem.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// What the pod sees, taken from deploy/ and the Dockerfile.
struct Pod {
    /// The `--config` path in the container.
    config_path: PathBuf,
    /// The file's text, from the ConfigMap.
    config_text: String,
    /// The parsed file.
    config: Value,
    /// Where the image holds the rules.
    rules_dir: PathBuf,
    deployment: Value,
}

fn pod() -> Pod {
    let cm = yaml("deploy/25-configmap.yaml");
    assert_eq!(str_at(&cm, &["kind"]), "ConfigMap");
    assert_eq!(str_at(&cm, &["metadata", "name"]), CONFIG_MAP);
    assert_eq!(str_at(&cm, &["metadata", "namespace"]), "portcullis");

    let deployment = yaml("deploy/30-deployment.yaml");
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    let args: Vec<&str> = container["args"]
        .as_sequence()
        .expect("container args")
        .iter()
        .map(|a| a.as_str().expect("string arg"))
        .collect();
    assert!(args.contains(&"--kubernetes"), "{args:?}");
    let config_path = PathBuf::from(
        args.iter()
            .find_map(|a| a.strip_prefix("--config="))
            .unwrap_or_else(|| panic!("the Deployment passes no --config=FILE: {args:?}")),
    );
    assert!(config_path.is_absolute(), "{}", config_path.display());
    let dir = config_path.parent().unwrap();
    let key = config_path.file_name().unwrap().to_str().unwrap();

    // The ConfigMap is mounted read-only, as a directory, where --config points.
    let mount = container["volumeMounts"]
        .as_sequence()
        .expect("volumeMounts")
        .iter()
        .find(|m| m["mountPath"].as_str() == dir.to_str())
        .unwrap_or_else(|| panic!("nothing is mounted at {}", dir.display()));
    assert_eq!(mount["readOnly"].as_bool(), Some(true), "{mount:?}");
    assert!(mount["subPath"].is_null(), "{mount:?}");
    let volume = deployment["spec"]["template"]["spec"]["volumes"]
        .as_sequence()
        .expect("volumes")
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("the mounted volume");
    assert_eq!(str_at(volume, &["configMap", "name"]), CONFIG_MAP);
    assert_eq!(
        container["securityContext"]["readOnlyRootFilesystem"].as_bool(),
        Some(true)
    );

    let config_text = cm["data"][key]
        .as_str()
        .unwrap_or_else(|| panic!("the ConfigMap has no data.{key}"))
        .to_string();
    let config: Value = serde_yaml::from_str(&config_text).expect("the config file parses");

    // The rules: where the Dockerfile copies the repository's rules/.
    let dockerfile = std::fs::read_to_string(repo("Dockerfile")).unwrap();
    let rules_dir = dockerfile
        .lines()
        .find_map(|l| l.trim().strip_prefix("COPY rules "))
        .map(|d| PathBuf::from(d.trim()))
        .expect("the Dockerfile copies rules/ into the image");
    Pod {
        config_path,
        config_text,
        config,
        rules_dir,
        deployment,
    }
}

impl Pod {
    /// The config file and the rules under `root` as they are in the container under `/`.
    fn lay_out(&self, root: &Path) -> PathBuf {
        let config = root.join(self.config_path.strip_prefix("/").unwrap());
        std::fs::create_dir_all(config.parent().unwrap()).unwrap();
        std::fs::write(&config, &self.config_text).unwrap();
        copy_dir(
            &repo("rules"),
            &root.join(self.rules_dir.strip_prefix("/").unwrap()),
        );
        config
    }
}

#[test]
fn the_cluster_config_matches_the_pod_the_image_and_the_network_policy() {
    let pod = pod();
    let cfg = &pod.config;
    assert!(cfg["manifests"].is_null(), "kube mode reads no manifests");
    assert!(
        cfg["demo_backends"].is_null(),
        "no demo backends in a cluster"
    );

    // Listeners = the pod's named ports (the Service targets http/https by name).
    let container = &pod.deployment["spec"]["template"]["spec"]["containers"][0];
    let port = |name: &str| {
        container["ports"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|p| p["name"].as_str() == Some(name))
            .and_then(|p| p["containerPort"].as_u64())
            .unwrap_or_else(|| panic!("no containerPort named {name}"))
    };
    for (key, name) in [
        ("http_addr", "http"),
        ("https_addr", "https"),
        ("admin_addr", "admin"),
    ] {
        let addr = str_at(cfg, &["proxy", key]);
        assert!(addr.starts_with("0.0.0.0:"), "proxy.{key}: {addr}");
        assert_eq!(
            port_of(addr),
            port(name),
            "proxy.{key} vs containerPort {name}"
        );
    }
    for probe in ["livenessProbe", "readinessProbe"] {
        assert_eq!(str_at(container, &[probe, "httpGet", "port"]), "admin");
    }
    let admin = port_of(str_at(cfg, &["proxy", "admin_addr"]));
    let policy = yaml("deploy/50-networkpolicy.yaml");
    let policy_ports: Vec<u64> = policy["spec"]["ingress"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|rule| rule["ports"].as_sequence().unwrap().iter())
        .filter_map(|p| p["port"].as_u64())
        .collect();
    assert!(policy_ports.contains(&admin), "{policy_ports:?}");

    // The redirect names the Service's public https port.
    let service = yaml("deploy/40-service.yaml");
    let public_https = service["spec"]["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|p| p["targetPort"].as_str() == Some("https"))
        .and_then(|p| p["port"].as_u64())
        .expect("the Service's https port");
    assert_eq!(
        cfg["proxy"]["https_redirect_port"].as_u64(),
        Some(public_https)
    );

    // Drained before the kubelet kills the pod.
    let drain = portcullis_proxy::config::parse_duration(str_at(cfg, &["proxy", "drain_timeout"]))
        .expect("proxy.drain_timeout");
    let grace = pod.deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        .as_u64()
        .expect("terminationGracePeriodSeconds");
    assert!(drain < Duration::from_secs(grace), "{drain:?} vs {grace} s");

    // The WAF: our rules, found where the image has them (not by the fallbacks).
    assert_eq!(str_at(cfg, &["waf", "rules"]), "builtin");
    let builtin = normalize(
        &pod.config_path
            .parent()
            .unwrap()
            .join(str_at(cfg, &["waf", "builtin_dir"])),
    );
    assert_eq!(builtin, pod.rules_dir, "waf.builtin_dir vs the Dockerfile");
    assert_eq!(str_at(cfg, &["logging", "format"]), "json");
    assert_eq!(cfg["proxy"]["access_log"].as_bool(), Some(true));
}

#[test]
fn check_accepts_the_cluster_config() {
    let pod = pod();
    let s = Scratch::new("deploy-check");
    let config = pod.lay_out(&s.0.join("pod"));
    let out = Command::new(BIN)
        .arg("check")
        .arg("--config")
        .arg(&config)
        .arg("--manifests")
        .arg(s.manifests()) // empty: the Ingresses come from the API server
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("0 error(s)"), "{text}");
}

#[test]
fn run_starts_in_kubernetes_mode_with_the_cluster_config() {
    let pod = pod();
    let s = Scratch::new("deploy-run");
    let config = pod.lay_out(&s.0.join("pod"));
    // A valid kubeconfig whose API server never answers: the controller starts, serves
    // /healthz and stays unready; what matters here is that the config and the WAF load.
    let kubeconfig = s.0.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\n\
         clusters: [{ name: c, cluster: { server: \"https://127.0.0.1:1\", insecure-skip-tls-verify: true } }]\n\
         users: [{ name: u, user: { token: t } }]\n\
         contexts: [{ name: c, context: { cluster: c, user: u, namespace: portcullis } }]\n\
         current-context: c\n",
    )
    .unwrap();
    // The file's 0.0.0.0 ports may be taken on this machine: loopback ports instead.
    let admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let log = s.0.join("portcullis.log");
    let mut p = Proc(
        Command::new(BIN)
            .arg("run")
            .arg("--config")
            .arg(&config)
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["--http-addr", &format!("127.0.0.1:{}", free_port())])
            .args(["--https-addr", &format!("127.0.0.1:{}", free_port())])
            .args(["--admin-addr", &admin.to_string()])
            .args(["--lease-namespace", "portcullis"])
            .stdout(std::fs::File::create(s.0.join("stdout.log")).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    let start = Instant::now();
    loop {
        if let Some(status) = p.0.try_wait().unwrap() {
            panic!("portcullis exited ({status}):\n{}", log_text());
        }
        if std::net::TcpStream::connect(admin).is_ok()
            && get(admin, "/healthz", "localhost").0 == 200
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "never served /healthz:\n{}",
            log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let text = log_text();
    assert!(text.contains("WAF rules compiled"), "{text}");
    assert!(text.contains("watching the Kubernetes API"), "{text}");
    // JSON lines, as configured.
    let first = text.lines().next().unwrap_or_default();
    assert!(
        serde_json::from_str::<serde_json::Value>(first).is_ok(),
        "{first}"
    );
}

/// The image ships what `scripts/build-pgo.sh` builds, from the inputs the script reads.
#[test]
fn the_image_ships_the_profile_guided_build() {
    let dockerfile = std::fs::read_to_string(repo("Dockerfile")).unwrap();
    let script = std::fs::read_to_string(repo("scripts/build-pgo.sh")).unwrap();
    let out = script
        .lines()
        .find_map(|l| l.strip_prefix("out=${PGO_OUT:-$root/"))
        .and_then(|rest| rest.strip_suffix('}'))
        .expect("build-pgo.sh sets its output directory");
    let shipped = format!("COPY --from=build /src/{out}/portcullis /usr/local/bin/portcullis");
    assert!(
        dockerfile.contains(&shipped),
        "the Dockerfile lacks {shipped:?}"
    );
    assert!(dockerfile.contains("scripts/build-pgo.sh"));
    // The training run reads the example manifests and the decision tables (under crates/).
    for input in [
        "COPY config ",
        "COPY crates ",
        "COPY benches ",
        "COPY scripts/build-pgo.sh",
    ] {
        assert!(
            dockerfile.contains(input),
            "the build stage lacks {input:?}"
        );
    }
}
