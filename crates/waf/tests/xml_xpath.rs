//! `XML:<xpath>` targets: the table `data/xml_xpath.json` (documents, expressions and the
//! values libmodsecurity 3 gives for them — `tests/body_oracle.rs` checks the table against
//! it; a case's third element says why we deliberately differ), load errors for unsupported
//! expressions, and rules using XPath targets end to end.

use portcullis_waf::body::{XPath, parse_xml};
use portcullis_waf::{ConnectionInfo, Engine, Outcome};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;

fn table() -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/xml_xpath.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn strings(values: &[Vec<u8>]) -> Vec<String> {
    values
        .iter()
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect()
}

#[test]
fn xpath_table() {
    let mut failures = Vec::new();
    let mut count = 0;
    for doc in table() {
        let parsed = parse_xml(doc["doc"].as_str().unwrap().as_bytes())
            .unwrap_or_else(|e| panic!("{}: {e}", doc["name"]));
        for case in doc["cases"].as_array().unwrap() {
            count += 1;
            let expr = case[0].as_str().unwrap();
            let want: Vec<&str> = case[1]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            let got = match XPath::parse(expr) {
                Ok(x) => strings(&parsed.select(&x)),
                Err(e) => vec![format!("ERROR {e}")],
            };
            if got != want {
                failures.push(format!(
                    "{} {expr:?}: got {got:?}, want {want:?}",
                    doc["name"]
                ));
            }
        }
    }
    assert!(count > 50);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The tree walk gives what the precomputed `/*` and `//@*` values give (on documents
/// without namespace declarations, which `//@*` keeps and the attribute axis does not).
#[test]
fn fast_paths_agree_with_the_tree() {
    let docs = [
        "<a x=\"1\"><b y='2'>t<c/>u</b><![CDATA[d]]>v</a>",
        "<a/>",
        "<r><!-- c --><s a='1' b='2'><t c='3'/></s>tail</r>",
    ];
    for doc in docs {
        let parsed = parse_xml(doc.as_bytes()).unwrap();
        for (fast, slow) in [("/*", "/child::*"), ("//@*", "/descendant::*/@*")] {
            let fast = XPath::parse(fast).unwrap();
            assert!(fast.fast_path().is_some());
            let slow = XPath::parse(slow).unwrap();
            assert!(slow.fast_path().is_none());
            assert_eq!(parsed.select(&fast), parsed.select(&slow), "{doc}");
        }
    }
}

fn compile(rules: &str) -> Result<Arc<Engine>, String> {
    let mut b = Engine::builder();
    b.add_text(rules, "xpath.conf", Path::new("."))
        .map_err(|e| e.to_string())?;
    b.build().map(Arc::new).map_err(|e| e.to_string())
}

#[test]
fn unsupported_expressions_are_load_errors() {
    for (expr, why) in [
        ("order/item", "absolute location paths"),
        ("count(//item)", "absolute location paths"),
        ("/order/count(item)", "functions (count())"),
        ("/order/item[last()]", "predicates are supported"),
        ("/order/item[@sku!='x']", "predicates are supported"),
        ("/order/item[price>3]", "predicates are supported"),
        ("//following-sibling::item", "following-sibling axis"),
        ("/order/$v", "variables"),
        ("/order/item[1.0]", "integer positions"),
        ("/order/ancestor::*", "ancestor axis"),
        ("/order/item/@sku=1", "unexpected '='"),
        ("/order/*[@*]", "predicates are supported"),
        ("/order/comment(1)", "takes no argument"),
    ] {
        let rules = format!(
            "SecRule ARGS \"@rx a\" \"id:1,phase:2,pass\"\n\
             SecRule XML:{expr} \"@rx a\" \"id:2,phase:2,pass\""
        );
        let err = compile(&rules).map(|_| ()).unwrap_err();
        assert!(err.starts_with("xpath.conf:2: "), "{expr}: {err}");
        assert!(err.contains(&format!("{expr:?}")), "{expr}: {err}");
        assert!(err.contains(why), "{expr}: {err}");
    }
    // Also in exclusions, SecRuleUpdateTargetById and ctl targets.
    for rules in [
        "SecRule ARGS|!XML:a \"@rx a\" \"id:1,phase:2,pass\"",
        "SecRule ARGS \"@rx a\" \"id:1,phase:2,pass\"\nSecRuleUpdateTargetById 1 XML:/a[x]",
        "SecAction \"id:1,phase:1,pass,ctl:ruleRemoveTargetById=2;XML:/a/b()\"",
    ] {
        let err = compile(rules).map(|_| ()).unwrap_err();
        assert!(err.contains("unsupported XPath"), "{rules}: {err}");
    }
}

fn post_xml(engine: &Arc<Engine>, body: &str) -> (Outcome, Vec<u64>) {
    let mut tx = engine.transaction(ConnectionInfo {
        client_ip: [127, 0, 0, 1].into(),
        client_port: 40000,
        server_ip: [127, 0, 0, 1].into(),
        server_port: 80,
        unique_id: "x".into(),
    });
    tx.request_line("POST", "/", "HTTP/1.1");
    tx.request_header(b"Content-Type", b"application/xml");
    let mut out = tx.process_request_headers();
    if out == Outcome::Pass {
        tx.request_body_chunk(body.as_bytes());
        out = tx.process_request_body();
    }
    tx.process_logging();
    let ids = tx.matched_rules().iter().map(|m| m.id);
    (out, ids.filter(|&id| id != 100).collect())
}

#[test]
fn rules_with_xpath_targets() {
    let engine = compile(
        "SecRule REQUEST_HEADERS:Content-Type \"@contains xml\" \
            \"id:100,phase:1,pass,nolog,ctl:requestBodyProcessor=XML\"\n\
         SecRule XML:/order/item/@sku \"@rx ^B\" \"id:1,phase:2,pass,log\"\n\
         SecRule XML:/order/item[1] \"@streq Apple\" \"id:2,phase:2,pass,log\"\n\
         SecRule &XML://item \"@eq 2\" \"id:3,phase:2,pass,log\"\n\
         SecRule XML:/* \"@contains Banana\" \"id:4,phase:2,pass,log\"\n\
         SecRule XML://@* \"@streq 7\" \"id:5,phase:2,pass,log\"\n\
         SecRule XML:/order/note/text() \"@contains <ok>\" \"id:6,phase:2,deny,status:403,log\"",
    )
    .unwrap();
    let doc = r#"<order id="7"><item sku="A1">Apple</item><item sku="B2">Banana</item></order>"#;
    assert_eq!(post_xml(&engine, doc), (Outcome::Pass, vec![1, 2, 3, 4, 5]));
    let doc = r#"<order><item sku="C">Pear</item><note>&lt;ok&gt;</note></order>"#;
    assert_eq!(
        post_xml(&engine, doc),
        (Outcome::Deny { status: 403 }, vec![6])
    );
    // A malformed body has no XML values (REQBODY_ERROR instead), as before.
    assert_eq!(
        post_xml(&engine, "<order><item sku='B'>Apple</item>"),
        (Outcome::Pass, vec![])
    );
}

/// Mutated (mostly broken) documents: evaluating never panics, and on the partial tree
/// libxml2 keeps, the tree walk still agrees with the `/*` and `//@*` values.
#[test]
fn mutated_documents() {
    let seed = b"<?xml version=\"1.0\"?><r a=\"1\"><b c=\"2\">t&amp;x<b>in</b></b><![CDATA[cd]]><!-- c --><?p d?><e/>tail</r>";
    let exprs: Vec<XPath> = [
        "//node()",
        "//b[1]/..",
        "/r/b[@c='2']//text()",
        "//@*[1]",
        "/descendant::*/..",
        "//comment()",
        "//processing-instruction()",
        "/",
        "/r/*[2]/@c",
    ]
    .iter()
    .map(|x| XPath::parse(x).unwrap())
    .collect();
    let (root, attrs) = (
        XPath::parse("/child::*").unwrap(),
        XPath::parse("/descendant::*/@*").unwrap(),
    );
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    const ALPHABET: &[u8] = b"<>/=\"'&;![]-?abc \n";
    for _ in 0..3000 {
        let mut doc = seed.to_vec();
        for _ in 0..next(4) + 1 {
            let byte = ALPHABET[next(ALPHABET.len())];
            match next(3) {
                0 => {
                    let i = next(doc.len());
                    doc[i] = byte;
                }
                1 => {
                    doc.remove(next(doc.len()));
                }
                _ => doc.insert(next(doc.len() + 1), byte),
            }
        }
        let (parsed, _) = portcullis_waf::body::parse_xml_partial(&doc);
        for x in &exprs {
            parsed.select(x);
        }
        let text = String::from_utf8_lossy(&doc);
        assert_eq!(parsed.select(&root), parsed.text_values(), "{text}");
        assert_eq!(parsed.select(&attrs), parsed.attribute_values(), "{text}");
    }
}
