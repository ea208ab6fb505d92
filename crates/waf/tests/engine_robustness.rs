//! Arbitrary bytes in rule text or in requests never panic the engine (a cheap, deterministic
//! stand-in for the fuzz targets: a fixed-seed generator over mutated seeds).

use portcullis_waf::{ConnectionInfo, Engine};
use std::path::Path;
use std::sync::Arc;

/// xorshift64*, fixed seed: reproducible.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const ALPHABET: &[u8] = b"SecRule ARGS|!&:/\\\"',%{}@rx chain id:1,phase:2 t:none setvar:tx.a=+1 \n\r\t\x00\xff\xc3(?*[";

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..rng.below(8) + 1 {
        let pos = if v.is_empty() {
            0
        } else {
            rng.below(v.len() + 1)
        };
        match rng.below(3) {
            0 if pos < v.len() => {
                v.remove(pos);
            }
            _ => v.insert(pos.min(v.len()), ALPHABET[rng.below(ALPHABET.len())]),
        }
    }
    v
}

#[test]
fn mutated_rule_text_never_panics() {
    let seeds: [&[u8]; 4] = [
        b"SecRule ARGS|!ARGS:x \"@rx ^a(b)\" \"id:1,phase:2,deny,capture,t:none,chain\"\nSecRule TX:1 \"@eq 1\" \"setvar:tx.a=+%{tx.1}\"",
        b"SecAction \"id:2,phase:1,pass,msg:'a, b',ctl:ruleRemoveTargetById=1;ARGS:/x|y/\"\nSecMarker M",
        b"SecRule REQUEST_HEADERS:/^x-/ \"!@within a b\" \\\n \"id:3,skipAfter:M,logdata:'%{MATCHED_VAR}'\"",
        b"SecDefaultAction \"phase:2,log,deny,status:403\"\nSecRuleUpdateTargetById 3 \"!ARGS:foo\"",
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..3000 {
        let text = mutate(&mut rng, seeds[i % seeds.len()]);
        let text = String::from_utf8_lossy(&text);
        let mut b = Engine::builder();
        if b.add_text(&text, "fuzz", Path::new(".")).is_ok() {
            let _ = b.build();
        }
    }
}

#[test]
fn mutated_requests_never_panic() {
    let rules = "SecRule REQUEST_HEADERS:Content-Type \"@rx json\" \"id:1,phase:1,pass,ctl:requestBodyProcessor=JSON\"\n\
                 SecRule REQUEST_HEADERS:Content-Type \"@rx xml\" \"id:2,phase:1,pass,ctl:requestBodyProcessor=XML\"\n\
                 SecRule ARGS|ARGS_NAMES|REQUEST_COOKIES|REQUEST_BODY|XML:/*|FILES|MULTIPART_PART_HEADERS \"@rx (a)(b)?\" \"id:3,phase:2,pass,capture,t:none,t:urlDecodeUni,t:htmlEntityDecode,t:lowercase,multiMatch,setvar:tx.s=+1\"";
    let mut b = Engine::builder();
    b.add_text(rules, "rules", Path::new(".")).unwrap();
    let engine = Arc::new(b.build().unwrap());
    let mut rng = Rng(42);
    let types: [&[u8]; 4] = [
        b"application/json",
        b"text/xml",
        b"multipart/form-data; boundary=B",
        b"application/x-www-form-urlencoded",
    ];
    let bodies: [&[u8]; 4] = [
        b"{\"a\":[1,{\"b\":\"ab\"}]}",
        b"<a x=\"ab\"><b>ab</b></a>",
        b"--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n\r\nab\r\n--B--\r\n",
        b"a=b&c=%zz&%=&&=",
    ];
    for i in 0..2000 {
        let k = i % 4;
        let uri = mutate(&mut rng, b"/p/a?b=c&d=%41%u0041");
        let mut tx = engine.transaction(ConnectionInfo {
            client_ip: [127, 0, 0, 1].into(),
            client_port: 1,
            server_ip: [127, 0, 0, 1].into(),
            server_port: 2,
            unique_id: i.to_string(),
        });
        tx.request_line("POST", &String::from_utf8_lossy(&uri), "HTTP/1.1");
        tx.request_header(b"Content-Type", &mutate(&mut rng, types[k]));
        tx.request_header(b"Cookie", &mutate(&mut rng, b"a=b; c=d"));
        tx.process_request_headers();
        tx.request_body_chunk(&mutate(&mut rng, bodies[k]));
        tx.process_request_body();
        tx.process_logging();
        let _ = tx.matched_rules();
    }
}
