//! Differential table: `tests/data/transform_oracle.tsv` holds inputs run through
//! libmodsecurity 3's own transformation code (see `data/transform_oracle/generate.py`).
//! Every row must give the same bytes here.

use portcullis_waf::transform::Transform;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

/// Rows where we deliberately differ from libmodsecurity 3.0.9, with the reason.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[];

#[test]
fn transformations_match_libmodsecurity() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/transform_oracle.tsv"
    );
    let text = std::fs::read_to_string(path).expect("read table");
    let mut failures = Vec::new();
    let mut total = 0;
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let mut cols = line.split('\t');
        let (name, input, expected) = (
            cols.next().unwrap_or(""),
            cols.next().unwrap_or(""),
            cols.next().unwrap_or(""),
        );
        if KNOWN_DIFFERENCES
            .iter()
            .any(|(n, i)| *n == name && *i == input)
        {
            continue;
        }
        total += 1;
        let t = Transform::from_name(name).unwrap_or_else(|| panic!("unknown transform {name}"));
        let input_bytes = unhex(input);
        let got = t.apply(&input_bytes);
        if got.as_ref() != unhex(expected).as_slice() {
            failures.push(format!(
                "{name}: input {:?} expected {:?} got {:?}",
                String::from_utf8_lossy(&input_bytes),
                String::from_utf8_lossy(&unhex(expected)),
                String::from_utf8_lossy(&got)
            ));
        }
    }
    assert!(total > 1000, "table too small: {total}");
    assert!(
        failures.is_empty(),
        "{} of {total} rows differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
