mod operator_support;
use operator_support::*;
use portcullis_waf::operator::Operator;
#[test]
fn scratch() {
    let dir = crs_dir().unwrap();
    let loader = RulesDir(dir.join("rules"));
    let mut v = Vec::new();
    let (mut tp, mut tl) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
    for (origin, name, arg, neg) in crs_operators(&dir) {
        let t = std::time::Instant::now();
        let _ = Operator::compile(&name, &arg, neg, &loader).unwrap();
        let total = t.elapsed();
        if name == "rx" {
            let t = std::time::Instant::now();
            let _ = parse_hir(&arg);
            tp += t.elapsed();
            let t = std::time::Instant::now();
            let _ = portcullis_waf::operator::prefilter::rx_literals(&arg);
            tl += t.elapsed();
        }
        v.push((total, origin, name));
    }
    v.sort(); v.reverse();
    eprintln!("parse {tp:?} parse+literals {tl:?}; slowest {:?}", &v[..8]);
}
