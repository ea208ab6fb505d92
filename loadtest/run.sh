#!/usr/bin/env bash
# Side-by-side load test: origin, portcullis, nginx and HAProxy with the same routes (the seed
# example: Host myapp.com, /blog and /store -> one origin), same requests (wrk/myapp.lua), one
# run. Prints req/s, p50, p99 per contender and the ratio portcullis/nginx, for plain HTTP/1.1
# keep-alive and for HTTPS. Everything listens on 127.0.0.1 only; every wrk run is bounded.
#
#   loadtest/run.sh                 # defaults: DURATION=8s CONNECTIONS=64 THREADS=2
#   DURATION=4s loadtest/run.sh     # shorter
#   PORTCULLIS_BIN=path loadtest/run.sh   # skip the build (default: build into $CARGO_TARGET_DIR)
#
# CPU cost per request (less sensitive to a busy machine than req/s): loadtest/cpu.sh.
#
# Needs: nginx haproxy wrk (Debian packages; installed if missing and apt-get is usable).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=loadtest/lib.sh
. "$here/lib.sh"
DURATION=${DURATION:-8s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
work=$(mktemp -d /tmp/portcullis-loadtest.XXXXXX)
pids=()
cleanup() {
  lt_stop "$work" "${pids[@]:-}"
}
trap cleanup EXIT

need() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
if ! need nginx || ! need haproxy || ! need wrk; then
  echo "installing nginx haproxy wrk (Debian packages)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx-light haproxy wrk >/dev/null
fi
export PATH="$PATH:/usr/sbin"

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
bin=$(lt_portcullis_bin "$root")

lt_certs "$work"
# --- origin: nginx answering 200 on 127.0.0.1:9001 (the anchors' origin) ---
lt_start_origin "$work"
# --- nginx proxy (HTTP 18081, HTTPS 18444), as in ../shared/anchors/nginx-proxy.conf ---
lt_start_nginx_proxy "$work"

# --- HAProxy (HTTP 18082, HTTPS 18445), as in ../shared/anchors/haproxy.cfg ---
cat > "$work/haproxy.cfg" <<CONF
global
  nbthread 2
  maxconn 8000
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
frontend fe
  bind 127.0.0.1:18082
  bind 127.0.0.1:18445 ssl crt $work/tls.pem
  acl host_myapp hdr(host) -i myapp.com
  acl p_blog path_beg /blog
  acl p_store path_beg /store
  use_backend be if host_myapp p_blog
  use_backend be if host_myapp p_store
  default_backend notfound
backend be
  http-reuse always
  server s1 127.0.0.1:9001
backend notfound
  http-request return status 404
CONF
haproxy -f "$work/haproxy.cfg" -q &
pids+=($!)

# --- portcullis (HTTP 18080, HTTPS 18443) with the example Ingress pointed at the origin ---
lt_start_portcullis "$bin" "$root" "$work" "${PORTCULLIS_CONFIG:-$here/portcullis-bench.yaml}"
pids+=($!)

lt_wait_ready http://127.0.0.1:9001/ http://127.0.0.1:18080/blog http://127.0.0.1:18081/blog \
  http://127.0.0.1:18082/blog https://127.0.0.1:18443/blog https://127.0.0.1:18444/blog \
  https://127.0.0.1:18445/blog

run_wrk() { # name url
  local out
  out=$(timeout 120 wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency \
        -s "$here/wrk/myapp.lua" "$2" 2>&1 | grep PCX_RESULT || true)
  printf '%s %s\n' "$1" "${out#PCX_RESULT }"
}

results="$work/results.txt"
: > "$results"
run_wrk "origin-direct http" http://127.0.0.1:9001 >> "$results"
for proto in http https; do
  case $proto in
    http) p=18080; n=18081; h=18082 ;;
    https) p=18443; n=18444; h=18445 ;;
  esac
  run_wrk "portcullis $proto" "$proto://127.0.0.1:$p" >> "$results"
  run_wrk "nginx $proto" "$proto://127.0.0.1:$n" >> "$results"
  run_wrk "haproxy $proto" "$proto://127.0.0.1:$h" >> "$results"
done

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr); wrk -t$THREADS -c$CONNECTIONS -d$DURATION; all on 127.0.0.1"
printf '%-22s %10s %9s %9s %7s %7s\n' contender req/s p50_ms p99_ms errors non2xx
while read -r a b rest; do
  eval "$rest"
  printf '%-22s %10s %9.2f %9.2f %7s %7s\n' "$a $b" "$rps" "$(echo "$p50_us/1000" | bc -l)" \
    "$(echo "$p99_us/1000" | bc -l)" "$errors" "$non2xx"
done < "$results"
ratio() { # proto
  local pc ng
  pc=$(awk -v k="portcullis $1" '$1" "$2==k {split($3,a,"="); print a[2]}' "$results")
  ng=$(awk -v k="nginx $1" '$1" "$2==k {split($3,a,"="); print a[2]}' "$results")
  [ -n "$pc" ] && [ -n "$ng" ] && [ "$ng" != 0 ] && printf 'ratio portcullis/nginx %s: %.2f\n' "$1" "$(echo "$pc/$ng" | bc -l)"
}
ratio http; ratio https
echo "portcullis RSS after load: $(rss_kb "${pids[1]}") kB"
