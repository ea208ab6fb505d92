#!/usr/bin/env bash
# Profile-guided release build of portcullis: the build the Dockerfile ships and the one
# docs/benchmarks.md measures beside the plain release build (about a fifth less CPU per
# WAF-inspected request). Three steps:
#   1. an instrumented build (rustc -Cprofile-generate);
#   2. a training run of that binary on loopback: the example configuration with OWASP CRS
#      at PL1 in blocking mode, the demo backends, and real traffic through every listener —
#      the CRS decision tables (crates/waf/tests/data/decisions: benign browser, API, form and
#      upload requests and attacks) over HTTP/1.1 keep-alive through the WAF and through a
#      WAF-off host, curl over HTTPS (HTTP/1.1 and h2, new handshakes and reused
#      connections) and h2c; then SIGTERM, which writes the profile;
#   3. the optimised build with that profile (rustc -Cprofile-use).
# The training traffic is not the load test's (loadtest/waf/*.lua) nor the benchmark
# requests: the profile describes varied traffic, not the benchmark.
#
#   scripts/build-pgo.sh                   # -> target/pgo/portcullis
#
# Environment: CRS_DIR (a CRS v4 checkout; default ../shared/crs), PGO_PROFILE (the cargo
# profile, default release; CI checks the pipeline with the faster pgo-check profile),
# PGO_OUT (default target/pgo). Needs llvm-profdata of rustc's LLVM version: the rustup
# component llvm-tools, or Debian's llvm-<major> (installed when missing and apt is at hand).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
CRS_DIR=${CRS_DIR:-$root/../shared/crs}
profile=${PGO_PROFILE:-release}
out=${PGO_OUT:-$root/target/pgo}
[ -d "$CRS_DIR/rules" ] || { echo "build-pgo: no CRS at $CRS_DIR (set CRS_DIR to a CRS v4 checkout)" >&2; exit 1; }
CRS_DIR=$(cd "$CRS_DIR" && pwd)
host=$(rustc -vV | sed -n 's/^host: //p')
llvm_major=$(rustc -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')
step() { printf '\n==> build-pgo: %s\n' "$*"; }

# llvm-profdata must read the raw profiles of rustc's LLVM: the same major version.
profdata=""
for candidate in "$(rustc --print sysroot)/lib/rustlib/$host/bin/llvm-profdata" \
    "$(command -v "llvm-profdata-$llvm_major" || true)" "/usr/lib/llvm-$llvm_major/bin/llvm-profdata"; do
  if [ -n "$candidate" ] && [ -x "$candidate" ]; then profdata=$candidate; break; fi
done
if [ -z "$profdata" ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  step "installing llvm-$llvm_major (llvm-profdata for rustc's LLVM $llvm_major)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "llvm-$llvm_major" >/dev/null
  profdata=/usr/lib/llvm-$llvm_major/bin/llvm-profdata
fi
[ -x "$profdata" ] || { echo "build-pgo: needs llvm-profdata of LLVM $llvm_major: 'rustup component add llvm-tools' or 'apt-get install llvm-$llvm_major'" >&2; exit 1; }
command -v curl >/dev/null || { echo "build-pgo: needs curl for the HTTPS training traffic" >&2; exit 1; }

work=$(mktemp -d /tmp/portcullis-pgo.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
data=$work/profraw
mkdir -p "$data"
# --target: the build scripts and proc macros (host artefacts) stay uninstrumented.
gen_dir=$root/target/pgo-gen
use_dir=$root/target/pgo-use
profile_dir=$profile; [ "$profile" = dev ] && profile_dir=debug

step "1/3 instrumented build ($profile)"
RUSTFLAGS="${RUSTFLAGS:-} -Cprofile-generate=$data" CARGO_TARGET_DIR=$gen_dir \
  cargo build --locked --profile "$profile" --target "$host" -p portcullis --bin portcullis \
    -p portcullis-benches --bin waf-requests
bin=$gen_dir/$host/$profile_dir/portcullis
client=$gen_dir/$host/$profile_dir/waf-requests

step "2/3 training run (CRS $CRS_DIR, PL1, blocking)"
# Loopback ports of our own, apart from the example's.
http=127.0.0.1:18380 https=127.0.0.1:18743 admin=127.0.0.1:19380
cp -r config/manifests "$work/manifests"
sed -i 's/9101/19381/g; s/9102/19382/g' "$work/manifests/services.yaml"
cat > "$work/manifests/plain-ingress.yaml" <<'YAML'
# The same backends on a host with the WAF off: the streaming path is trained too.
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: plain
  namespace: default
  annotations:
    portcullis.dev/waf-mode: "off"
spec:
  ingressClassName: portcullis
  rules:
    - host: plain.myapp.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: blogservice
                port:
                  number: 80
YAML
cat > "$work/pgo.yaml" <<YAML
manifests: manifests
proxy:
  workers: auto
  access_log: true
waf:
  mode: block
  rules: crs
  crs_dir: $CRS_DIR
  paranoia_level: 1
  error_log: $work/waf-error.log
  audit_log: $work/waf-audit.json
logging:
  level: info
demo_backends:
  - { name: blogservice, addr: "127.0.0.1:19381" }
  - { name: storeservice, addr: "127.0.0.1:19382" }
YAML
LLVM_PROFILE_FILE="$data/portcullis-%p-%m.profraw" "$bin" run --config "$work/pgo.yaml" \
  --http-addr "$http" --https-addr "$https" --admin-addr "$admin" --demo-backends \
  > "$work/portcullis.log" 2>&1 &
pid=$!
ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$admin/readyz" || true)" = 200 ]; }
for _ in $(seq 1 300); do
  ready || ! kill -0 "$pid" 2>/dev/null && break
  sleep 0.2
done
ready || { tail -20 "$work/portcullis.log" >&2; echo "build-pgo: portcullis did not become ready" >&2; exit 1; }

tally=$work/tally.txt
replay() { # HOST PREFIXES ROUNDS [benign]: the decision tables over HTTP/1.1
  LLVM_PROFILE_FILE=$work/client-%p.profraw "$client" http "$http" "$@" | tee -a "$tally"
}
replay myapp.com /blog,/store "${PGO_ROUNDS:-15}"
replay plain.myapp.com /blog,/store "${PGO_ROUNDS:-15}" benign
# curl: many URLs per invocation share one connection; each invocation is a new handshake.
curl_urls() { # SCHEME HOSTPORT N
  local i
  for i in $(seq 1 "$3"); do
    printf '%s://%s/blog/posts/%s?page=%s&sort=date&q=hello+world%%21 ' "$1" "$2" "$i" $((i % 7))
    [ $((i % 10)) = 0 ] && printf "%s://%s/store/items?id=1%%27%%20OR%%201%%3D1--%%20 " "$1" "$2"
  done
}
codes=$work/codes.txt
tls="-k --resolve myapp.com:${https##*:}:127.0.0.1"
for round in $(seq 1 "${PGO_TLS_ROUNDS:-20}"); do
  for version in --http1.1 --http2; do
    # shellcheck disable=SC2046,SC2086 # word-split URL lists and flags
    curl -s $tls "$version" -o /dev/null -w '%{http_code}\n' \
      -H 'Accept: text/html' -A "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0" \
      $(curl_urls https "myapp.com:${https##*:}" 50) >> "$codes" || true
  done
  # shellcheck disable=SC2046,SC2086
  curl -s $tls --http2 -o /dev/null -w '%{http_code}\n' -H 'Content-Type: application/json' \
    --data-binary "{\"order\":$round,\"items\":[{\"sku\":\"A-1\",\"qty\":2}],\"note\":\"leave at the door\"}" \
    $(curl_urls https "myapp.com:${https##*:}" 10) >> "$codes" || true
  # shellcheck disable=SC2046
  curl -s --http2-prior-knowledge -o /dev/null -w '%{http_code}\n' -H 'Host: myapp.com' \
    $(curl_urls http "$http" 20) >> "$codes" || true
done
kill -TERM "$pid"
wait "$pid" || { tail -20 "$work/portcullis.log" >&2; echo "build-pgo: portcullis did not exit cleanly" >&2; exit 1; }
pid=""
# The training must have gone through the WAF both ways and through TLS.
get() { awk -v s="$1" '$1=="status" && $2==s {n+=$3} END {print n+0}' "$tally"; }
https_ok=$(grep -c '^200$' "$codes" || true)
https_blocked=$(grep -c '^403$' "$codes" || true)
echo "training: HTTP/1.1 200: $(get 200), 403: $(get 403), failed: $(awk '$1=="failed" {n+=$2} END {print n+0}' "$tally"); curl 200: $https_ok, 403: $https_blocked"
if [ "$(get 200)" = 0 ] || [ "$(get 403)" = 0 ] || [ "$https_ok" = 0 ] || [ "$https_blocked" = 0 ]; then
  echo "build-pgo: the training traffic did not pass and get blocked as expected (log: $work/portcullis.log)" >&2
  exit 1
fi
ls "$data"/portcullis-*.profraw >/dev/null 2>&1 || { echo "build-pgo: no profile written" >&2; exit 1; }
"$profdata" merge -o "$work/portcullis.profdata" "$data"/portcullis-*.profraw

step "3/3 optimised build with the profile ($profile)"
RUSTFLAGS="${RUSTFLAGS:-} -Cprofile-use=$work/portcullis.profdata" CARGO_TARGET_DIR=$use_dir \
  cargo build --locked --profile "$profile" --target "$host" -p portcullis --bin portcullis
mkdir -p "$out"
cp "$use_dir/$host/$profile_dir/portcullis" "$out/portcullis"
cp "$work/portcullis.profdata" "$out/portcullis.profdata"
"$out/portcullis" check --config config/portcullis.yaml >/dev/null \
  || { echo "build-pgo: the optimised binary fails 'portcullis check' on the example" >&2; exit 1; }
echo "build-pgo: $out/portcullis (profile: $out/portcullis.profdata)"
