#!/usr/bin/env bash
# libmodsecurity 3 + OWASP CRS v4 (PL1, blocking), same setup and requests as the Rust side.
#
#   benches/modsec/run.sh bench [ITERATIONS]   load time, RSS, median µs per request type
#   benches/modsec/run.sh verdicts             replays every CRS decision-table request through
#                                              libmodsecurity AND our engine; compares the
#                                              statuses and matched rule ids (a test oracle)
#
# Needs Debian's libmodsecurity3 + libmodsecurity-dev (apt-get install -y libmodsecurity3
# libmodsecurity-dev) and gcc. Builds into $CARGO_TARGET_DIR (default target/)/modsec-harness/.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
crs="$(cd "$repo/../shared/crs" 2>/dev/null && pwd)" || { echo "no CRS at ../shared/crs" >&2; exit 2; }
target="${CARGO_TARGET_DIR:-$repo/target}"
out="$target/modsec-harness"
mkdir -p "$out"

if ! [ -e /usr/include/modsecurity/modsecurity.h ]; then
    echo "libmodsecurity-dev is not installed (apt-get install -y libmodsecurity3 libmodsecurity-dev)" >&2
    exit 2
fi
gcc -O2 -Wall -Wextra -o "$out/harness" "$here/harness.c" -lmodsecurity

# The same files, in the same order, as benches/src/waf_requests.rs::crs_files().
{
    echo "SecAuditEngine Off"
    echo "Include $repo/crates/waf/tests/data/decisions/crs-blocking-setup.conf"
    echo "Include $crs/crs-setup.conf.example"
    for f in $(ls "$crs"/rules/*.conf | sort); do echo "Include $f"; done
} > "$out/crs-main.conf"

mode="${1:-bench}"
(cd "$repo" && cargo build -q --release -p portcullis-benches --bin waf-requests)
requests="$target/release/waf-requests"
case "$mode" in
    bench)
        "$requests" bench > "$out/bench-requests.txt"
        "$out/harness" bench "$out/crs-main.conf" "$out/bench-requests.txt" "${2:-2000}"
        ;;
    verdicts)
        "$requests" tables > "$out/table-requests.txt"
        "$out/harness" verdicts "$out/crs-main.conf" "$out/table-requests.txt" \
            > "$out/modsec-verdicts.txt" || true
        "$requests" verdicts > "$out/our-verdicts.txt"
        python3 - "$out/modsec-verdicts.txt" "$out/our-verdicts.txt" <<'PY'
import sys
# Anomaly-evaluation and correlation rules are left out: libmodsecurity does not pass them
# all to the log callback.
skip = {"949110", "949111", "959100", "980170", "980140"}
modsec = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
ours = [line.rstrip("\n").split("\t") for line in open(sys.argv[2])]
bad = 0
for m, o in zip(modsec, ours):
    m_ids, o_ids = set(m[3].split()) - skip, set(o[2].split()) - skip
    if m[1] != o[0] or m_ids != o_ids:
        bad += 1
        print(f"DIFF {m[4]}: modsec {m[1]} {sorted(m_ids)} / portcullis {o[0]} {sorted(o_ids)}")
wrong = sum(1 for o in ours if o[0] != o[1])
print(f"{len(ours)} requests: {len(ours) - bad} identical to libmodsecurity (status and rule ids), "
      f"{bad} different; {wrong} with a verdict other than the table's")
sys.exit(1 if bad or wrong or len(modsec) != len(ours) else 0)
PY
        ;;
    *) echo "usage: $0 bench [ITERATIONS] | verdicts" >&2; exit 2 ;;
esac
