//! Minimal proxy for load tests of the data plane alone (no control plane): routes
//! `myapp.com` `/blog` and `/store` to one origin, like the anchors' nginx configuration.
//!
//! `WORKERS=2 cargo run --release -p portcullis-proxy --example bench_proxy -- 127.0.0.1:18080 127.0.0.1:19001`
//! (`WORKERS` unset: the multi-threaded tokio runtime of `main`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use portcullis_proxy::{Metrics, ProxyConfig, Server};
use portcullis_router::{PathType, RouteTableBuilder};
use portcullis_snapshot::{Backend, BackendKey, Route, RoutePolicy, Snapshot, TlsStore};

fn main() {
    let mut args = std::env::args().skip(1);
    let listen: SocketAddr = args
        .next()
        .unwrap_or("127.0.0.1:18080".into())
        .parse()
        .expect("listen addr");
    let origin: SocketAddr = args
        .next()
        .unwrap_or("127.0.0.1:19001".into())
        .parse()
        .expect("origin addr");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let generated =
            rcgen::generate_simple_self_signed(vec!["myapp.com".to_string()]).expect("cert");
        let key =
            rustls::pki_types::PrivateKeyDer::Pkcs8(generated.signing_key.serialize_der().into());
        let signer = rustls::crypto::ring::sign::any_supported_type(&key).expect("key");
        let certified = Arc::new(rustls::sign::CertifiedKey::new(
            vec![generated.cert.der().clone()],
            signer,
        ));
        let backend = Arc::new(Backend::new(
            BackendKey {
                namespace: "default".into(),
                service: "origin".into(),
                port: "80".into(),
            },
            vec![origin],
        ));
        let mut routes = RouteTableBuilder::new();
        for path in ["/blog", "/store"] {
            let route = Arc::new(Route {
                ingress: Arc::from("default/bench"),
                label: Arc::from(format!("myapp.com{path}").as_str()),
                backend: backend.clone(),
                policy: Arc::new(RoutePolicy::default()),
            });
            routes
                .add(Some("myapp.com"), path, PathType::Prefix, route)
                .expect("route");
        }
        let snapshot = Snapshot {
            generation: 1,
            routes: routes.build(),
            tls: TlsStore::new(certified),
            built_at: SystemTime::now(),
        };
        let workers = std::env::var("WORKERS").ok().and_then(|w| w.parse().ok());
        let config = ProxyConfig {
            http_addr: Some(listen),
            https_addr: Some(SocketAddr::new(listen.ip(), listen.port() + 1)),
            admin_addr: SocketAddr::new(listen.ip(), 0),
            access_log: false,
            workers,
            ..ProxyConfig::default()
        };
        let shared = Arc::new(arc_swap::ArcSwap::from_pointee(snapshot));
        let handle = Server::start(config, shared, Arc::new(Metrics::new()))
            .await
            .expect("start");
        eprintln!(
            "bench proxy on {:?} / {:?}",
            handle.http_addr(),
            handle.https_addr()
        );
        let _ = tokio::signal::ctrl_c().await;
        handle.shutdown().await;
    });
}
