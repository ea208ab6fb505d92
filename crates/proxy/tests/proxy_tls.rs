//! TLS termination over real loopback: SNI selection, default certificate, ALPN h2, and a
//! swapped certificate served without restart.

mod common;

use common::*;
use http::StatusCode;
use portcullis_snapshot::TlsStore;

#[tokio::test]
async fn sni_picks_the_certificate_and_unknown_names_get_the_default() {
    let b = start_backend("b").await;
    let (default_key, default_der) = cert(&["portcullis.invalid"]);
    let (app_key, app_der) = cert(&["myapp.com"]);
    let (wild_key, wild_der) = cert(&["*.wild.test"]);
    let mut tls = TlsStore::new(default_key);
    tls.insert("myapp.com", app_key);
    tls.insert("*.wild.test", wild_key);
    let snap = snapshot(1, vec![route(None, "/", vec![b.addr])], tls);
    let proxy = start_proxy(snap, test_config()).await;

    let t = tls_h2_get(proxy.https(), "myapp.com", "/x").await;
    assert_eq!(t.cert, app_der);
    assert_eq!(t.alpn.as_deref(), Some(&b"h2"[..]));
    assert_eq!(t.answer.status, StatusCode::OK);
    let seen = t.answer.json();
    assert_eq!(
        seen["headers"]["host"], "myapp.com",
        "h2 :authority becomes Host"
    );
    assert_eq!(seen["headers"]["x-forwarded-proto"], "https");
    assert_eq!(seen["version"], "HTTP/1.1", "upstream speaks HTTP/1.1");

    assert_eq!(
        tls_h2_get(proxy.https(), "a.wild.test", "/").await.cert,
        wild_der
    );
    assert_eq!(
        tls_h2_get(proxy.https(), "unknown.test", "/").await.cert,
        default_der
    );
    proxy.handle.shutdown().await;
}

#[tokio::test]
async fn a_changed_certificate_is_served_without_restart() {
    let b = start_backend("b").await;
    let (default_key, _) = cert(&["portcullis.invalid"]);
    let (old_key, old_der) = cert(&["myapp.com"]);
    let (new_key, new_der) = cert(&["myapp.com"]);
    let mut tls = TlsStore::new(default_key.clone());
    tls.insert("myapp.com", old_key);
    let proxy = start_proxy(
        snapshot(1, vec![route(None, "/", vec![b.addr])], tls),
        test_config(),
    )
    .await;
    assert_eq!(
        tls_h2_get(proxy.https(), "myapp.com", "/").await.cert,
        old_der
    );

    let mut tls = TlsStore::new(default_key);
    tls.insert("myapp.com", new_key);
    proxy.swap(snapshot(2, vec![route(None, "/", vec![b.addr])], tls));
    let t = tls_h2_get(proxy.https(), "myapp.com", "/").await;
    assert_eq!(t.cert, new_der);
    assert_eq!(t.answer.status, StatusCode::OK);
    proxy.handle.shutdown().await;
}

#[tokio::test]
async fn tls_1_2_and_1_3_are_both_served() {
    let b = start_backend("b").await;
    let proxy = start_proxy(
        snapshot(1, vec![route(None, "/", vec![b.addr])], default_tls()),
        test_config(),
    )
    .await;
    for (version, expected) in [
        (&rustls::version::TLS12, rustls::ProtocolVersion::TLSv1_2),
        (&rustls::version::TLS13, rustls::ProtocolVersion::TLSv1_3),
    ] {
        let t = tls_h2_get_with(proxy.https(), "any.test", "/", &[version]).await;
        assert_eq!(t.version, Some(expected));
        assert_eq!(t.answer.status, StatusCode::OK);
    }
    proxy.handle.shutdown().await;
}
