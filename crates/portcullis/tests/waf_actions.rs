//! The WAF's disruptive actions other than `deny`, end to end (real binary, recording backend
//! on loopback, real HTTP): `redirect` answers the rule's 3xx with a checked `Location`,
//! `drop` closes the HTTP/1 connection or resets the HTTP/2 stream; and Ingresses with
//! different exclusions share one compiled engine yet behave differently.

mod common;
mod waf_common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::{Scratch, service_yaml, start};
use waf_common::*;

const RULES: &str = r#"
SecRule ARGS "@contains goaway" "id:2001,phase:1,redirect:https://example.invalid/blocked,log,msg:'redirected'"
SecRule ARGS "@contains moved" "id:2002,phase:1,status:301,redirect:https://example.invalid/moved,log"
SecRule ARGS:to "@contains inject" "id:2003,phase:1,redirect:'https://example.invalid/?to=%{ARGS.to}',log"
SecRule ARGS "@contains vanish" "id:2010,phase:1,drop,log,msg:'dropped'"
SecRule ARGS "@contains late-vanish" "id:2011,phase:2,drop,log"
"#;

/// One HTTP/1.1 request on a new keep-alive connection: the raw bytes answered before the
/// server closed the connection (empty = closed without an answer).
fn raw(addr: SocketAddr, path: &str, host: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let head = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: test\r\n\r\n");
    s.write_all(head.as_bytes()).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                // A complete answer: stop waiting (the connection is kept alive).
                if out.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("no answer and no close within 5 s: {e}"),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn scratch_with_rules(tag: &str) -> Scratch {
    let scratch = Scratch::new(tag);
    let rules = scratch.0.join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(rules.join("portcullis.conf"), format!("{RULES_V1}{RULES}")).unwrap();
    scratch
}

#[test]
fn redirect_answers_the_rules_3xx_with_a_checked_location() {
    let scratch = scratch_with_rules("waf-redirect");
    let backend = Recorder::start();
    scratch.write_manifest("svc.yaml", &service_yaml("app", backend.addr));
    scratch.write_manifest("a.yaml", &ingress_with("a", "r.test", "app", &[]));
    scratch.write_manifest(
        "b.yaml",
        &ingress_with("b", "rd.test", "app", &[("waf-mode", "detect")]),
    );
    let p = start(&scratch, &config(&scratch, ""), true);

    let head = raw(p.http, "/x?q=goaway-1", "r.test");
    assert!(head.starts_with("HTTP/1.1 302 "), "{head}");
    assert_eq!(
        header(&head, "location"),
        Some("https://example.invalid/blocked")
    );
    assert!(header(&head, "x-request-id").is_some(), "{head}");
    let head = raw(p.http, "/x?q=moved-1", "r.test");
    assert!(head.starts_with("HTTP/1.1 301 "), "{head}");
    assert_eq!(
        header(&head, "location"),
        Some("https://example.invalid/moved")
    );
    assert!(!backend.saw("goaway-1") && !backend.saw("moved-1"));

    // A target built from request data: fine when clean, refused (403) with CR/LF or too long.
    let head = raw(p.http, "/x?to=inject-ok", "r.test");
    assert!(head.starts_with("HTTP/1.1 302 "), "{head}");
    assert_eq!(
        header(&head, "location"),
        Some("https://example.invalid/?to=inject-ok")
    );
    let head = raw(p.http, "/x?to=inject%0d%0aSet-Cookie:%20pwned=1", "r.test");
    assert!(head.starts_with("HTTP/1.1 403 "), "{head}");
    assert!(header(&head, "set-cookie").is_none(), "{head}");
    assert!(header(&head, "location").is_none(), "{head}");
    let long = format!("/x?to=inject{}", "a".repeat(3000));
    let head = raw(p.http, &long, "r.test");
    assert!(head.starts_with("HTTP/1.1 403 "), "{head}");
    assert!(!backend.saw("inject"));
    eventually("the refused target is logged", || {
        p.log_text().contains("not a valid Location")
    });

    // DetectionOnly: logged, not applied.
    assert_eq!(get(p.http, "/x?q=goaway-2", "rd.test").0, 200);
    assert!(backend.saw("goaway-2"));

    assert!(
        p.metric("portcullis_waf_decisions_total{action=\"redirect\",rule_id=\"2001\"}")
            .unwrap_or(0.0)
            >= 1.0
    );
    assert!(
        p.metric("portcullis_waf_decisions_total{action=\"redirect\",rule_id=\"2002\"}")
            .unwrap_or(0.0)
            >= 1.0
    );
    assert!(
        p.metric("portcullis_waf_decisions_total{action=\"block\",rule_id=\"2003\"}")
            .unwrap_or(0.0)
            >= 2.0
    );
    eventually("the redirect is in the error log", || {
        error_log(&scratch).lines().any(|l| {
            l.contains("goaway-1")
                && l.contains("[id \"2001\"]")
                && l.contains(
                    "Access denied with redirection to https://example.invalid/blocked using status 302 (phase 1)",
                )
        })
    });
}

#[test]
fn drop_closes_the_h1_connection_and_resets_the_h2_stream() {
    let scratch = scratch_with_rules("waf-drop");
    let backend = Recorder::start();
    scratch.write_manifest("svc.yaml", &service_yaml("app", backend.addr));
    scratch.write_manifest("a.yaml", &ingress_with("a", "d.test", "app", &[]));
    let p = start(&scratch, &config(&scratch, ""), true);

    // HTTP/1.1 keep-alive: closed without a byte.
    assert_eq!(raw(p.http, "/x?q=vanish-1", "d.test"), "");
    let head = raw(p.http, "/x?q=fine-1", "d.test");
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    // Phase 2 (the body was read first).
    let (status, body) = request(p.http, "POST", "/f", "d.test", b"a=late-vanish");
    assert_eq!((status, body.as_str()), (0, ""));
    assert!(!backend.saw("vanish"));

    // HTTP/2 (h2c prior knowledge): the stream is reset, the connection stays usable.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(p.http).await.unwrap();
        let (mut send, conn) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            hyper_util::rt::TokioIo::new(tcp),
        )
        .await
        .unwrap();
        tokio::spawn(conn);
        let req = |path: &str| {
            http::Request::get(format!("http://d.test{path}"))
                .body(http_body_util::Empty::<bytes::Bytes>::new())
                .unwrap()
        };
        let dropped = send.send_request(req("/x?q=vanish-2")).await;
        let err = dropped.expect_err("the stream is reset");
        assert!(
            format!("{err:?}").to_ascii_lowercase().contains("reset")
                || format!("{err:?}").contains("INTERNAL_ERROR"),
            "{err:?}"
        );
        let ok = send.send_request(req("/x?q=fine-2")).await.unwrap();
        assert_eq!(ok.status(), 200, "same connection still serves");
    });
    assert!(backend.saw("fine-2") && !backend.saw("vanish"));

    assert!(
        p.metric("portcullis_waf_decisions_total{action=\"drop\",rule_id=\"2010\"}")
            .unwrap_or(0.0)
            >= 2.0
    );
    assert!(
        p.metric("portcullis_waf_decisions_total{action=\"drop\",rule_id=\"2011\"}")
            .unwrap_or(0.0)
            >= 1.0
    );
    eventually("the drop is in the error log", || {
        error_log(&scratch).lines().any(|l| {
            l.contains("vanish-1") && l.contains("Access denied with connection close (phase 1)")
        })
    });
}

