//! The whole OWASP CRS v4 (from `../shared/crs`, never copied into the repo) loads and
//! compiles with zero errors, and prefilters gate a share of its `@rx` rules.

use portcullis_waf::{Engine, MODSECURITY_RECOMMENDED};
use std::path::{Path, PathBuf};

fn crs_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/crs");
    if dir.join("rules").is_dir() {
        Some(dir)
    } else {
        eprintln!("skipping: CRS not found at {}", dir.display());
        None
    }
}

fn load(dir: &Path, prefilter: bool) -> Engine {
    load_with(dir, prefilter, true)
}

fn load_with(dir: &Path, prefilter: bool, recommended: bool) -> Engine {
    let mut b = Engine::builder();
    b.prefilter(prefilter).memo(prefilter);
    if recommended {
        b.add_text(MODSECURITY_RECOMMENDED, "recommended", dir)
            .unwrap();
    }
    b.add_file(&dir.join("crs-setup.conf.example")).unwrap();
    let include = format!("Include {}/rules/*.conf", dir.display());
    b.add_text(&include, "include", dir).unwrap();
    b.build().unwrap()
}

#[test]
fn crs_compiles_with_zero_errors() {
    let Some(dir) = crs_dir() else { return };
    let started = std::time::Instant::now();
    let engine = load_with(&dir, true, false);
    let elapsed = started.elapsed();
    let stats = engine.stats();
    eprintln!(
        "CRS loaded in {elapsed:?}: {} of {} @rx rules gated by prefilters; {stats:?}",
        stats.rx_gated, stats.rx_links
    );
    assert!(
        engine.rule_count() > 600,
        "only {} rules",
        engine.rule_count()
    );
    assert!(stats.rx_links > 300);
    assert!(
        stats.rx_gated * 2 > stats.rx_links,
        "fewer than half of the @rx rules gated"
    );
    // Building every lazily built automaton up front (what the control plane does on a
    // background thread after loading) works on all of CRS.
    let started = std::time::Instant::now();
    engine.warm();
    eprintln!("CRS automata warmed in {:?}", started.elapsed());
}

fn conn() -> portcullis_waf::ConnectionInfo {
    portcullis_waf::ConnectionInfo {
        client_ip: [127, 0, 0, 1].into(),
        client_port: 40000,
        server_ip: [127, 0, 0, 1].into(),
        server_port: 80,
        unique_id: "YX1fAAAAAAAAAAAAAAAAAAAA".into(),
    }
}

fn run(engine: &std::sync::Arc<Engine>, uri: &str) -> (portcullis_waf::Outcome, Vec<u64>) {
    let mut tx = engine.transaction(conn());
    tx.request_line("GET", uri, "HTTP/1.1");
    tx.request_header(b"Host", b"localhost");
    tx.request_header(
        b"User-Agent",
        b"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    );
    tx.request_header(b"Accept", b"text/html,application/xhtml+xml");
    let mut out = tx.process_request_headers();
    if out == portcullis_waf::Outcome::Pass {
        out = tx.process_request_body();
    }
    tx.process_logging();
    let ids = tx
        .matched_rules()
        .iter()
        .filter(|m| m.log)
        .map(|m| m.id)
        .collect();
    (out, ids)
}

#[test]
fn crs_blocks_sqli_and_passes_benign() {
    let Some(dir) = crs_dir() else { return };
    for prefilter in [true, false] {
        let engine = std::sync::Arc::new(load(&dir, prefilter));
        let (out, ids) = run(&engine, "/search?q=hello+world&page=2");
        assert_eq!(out, portcullis_waf::Outcome::Pass, "benign matched {ids:?}");
        let (out, ids) = run(
            &engine,
            "/?id=1%27%20UNION%20SELECT%20password%20FROM%20users--",
        );
        eprintln!("sqli: {ids:?}");
        assert_eq!(out, portcullis_waf::Outcome::Deny { status: 403 });
        assert!(ids.contains(&949110), "{ids:?}");
    }
}
