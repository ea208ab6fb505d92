#!/usr/bin/env bash
# CPU cost per proxied request, portcullis vs nginx, same run, same load. Wall-clock req/s on a
# shared 2-core machine moves with whatever else runs; the CPU time a proxy spends per request
# moves much less. For each round and protocol (HTTP/1.1 keep-alive, HTTPS), each contender gets
# the same bounded wrk run (wrk/myapp.lua); the user and system CPU time of its processes
# (portcullis: the process, all threads; nginx: its worker processes) is read from /proc before
# and after and divided by the number of requests wrk completed. Rounds alternate the
# contenders; the median over rounds is printed. Everything listens on 127.0.0.1.
#
#   loadtest/cpu.sh                          # ROUNDS=3 DURATION=5s CONNECTIONS=64 THREADS=2
#   PORTCULLIS_BIN=path loadtest/cpu.sh      # skip the build
#   PROTOS=http loadtest/cpu.sh              # HTTP only
#   PORTCULLIS_BASE=old-binary loadtest/cpu.sh   # also measure another build, same run
#
# Needs: nginx wrk (Debian packages), a clock-tick CPU accounting (/proc/PID/stat).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=loadtest/lib.sh
. "$here/lib.sh"
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
PROTOS=${PROTOS:-http https}
export PATH="$PATH:/usr/sbin"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
work=$(mktemp -d /tmp/portcullis-cpu.XXXXXX)
pids=()
cleanup() {
  lt_stop "$work" "${pids[@]:-}"
  rm -rf "$work"
}
trap cleanup EXIT

bin=$(lt_portcullis_bin "$root")

lt_certs "$work"
lt_start_origin "$work"
lt_start_nginx_proxy "$work"
lt_start_portcullis "$bin" "$root" "$work" "${PORTCULLIS_CONFIG:-$here/portcullis-bench.yaml}"
pcx=$!
pids+=("$pcx")
lt_wait_ready http://127.0.0.1:18080/blog http://127.0.0.1:18081/blog \
  https://127.0.0.1:18443/blog https://127.0.0.1:18444/blog
contenders="portcullis nginx"
if [ -n "${PORTCULLIS_BASE:-}" ]; then
  lt_start_portcullis "$PORTCULLIS_BASE" "$root" "$work" \
    "${PORTCULLIS_CONFIG:-$here/portcullis-bench.yaml}" 18090 18453 19190
  base=$!
  pids+=("$base")
  lt_wait_ready http://127.0.0.1:18090/blog https://127.0.0.1:18453/blog
  contenders="portcullis nginx base"
fi
nginx_master=$(cat "$work/nginx-proxy.pid")
mapfile -t nginx_workers < <(pgrep -P "$nginx_master")
hz=$(getconf CLK_TCK)

# measure NAME URL PID...: one bounded wrk run; prints
# "NAME us_per_req requests rps user_us_per_req sys_us_per_req".
measure() {
  local name=$1 url=$2 u0 s0 u1 s1 out requests rps
  shift 2
  read -r u0 s0 < <(lt_cpu_ticks "$@")
  out=$(timeout 120 wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" \
        -s "$here/wrk/myapp.lua" "$url" 2>&1 | grep PCX_RESULT || true)
  read -r u1 s1 < <(lt_cpu_ticks "$@")
  requests=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<< "$out")
  rps=$(sed -n 's/.*rps=\([0-9]*\).*/\1/p' <<< "$out")
  case "$out" in *"errors=0 non2xx=0"*) ;; *) echo "warning: $name: $out" >&2 ;; esac
  [ -n "$requests" ] && [ "$requests" -gt 0 ] || { echo "$name: no requests" >&2; return 1; }
  local per="1000000 / $hz / $requests"
  echo "$name $(echo "($u1 + $s1 - $u0 - $s0) * $per" | bc -l) $requests $rps" \
    "$(echo "($u1 - $u0) * $per" | bc -l) $(echo "($s1 - $s0) * $per" | bc -l)"
}

results="$work/cpu.txt"
: > "$results"
for round in $(seq 1 "$ROUNDS"); do
  for proto in $PROTOS; do
    # Rotate who goes first so a trend in background load hits all alike.
    order=$(echo $contenders | tr ' ' '\n' | awk -v r="$round" '{a[NR]=$0} END {for (i = 0; i < NR; i++) print a[(i + r) % NR + 1]}')
    for c in $order; do
      case $c in
        portcullis) [ "$proto" = http ] && port=18080 || port=18443; set -- "$pcx" ;;
        nginx) [ "$proto" = http ] && port=18081 || port=18444; set -- "${nginx_workers[@]}" ;;
        base) [ "$proto" = http ] && port=18090 || port=18453; set -- "$base" ;;
      esac
      measure "$c-$proto" "$proto://127.0.0.1:$port" "$@" >> "$results"
    done
  done
done

echo "machine: $(nproc) cores, $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg);" \
  "wrk -t$THREADS -c$CONNECTIONS -d$DURATION x $ROUNDS rounds; CPU = user+system of the proxy"
printf '%-18s %11s %9s %9s %20s %12s\n' contender cpu_us/req user sys "(rounds)" "median req/s"
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
for proto in $PROTOS; do
  for c in $contenders; do
    k="$c-$proto"
    us=$(awk -v k="$k" '$1==k {print $2}' "$results" | median)
    all=$(awk -v k="$k" '$1==k {printf "%s%.1f", sep, $2; sep="/"}' "$results")
    rps=$(awk -v k="$k" '$1==k {print $4}' "$results" | median)
    user=$(awk -v k="$k" '$1==k {print $5}' "$results" | median)
    sys=$(awk -v k="$k" '$1==k {print $6}' "$results" | median)
    printf '%-18s %11.2f %9.2f %9.2f %20s %12.0f\n' "$k" "$us" "$user" "$sys" "$all" "$rps"
  done
  pc=$(awk -v k="portcullis-$proto" '$1==k {print $2}' "$results" | median)
  ng=$(awk -v k="nginx-$proto" '$1==k {print $2}' "$results" | median)
  printf 'cpu per request portcullis/nginx %s: %.2f\n' "$proto" "$(echo "$pc/$ng" | bc -l)"
  if [ -n "${PORTCULLIS_BASE:-}" ]; then
    bs=$(awk -v k="base-$proto" '$1==k {print $2}' "$results" | median)
    printf 'cpu per request base/nginx %s: %.2f; portcullis/base: %.2f\n' "$proto" \
      "$(echo "$bs/$ng" | bc -l)" "$(echo "$pc/$bs" | bc -l)"
  fi
done
