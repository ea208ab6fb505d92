#!/usr/bin/env bash
# portcullis WAF vs libmodsecurity 3, both running OWASP CRS v4 (../shared/crs) at paranoia
# level 1 in blocking mode with the same setup file and byte-identical requests, in one run.
#
#   benches/waf-compare.sh [MODSEC_ITERATIONS]
#
# 1. criterion: benches/benches/waf_transaction.rs (checks every verdict first)
# 2. resident memory with CRS loaded: `waf-requests rss`
# 3. libmodsecurity: benches/modsec/run.sh bench (checks every verdict first)
# then prints a markdown table of medians and ratios. Needs libmodsecurity3,
# libmodsecurity-dev, gcc and python3.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
target="${CARGO_TARGET_DIR:-$repo/target}"
export CARGO_TARGET_DIR="$target"
iterations="${1:-2000}"
[ -d "$repo/../shared/crs/rules" ] || { echo "no CRS at ../shared/crs: nothing to compare" >&2; exit 2; }
work="$target/waf-compare"
mkdir -p "$work"

cd "$repo"
cargo bench -q -p portcullis-benches --bench waf_transaction 2>&1 | tee "$work/criterion.txt" \
    | grep -E "^waf-(crs|own)-pl1/|time:" || true
cargo build -q --release -p portcullis-benches --bin waf-requests
"$target/release/waf-requests" rss > "$work/rss.txt"
"$here/modsec/run.sh" bench "$iterations" > "$work/modsec.txt"

python3 - "$target/criterion/waf-crs-pl1" "$work/rss.txt" "$work/modsec.txt" <<'PY'
import json, os, sys
crit, rss_file, modsec_file = sys.argv[1:4]

def ours(name, group=crit):
    with open(os.path.join(group, name, "new", "estimates.json")) as f:
        return json.load(f)["median"]["point_estimate"] / 1000.0  # ns -> µs

rss = dict(line.split()[:2] for line in open(rss_file))
modsec, modsec_p90 = {}, {}
for line in open(modsec_file):
    parts = line.rstrip("\n").split("\t")
    if parts[0] == "median_us":
        modsec[parts[1]] = float(parts[2])
    elif parts[0] in ("load_ms", "rss_kib"):
        modsec[parts[0]] = float(parts[1])

fresh = crit + "-fresh"
print("portcullis repeated: the request as it is, again and again (its values known to the value memo);")
print("portcullis fresh: the value memo emptied before each transaction (every value new).")
print()
print("| measurement (CRS v4.28, PL1, blocking) | portcullis repeated | portcullis fresh | libmodsecurity 3 | ratio repeated | ratio fresh |")
print("|---|---:|---:|---:|---:|---:|")
load = ours("rule-load") / 1000.0
print(f"| rule load (ms) | {load:.1f} | | {modsec['load_ms']:.1f} | {modsec['load_ms'] / load:.1f}x | |")
print(f"| RSS with CRS loaded (MiB) | {int(rss['rss_kib']) / 1024:.1f} | | {modsec['rss_kib'] / 1024:.1f} | | |")
ratios, fresh_ratios = [], []
for rid in ["get-3-args", "post-form-7-args", "json-1k", "multipart-10k", "sqli-attack"]:
    a, f, b = ours(rid), ours(rid, fresh), modsec[rid]
    ratios.append(b / a)
    fresh_ratios.append(b / f)
    print(f"| {rid} median (µs) | {a:.1f} | {f:.1f} | {b:.1f} | {b / a:.0f}x | {b / f:.0f}x |")
def geomean(xs):
    g = 1.0
    for x in xs:
        g *= x
    return g ** (1 / len(xs))
print(f"| geometric mean speed-up | | | | {geomean(ratios):.0f}x | {geomean(fresh_ratios):.0f}x |")
print(f"\nportcullis rules compiled: {rss.get('rules', '?')}")

own = os.path.join(os.path.dirname(crit), "waf-own-pl1")
if os.path.isdir(own):
    print("\n| own rule set (rules/, PL1, blocking) | portcullis median |")
    print("|---|---:|")
    for rid in ["rule-load", "get-3-args", "post-form-7-args", "json-1k", "multipart-10k", "sqli-attack"]:
        with open(os.path.join(own, rid, "new", "estimates.json")) as f:
            ns = json.load(f)["median"]["point_estimate"]
        print(f"| {rid} | {ns / 1e6:.2f} ms |" if rid == "rule-load" else f"| {rid} | {ns / 1e3:.1f} µs |")
PY
