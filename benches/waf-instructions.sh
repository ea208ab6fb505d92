#!/usr/bin/env bash
# Instructions per WAF transaction (CRS v4, PL1, blocking), counted by valgrind's callgrind:
# deterministic, so a change can be judged on a busy machine where timings are noise.
#
#   benches/waf-instructions.sh [REQUEST_ID_SUBSTRING]   # default: get
#
# Runs `waf-requests profile N ID` for N=50 and N=250 (each after the same warm-up) and
# prints (count(250) - count(50)) / 200: the steady-state cost of one transaction, without
# engine load and lazy regex builds; then the functions with the most self cost per
# transaction. Needs valgrind (Debian package `valgrind`).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
target="${CARGO_TARGET_DIR:-$repo/target}"
req="${1:-get}"
command -v valgrind >/dev/null || { echo "waf-instructions: needs valgrind" >&2; exit 2; }
cargo build -q --release -p portcullis-benches --bin waf-requests --manifest-path "$repo/Cargo.toml"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for n in 50 250; do
  valgrind --tool=callgrind --callgrind-out-file="$work/cg-$n.out" \
    "$target/release/waf-requests" profile "$n" "$req" >/dev/null 2>&1
  callgrind_annotate --tree=none --threshold=99 "$work/cg-$n.out" 2>/dev/null \
    | grep -E '^ *[0-9,]+ \(' | sed -E 's/^ *([0-9,]+) \( *[0-9.]+%\)  (.*)$/\1\t\2/' \
    | tr -d ',' > "$work/self-$n.tsv"
done
python3 - "$work" <<'PY'
import collections, sys
work = sys.argv[1]
def load(n):
    d = collections.defaultdict(int)
    for line in open(f"{work}/self-{n}.tsv"):
        count, name = line.rstrip("\n").split("\t", 1)
        # Call-edge lines ("=> callee (Nx)") repeat costs counted in the functions' lines.
        if "=>" in name or name.rstrip().endswith("x)"):
            continue
        d[name.split(" [")[0]] += int(count)
    return d
a, b = load(50), load(250)
diff = {k: (b[k] - a.get(k, 0)) / 200 for k in b}
total = diff.pop("PROGRAM TOTALS")
print(f"instructions per transaction: {total:,.0f}")
for name, v in sorted(diff.items(), key=lambda x: -x[1])[:25]:
    print(f"{v:10,.0f} {100 * v / total:5.1f}%  {name[-110:]}")
PY
