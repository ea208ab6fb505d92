//! Snapshot build: `portcullis_control::translate` over 10,000 Ingresses (target ≤ 300 ms).
//!
//! The object set: 10,000 Ingresses (host `app{i}.s{j}.example`, two paths each: `/` Prefix and
//! `/api` Exact), each with a `spec.tls` entry naming one of 100 TLS Secrets (wildcard
//! certificates `*.s{j}.example`, generated here), 1,000 Services and 1,000 EndpointSlices of 3
//! ready endpoints each. Objects are built by the file provider's parser from generated JSON
//! (outside the timing), so the benchmark exercises exactly what a reload does after loading.
//!
//! Two figures: the build alone (`translate_10000_ingresses`, the target) and build plus drop
//! of the result (`translate_and_drop_10000_ingresses`).
//!
//! The benchmark checks its own answer first: 20,000 routes, 10,000 certificate names, no error
//! diagnostic, and a lookup that lands on the expected backend.

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use portcullis_control::tls::{self_signed, self_signed_pem};
use portcullis_control::{ObjectSet, Severity, TranslateOptions, manifests, translate};

const INGRESSES: usize = 10_000;
const SERVICES: usize = 1_000;
const SECRETS: usize = 100;

/// Minimal JSON string escaping (PEM only has newlines to escape).
fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn object_set() -> ObjectSet {
    let mut items = Vec::new();
    for s in 0..SERVICES {
        items.push(format!(
            r#"{{"apiVersion":"v1","kind":"Service","metadata":{{"name":"svc{s}","namespace":"bench"}},
               "spec":{{"ports":[{{"name":"http","port":80,"targetPort":"http"}}]}}}}"#
        ));
        items.push(format!(
            r#"{{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice",
               "metadata":{{"name":"svc{s}-x","namespace":"bench","labels":{{"kubernetes.io/service-name":"svc{s}"}}}},
               "addressType":"IPv4","ports":[{{"name":"http","port":8080}}],
               "endpoints":[{{"addresses":["10.{a}.{b}.1"]}},{{"addresses":["10.{a}.{b}.2"]}},
                            {{"addresses":["10.{a}.{b}.3"],"conditions":{{"ready":true}}}}]}}"#,
            a = s / 256,
            b = s % 256
        ));
    }
    for j in 0..SECRETS {
        let (cert, key) = self_signed_pem(&[&format!("*.s{j}.example")]).expect("rcgen");
        items.push(format!(
            r#"{{"apiVersion":"v1","kind":"Secret","type":"kubernetes.io/tls",
               "metadata":{{"name":"tls{j}","namespace":"bench"}},
               "stringData":{{"tls.crt":{},"tls.key":{}}}}}"#,
            json_str(&cert),
            json_str(&key)
        ));
    }
    for i in 0..INGRESSES {
        let (j, s) = (i % SECRETS, i % SERVICES);
        items.push(format!(
            r#"{{"apiVersion":"networking.k8s.io/v1","kind":"Ingress",
               "metadata":{{"name":"ing{i}","namespace":"bench","creationTimestamp":"2024-01-01T00:00:00Z"}},
               "spec":{{"tls":[{{"hosts":["app{i}.s{j}.example"],"secretName":"tls{j}"}}],
                 "rules":[{{"host":"app{i}.s{j}.example","http":{{"paths":[
                   {{"path":"/","pathType":"Prefix","backend":{{"service":{{"name":"svc{s}","port":{{"number":80}}}}}}}},
                   {{"path":"/api","pathType":"Exact","backend":{{"service":{{"name":"svc{s}","port":{{"name":"http"}}}}}}}}
                 ]}}}}]}}}}"#
        ));
    }
    let mut text = String::from(r#"{"apiVersion":"v1","kind":"List","items":["#);
    for (n, item) in items.iter().enumerate() {
        if n > 0 {
            text.push(',');
        }
        let _ = write!(text, "{item}");
    }
    text.push_str("]}");
    let mut objects = ObjectSet::new();
    let mut diagnostics = Vec::new();
    manifests::parse_into(
        Path::new("bench.json"),
        &text,
        &mut objects,
        &mut diagnostics,
    );
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    objects
}

fn bench(c: &mut Criterion) {
    let objects = object_set();
    let opts = TranslateOptions::new(self_signed(&["default.invalid"]).expect("rcgen"));

    // Check the answer before timing anything.
    let t = translate(&objects, &opts, 1);
    let errors: Vec<_> = t
        .diagnostics
        .iter()
        .filter(|d| d.severity >= Severity::Warning)
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(t.ingresses_served, INGRESSES);
    assert_eq!(t.snapshot.routes.len(), 2 * INGRESSES);
    assert_eq!(t.snapshot.tls.len(), INGRESSES);
    let m = t
        .snapshot
        .routes
        .lookup("app1234.s34.example", "/api")
        .expect("route");
    assert_eq!(&*m.target.label, "app1234.s34.example/api");
    assert_eq!(m.target.backend.endpoints.len(), 3);
    assert_eq!(m.target.backend.endpoints[0].to_string(), "10.0.234.1:8080");

    let mut group = c.benchmark_group("snapshot_build");
    group.sample_size(10);
    // The build itself; the previous snapshot's drop happens outside the timing (in the
    // controller it happens when the last request holding it finishes).
    group.bench_function("translate_10000_ingresses", |b| {
        b.iter_with_large_drop(|| translate(black_box(&objects), &opts, 2))
    });
    group.bench_function("translate_and_drop_10000_ingresses", |b| {
        b.iter(|| translate(black_box(&objects), &opts, 2))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