#[test]
fn ingresses_with_different_exclusions_share_one_engine_and_behave_differently() {
    let scratch = Scratch::new("waf-shared");
    let backend = Recorder::start();
    scratch.write_manifest("svc.yaml", &service_yaml("app", backend.addr));
    let hosts = [
        ("a", vec![("waf-rule-exclusions", "1001")]),
        ("b", vec![("waf-rule-exclusions", "1002")]),
        ("c", vec![("waf-rule-exclusion-tags", "test/evil")]),
        ("d", vec![("waf-mode", "detect")]),
        ("e", vec![]),
    ];
    for (name, ann) in &hosts {
        scratch.write_manifest(
            &format!("{name}.yaml"),
            &ingress_with(name, &format!("{name}.test"), "app", ann),
        );
    }
    let p = start(&scratch, &config(&scratch, ""), true);
    let evil = "/x?q=evil";
    let select = "/x?comment=select";
    let expect = [
        ("a.test", 200, 403),
        ("b.test", 403, 200),
        ("c.test", 200, 403),
        ("d.test", 200, 200),
        ("e.test", 403, 403),
    ];
    for (host, on_evil, on_select) in expect {
        assert_eq!(get(p.http, evil, host).0, on_evil, "{host} {evil}");
        assert_eq!(get(p.http, select, host).0, on_select, "{host} {select}");
    }
    let compiled = p.log_text().matches("WAF engine compiled").count();
    assert_eq!(
        compiled,
        1,
        "one engine for five policies:\n{}",
        p.log_text()
    );
}
