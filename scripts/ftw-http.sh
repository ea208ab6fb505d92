#!/usr/bin/env bash
# The CRS regression suite over real HTTP against portcullis (issue 5, "conformance over HTTP").
#
# Starts an albedo-compatible backend (`portcullis demo-backend`) and portcullis with the OWASP
# CRS from ../shared/crs (or $CRS_DIR), crs-setup.conf.example and the suite's SecAction 900005
# (crates/waf-ftw/crs-test-setup.conf) plus the X-CRS-Test log-marker rule 999999, then runs
# the suite in log mode (rule ids read from portcullis's ModSecurity-style error log).
#
# Runner: go-ftw (`go install github.com/coreruleset/go-ftw/v2@latest`, nice -n 15) when it can
# be installed; otherwise the same suite over the same HTTP path with our Rust runner, which
# builds each request exactly as go-ftw does (crates/portcullis/tests/waf_ftw_http.rs).
# Tests listed in crates/waf-ftw/overrides.yaml (front-end behaviour of the reference Apache)
# are reported but do not count. Exits non-zero under MIN_RATE (default 0.99).
#
#   scripts/ftw-http.sh                    # full suite
#   FTW_INCLUDE=942 scripts/ftw-http.sh    # rule ids containing 942 (Rust runner)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
CRS_DIR=${CRS_DIR:-$root/../shared/crs}
MIN_RATE=${MIN_RATE:-0.99}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
if [ ! -d "$CRS_DIR/rules" ]; then
  echo "SKIP: no CRS at $CRS_DIR (set CRS_DIR)"; exit 0
fi
CRS_DIR=$(cd "$CRS_DIR" && pwd)

gobin=$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin
ftw=""
if command -v go-ftw >/dev/null 2>&1; then ftw=$(command -v go-ftw);
elif [ -x "$gobin/go-ftw" ]; then ftw="$gobin/go-ftw";
elif command -v go >/dev/null 2>&1; then
  echo "installing go-ftw (go install, nice -n 15)"
  if GOFLAGS=-mod=mod nice -n 15 go install github.com/coreruleset/go-ftw/v2@latest >/tmp/go-ftw-install.log 2>&1 \
     && [ -x "$gobin/go-ftw" ]; then ftw="$gobin/go-ftw";
  else echo "go-ftw cannot be installed here ($(tail -1 /tmp/go-ftw-install.log)); using the Rust runner"; fi
fi

if [ -z "$ftw" ]; then
  CRS_DIR="$CRS_DIR" FTW_MIN_RATE="$MIN_RATE" FTW_JSON="${FTW_JSON:-$CARGO_TARGET_DIR/ftw-http.json}" \
    cargo test -q -p portcullis --test waf_ftw_http -- --ignored --nocapture
  exit $?
fi

# --- go-ftw path -------------------------------------------------------------------------
work=$(mktemp -d /tmp/portcullis-ftw.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
cargo build -q -p portcullis
bin="$CARGO_TARGET_DIR/debug/portcullis"
port_backend=18181 port_http=18180 port_admin=18190
"$bin" demo-backend --listen 127.0.0.1:$port_backend --name albedo >"$work/backend.log" 2>&1 &
pids+=($!)
cp "$root/crates/waf-ftw/crs-test-setup.conf" "$work/setup-test.conf"
cat >>"$work/setup-test.conf" <<'CONF'
# go-ftw's log marker: write the X-CRS-Test header value to the log.
SecRule REQUEST_HEADERS:X-CRS-Test "@rx ^.*$" "id:999999,phase:1,log,msg:'X-CRS-Test %{MATCHED_VAR}',pass,t:none"
CONF
mkdir -p "$work/manifests"
cat >"$work/manifests/albedo.yaml" <<YAML
apiVersion: v1
kind: Service
metadata: { name: albedo, namespace: default }
spec: { ports: [{ name: http, port: 80, targetPort: $port_backend }] }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: albedo-1, namespace: default, labels: { kubernetes.io/service-name: albedo } }
addressType: IPv4
ports: [{ name: http, port: $port_backend }]
endpoints: [{ addresses: ["127.0.0.1"], conditions: { ready: true } }]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: all, namespace: default }
spec: { defaultBackend: { service: { name: albedo, port: { number: 80 } } } }
YAML
cat >"$work/portcullis.yaml" <<YAML
manifests: manifests
proxy: { http_addr: "127.0.0.1:$port_http", https_addr: null, admin_addr: "127.0.0.1:$port_admin", access_log: false }
logging: { level: warn }
waf:
  mode: block
  rules: crs
  crs_dir: $CRS_DIR
  crs_setup: [$CRS_DIR/crs-setup.conf.example, setup-test.conf]
  time_budget: "0"
  response_body: { limit: 524288, mime_types: [text/plain, text/html, text/xml] }
  error_log: waf-error.log
YAML
"$bin" run --config "$work/portcullis.yaml" >"$work/portcullis.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do curl -sf "127.0.0.1:$port_admin/readyz" >/dev/null && break; sleep 0.2; done
cat >"$work/.ftw.yaml" <<YAML
logfile: $work/waf-error.log
logmarkerheadername: X-CRS-Test
testoverride:
  input:
    dest_addr: 127.0.0.1
    port: $port_http
  ignore:
YAML
# The bundled overrides (front-end behaviour of the reference Apache) as go-ftw ignores.
python3 - "$root/crates/waf-ftw/overrides.yaml" >>"$work/.ftw.yaml" <<'PY'
import re, sys
rule = None
for line in open(sys.argv[1]):
    m = re.match(r"\s*-\s*rule_id:\s*(\d+)", line)
    if m:
        rule = m.group(1)
        continue
    m = re.match(r"\s*test_ids:\s*\[([^\]]*)\]", line)
    if m and rule:
        for t in m.group(1).split(","):
            if t.strip():
                print(f"    '{rule}-{t.strip()}': 'front-end behaviour (crates/waf-ftw/overrides.yaml)'")
PY
set +e
(cd "$work" && "$ftw" run --config "$work/.ftw.yaml" -d "$CRS_DIR/tests" -o json >"$work/ftw.json" 2>"$work/ftw.err")
set -e
python3 - "$work/ftw.json" "$MIN_RATE" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
get = lambda *keys: next((r[k] for k in keys if k in r), [])
ok, failed = len(get("success", "Success")), len(get("failed", "Failed"))
rate = ok / max(1, ok + failed)
print(f"go-ftw over HTTP (log mode): {ok} passed, {failed} failed, pass rate {rate:.4f}")
sys.exit(0 if rate >= float(sys.argv[2]) else 1)
PY
