//! Accuracy of `@detectSQLi` / `@detectXSS` against the C libinjection shipped in
//! libmodsecurity 3.0.9: `data/operator_libinjection.tsv` holds CRS test payloads and mutations
//! labelled by the C library (see `data/transform_oracle/generate_libinjection.py`).

use portcullis_waf::operator::{Captures, NoFiles, NoMacros, Operator};

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

/// Minimum agreement with the C library, in percent (measured: see the test output).
const MIN_AGREEMENT: f64 = 99.0;

#[test]
fn libinjection_agrees_with_the_c_library() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/operator_libinjection.tsv"
    );
    let text = std::fs::read_to_string(path).expect("read table");
    let sqli = Operator::compile("detectSQLi", "", false, &NoFiles).expect("compile");
    let xss = Operator::compile("detectXSS", "", false, &NoFiles).expect("compile");
    // (rows, verdict agreements, fingerprint agreements, false negatives, false positives)
    let mut stats = [(0usize, 0usize, 0usize, 0usize, 0usize); 2];
    let mut examples = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        let (kind, input, expected) = (cols[0], unhex(cols[1]), cols.get(2).copied().unwrap_or(""));
        let mut caps = Captures::new();
        let (idx, got, want, fp_ok) = if kind == "sqli" {
            let got = sqli.evaluate(&input, &NoMacros, Some(&mut caps));
            let want = expected.starts_with('1');
            let want_fp = expected.split_once(':').map(|x| x.1).unwrap_or("");
            let got_fp = caps
                .first()
                .map(|c| String::from_utf8_lossy(c).into_owned());
            (0, got, want, !want || got_fp.as_deref() == Some(want_fp))
        } else {
            let got = xss.evaluate(&input, &NoMacros, None);
            (1, got, expected == "1", true)
        };
        let s = &mut stats[idx];
        s.0 += 1;
        if got == want {
            s.1 += 1;
            if fp_ok {
                s.2 += 1;
            }
        } else if want {
            s.3 += 1;
        } else {
            s.4 += 1;
        }
        if (got != want || !fp_ok) && examples.len() < 30 {
            examples.push(format!(
                "{kind} {:?}: C says {expected}, we say {got} {:?}",
                String::from_utf8_lossy(&input),
                caps.first()
                    .map(|c| String::from_utf8_lossy(c).into_owned())
            ));
        }
    }
    for (name, s) in ["detectSQLi", "detectXSS"].iter().zip(stats) {
        eprintln!(
            "{name}: {} inputs, verdict agreement {:.2}% ({} false negatives, {} false positives), \
             verdict+fingerprint agreement {:.2}%",
            s.0,
            100.0 * s.1 as f64 / s.0 as f64,
            s.3,
            s.4,
            100.0 * s.2 as f64 / s.0 as f64
        );
    }
    for e in &examples {
        eprintln!("  {e}");
    }
    for s in stats {
        assert!(s.0 > 1000);
        assert!(100.0 * s.1 as f64 / s.0 as f64 >= MIN_AGREEMENT);
    }
}

/// The vendored libinjectionrs (`third_party/`) looks keywords up in a hash table instead of
/// a binary search: every keyword, in any case, must still give its own type, and other words
/// (longer than any keyword too) a bareword.
#[test]
fn keyword_lookup_finds_every_keyword() {
    use libinjectionrs::sqli::TokenType;
    use libinjectionrs::sqli::sqli_data::{SQL_KEYWORDS, lookup_word};
    let mut longest = 0;
    for k in SQL_KEYWORDS {
        let want = SQL_KEYWORDS
            .binary_search_by(|x| x.word.cmp(k.word))
            .map(|i| SQL_KEYWORDS[i].token_type)
            .expect("sorted table");
        assert_eq!(want, k.token_type, "duplicate keyword {:?}", k.word);
        let got = lookup_word(k.word);
        let expected = match k.token_type {
            b'k' => TokenType::Keyword,
            b'f' => TokenType::Function,
            b'U' => TokenType::Union,
            b'E' => TokenType::Expression,
            b'T' => TokenType::Tsql,
            b't' => TokenType::SqlType,
            b'o' => TokenType::Operator,
            b'&' => TokenType::LogicOperator,
            b'v' => TokenType::Variable,
            b'1' => TokenType::Number,
            b'A' => TokenType::Collate,
            b'B' => TokenType::Group,
            b'F' => TokenType::Fingerprint,
            _ => TokenType::Bareword,
        };
        assert_eq!(got, expected, "{:?}", k.word);
        assert_eq!(
            lookup_word(&k.word.to_ascii_lowercase()),
            got,
            "{:?}",
            k.word
        );
        longest = longest.max(k.word.len());
    }
    assert_eq!(lookup_word("SeLeCt"), TokenType::Expression);
    assert_eq!(lookup_word("union"), TokenType::Union);
    assert_eq!(lookup_word("ergonomic"), TokenType::Bareword);
    assert_eq!(lookup_word(&"A".repeat(longest + 1)), TokenType::Bareword);
    assert_eq!(lookup_word(""), TokenType::Bareword);
}

/// `@detectXSS` skips libinjection for inputs with neither `<` nor `=` (see
/// `operator/injection.rs`): the ungated detector must call every such input safe. Inputs
/// are built from the pieces libinjection's HTML5 tokenizer and blacklists react to (quotes,
/// slashes, white space, `>`, `!`, event-handler and URL attribute names, `javascript:`,
/// entities), in every order up to four pieces, plus pseudo-random byte strings.
#[test]
fn xss_needs_a_less_than_or_an_equals_sign() {
    const PIECES: [&[u8]; 20] = [
        b"\"",
        b"'",
        b"`",
        b"/",
        b" ",
        b"\t",
        b">",
        b"!",
        b"onload",
        b"onerror",
        b"href",
        b"style",
        b"src",
        b"javascript:alert(1)",
        b"&#x6a;",
        b"x",
        b"--",
        b"[if",
        b"DOCTYPE",
        b"\x00",
    ];
    let mut input = Vec::new();
    let mut checked = 0;
    let n = PIECES.len();
    for len in 1..=4u32 {
        for mut code in 0..n.pow(len) {
            input.clear();
            for _ in 0..len {
                input.extend_from_slice(PIECES[code % n]);
                code /= n;
            }
            assert!(
                !libinjectionrs::detect_xss(&input).is_injection(),
                "{:?}",
                String::from_utf8_lossy(&input)
            );
            checked += 1;
        }
    }
    // Pseudo-random bytes (xorshift), `<` and `=` replaced.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..50_000 {
        input.clear();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let len = (seed % 48) as usize;
        for _ in 0..len {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let b = (seed >> 24) as u8;
            input.push(if b == b'<' || b == b'=' { b'a' } else { b });
        }
        assert!(
            !libinjectionrs::detect_xss(&input).is_injection(),
            "{input:?}"
        );
        checked += 1;
    }
    assert!(checked > 200_000);
    // And the gate is not vacuous: one `=` or `<` turns such inputs into XSS.
    for xss in [
        &b"x onload=alert(1)"[..],
        b"\" onerror=alert(1)",
        b"<script>",
    ] {
        assert!(libinjectionrs::detect_xss(xss).is_injection());
    }
    let detect = Operator::compile("detectXSS", "", false, &NoFiles).expect("compile");
    let mut caps = Captures::new();
    assert!(detect.evaluate(b"x onload=alert(1)", &NoMacros, Some(&mut caps)));
    assert!(!detect.evaluate(b"javascript:alert(1) onload", &NoMacros, None));
}
