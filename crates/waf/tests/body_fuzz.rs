//! Random and mutated inputs for every body processor: they must never panic.

use portcullis_waf::body::{parse_json, parse_multipart, parse_urlencoded, parse_xml};

/// xorshift64*: deterministic, no dependency.
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

const SEEDS: &[&[u8]] = &[
    b"--b\r\nContent-Disposition: form-data; name=\"a\"; filename=\"f\"\r\n\r\nx\r\n--b--\r\n",
    b"{\"a\":[1,{\"b\":\"\\u00e9\"}],\"c\":null}",
    b"<?xml version=\"1.0\"?><a x='1'><b>t&amp;</b><![CDATA[c]]></a>",
    b"a=1&b=%41+%zz&&c",
];

/// Random bytes drawn mostly from the characters that matter to the parsers.
fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    const ALPHABET: &[u8] = b"-\r\n\"'\\;:=&%+{}[],<>/!?@ \tabx01\x00\xff\xc3";
    let mut out = seed.to_vec();
    for _ in 0..rng.below(8) + 1 {
        let byte = if rng.below(4) == 0 {
            rng.next() as u8
        } else {
            ALPHABET[rng.below(ALPHABET.len())]
        };
        match rng.below(3) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] = byte;
            }
            1 if !out.is_empty() => {
                out.remove(rng.below(out.len()));
            }
            _ => out.insert(rng.below(out.len() + 1), byte),
        }
    }
    out
}

#[test]
fn processors_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let rounds: usize = std::env::var("BODY_FUZZ_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20_000);
    for round in 0..rounds {
        let input = mutate(&mut rng, SEEDS[round % SEEDS.len()]);
        let _ = parse_urlencoded(&input, b'&');
        let _ = parse_json(&input, 4);
        let _ = parse_xml(&input);
        let _ = parse_multipart(b"multipart/form-data; boundary=b", &input);
        let ct = mutate(&mut rng, b"multipart/form-data; boundary=\"b\"");
        let _ = parse_multipart(&ct, &input);
    }
}

#[test]
fn deep_and_long_inputs_are_bounded() {
    let deep = "[".repeat(100_000);
    assert!(parse_json(deep.as_bytes(), 10_000).is_err());
    let deep_xml = "<a>".repeat(50_000);
    assert!(parse_xml(deep_xml.as_bytes()).is_err());
    let mut long_line = b"--b\r\nContent-Disposition: form-data; name=a\r\n\r\n".to_vec();
    long_line.extend(std::iter::repeat_n(b'\r', 10_000));
    long_line.extend_from_slice(b"\r\n--b--\r\n");
    let out = parse_multipart(b"multipart/form-data; boundary=b", &long_line);
    assert_eq!(out.args.len(), 1);
}
