#!/usr/bin/env bash
# WAF throughput, side by side in one run (issue 5): the same origin and the same requests
# through
#   - portcullis + OWASP CRS v4 (../shared/crs) at PL1, blocking        (127.0.0.1:18080)
#   - portcullis with the WAF off                                     (127.0.0.1:18083)
#   - nginx + ModSecurity 3 (Debian) + the same CRS, PL1, blocking     (127.0.0.1:18091)
# Workloads (wrk Lua scripts in loadtest/waf/): (a) benign GETs with query arguments and
# browser headers, (b) benign 1 KB JSON POSTs, (c) GETs with every 10th request an attack.
# Before timing, each WAF contender is checked: benign requests 200, every attack 403; during
# (c) the number of 403 answers is compared with the number of attacks sent. Prints req/s,
# p50, p99, each contender's own CPU time per request, the ratios portcullis+CRS /
# nginx+ModSecurity and portcullis+CRS / WAF off, and RSS with CRS loaded. Everything
# listens on 127.0.0.1; every wrk run is bounded.
# ROUNDS rounds, each running every workload on every contender in turn: the summary takes
# the median req/s, p99 and CPU per request of each (contender, workload) over the rounds
# — single runs minutes apart move by ±10–20% on the shared 2-core machine — and prints
# each round's ratios beside the ratios of the medians.
#
#   loadtest/waf.sh                      # ROUNDS=3 DURATION=8s WARMUP=2s CONNECTIONS=64 THREADS=2
#   ROUNDS=1 DURATION=4s loadtest/waf.sh
#   PGO=1 loadtest/waf.sh                # the profile-guided build the Dockerfile ships
#   PORTCULLIS_BIN=path loadtest/waf.sh  # a given binary (default: a release build)
#
# Needs: nginx libnginx-mod-http-modsecurity wrk (Debian; installed when missing).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=loadtest/lib.sh
. "$here/lib.sh"
DURATION=${DURATION:-8s}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-2s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
CRS_DIR=${CRS_DIR:-$root/../shared/crs}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
[ -d "$CRS_DIR/rules" ] || { echo "no CRS at $CRS_DIR (set CRS_DIR)"; exit 1; }
CRS_DIR=$(cd "$CRS_DIR" && pwd)
work=$(mktemp -d /tmp/portcullis-wafload.XXXXXX)
pids=()
cleanup() {
  lt_stop "$work" "${pids[@]:-}"
}
trap cleanup EXIT
export PATH="$PATH:/usr/sbin"
if ! command -v nginx >/dev/null || ! command -v wrk >/dev/null \
   || [ ! -e /usr/share/nginx/modules/ngx_http_modsecurity_module.so ]; then
  echo "installing nginx libnginx-mod-http-modsecurity wrk (Debian packages)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    nginx libnginx-mod-http-modsecurity wrk >/dev/null
fi

bin=$(lt_portcullis_bin "$root")

# --- origin: nginx answering 200 for any method and path on 127.0.0.1:9001 ---
lt_start_origin "$work"

# --- nginx + ModSecurity 3 + CRS v4 PL1 blocking (as ../shared/anchors/modsec-main.conf) ---
cat > "$work/modsec-main.conf" <<CONF
Include /etc/nginx/modsecurity.conf
SecRuleEngine On
SecAuditEngine Off
SecResponseBodyAccess Off
Include $CRS_DIR/crs-setup.conf.example
SecAction "id:9600001,phase:1,pass,nolog,t:none,setvar:tx.blocking_paranoia_level=1"
Include $CRS_DIR/rules/*.conf
CONF
lt_start_nginx "$work" nginx-modsec \
  "load_module /usr/share/nginx/modules/ngx_http_modsecurity_module.so;" \
  "    listen 127.0.0.1:18091 reuseport backlog=4096;
    modsecurity on;
    modsecurity_rules_file $work/modsec-main.conf;"

# --- portcullis: the example Ingress pointed at the origin; one process with CRS, one without ---
lt_manifests "$root" "$work"
grep -q "secretName" "$work/manifests/myapp-ingress.yaml" && \
  sed -i '/tls:/,/secretName/d' "$work/manifests/myapp-ingress.yaml" || true
common_cfg="proxy:\n  workers: auto\n  access_log: false\nlogging:\n  level: warn\n"
printf "$common_cfg" > "$work/plain.yaml"
printf "${common_cfg}waf:\n  mode: block\n  rules: crs\n  crs_dir: $CRS_DIR\n  paranoia_level: 1\n  error_log: $work/portcullis-waf-error.log\n" > "$work/waf.yaml"
"$bin" run --config "$work/waf.yaml" --manifests "$work/manifests" --http-addr 127.0.0.1:18080 \
  --https-addr 127.0.0.1:18443 --admin-addr 127.0.0.1:19180 > "$work/portcullis-waf.log" 2>&1 &
pids+=($!); pc_waf=$!
"$bin" run --config "$work/plain.yaml" --manifests "$work/manifests" --http-addr 127.0.0.1:18083 \
  --https-addr 127.0.0.1:18446 --admin-addr 127.0.0.1:19183 > "$work/portcullis-plain.log" 2>&1 &
pids+=($!); pc_plain=$!

status() { curl -s -o /dev/null -w '%{http_code}' -H 'Host: myapp.com' "$@" || true; }
for u in 127.0.0.1:9001/ 127.0.0.1:18080/blog 127.0.0.1:18083/blog 127.0.0.1:18091/blog; do
  for _ in $(seq 1 150); do [ "$(status "http://$u")" = 200 ] && break; sleep 0.1; done
done

# --- correctness first: benign 200, attacks 403, on both WAFs ---
ua='Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36'
benign=$(sed -n '/^BENIGN_GETS/,/^}/p' "$here/waf/common.lua" | grep -o '"/[^"]*"' | tr -d '"')
attacks=$(sed -n '/^ATTACKS/,/^}/p' "$here/waf/common.lua" | grep -o '"/[^"]*"' | tr -d '"')
post_body=$(cat "$here/waf/order.json")
bad=0
for port in 18080 18091; do
  for p in $benign; do
    s=$(status -A "$ua" -H 'Accept: text/html' -H 'Accept-Language: en-US' "http://127.0.0.1:$port$p")
    [ "$s" = 200 ] || { echo "FAIL port $port benign $p -> $s"; bad=1; }
  done
  for p in $attacks; do
    s=$(status -A "$ua" -H 'Accept: text/html' -H 'Accept-Language: en-US' "http://127.0.0.1:$port$p")
    [ "$s" = 403 ] || { echo "FAIL port $port attack $p -> $s"; bad=1; }
  done
  if [ -n "$post_body" ]; then
    s=$(status -A "$ua" -H 'Content-Type: application/json' --data-binary "$post_body" "http://127.0.0.1:$port/store/checkout")
    [ "$s" = 200 ] || { echo "FAIL port $port json post -> $s"; bad=1; }
  fi
done
[ "$bad" = 0 ] && echo "check: benign requests 200 and attacks 403 on portcullis+CRS and nginx+ModSecurity+CRS"

hz=$(getconf CLK_TCK)
run_wrk() { # name port script PID... — PIDs: the contender's processes, whose CPU time per
  # completed request is reported (cpu_us): what one request costs the contender itself,
  # apart from the load generator and the origin that share the machine with it.
  local out u0 s0 u1 s1 requests cpu_us=0
  read -r u0 s0 < <(lt_cpu_ticks "${@:4}")
  out=$(timeout 120 wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency \
        -s "$here/waf/$3.lua" "http://127.0.0.1:$2" 2>&1 | grep PCX_RESULT || true)
  read -r u1 s1 < <(lt_cpu_ticks "${@:4}")
  requests=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<< "$out")
  if [ -n "$requests" ] && [ "$requests" -gt 0 ]; then
    cpu_us=$(echo "($u1 + $s1 - $u0 - $s0) * 1000000 / $hz / $requests" | bc -l)
  fi
  printf '%s %s %s cpu_us=%.1f\n' "$1" "$3" "${out#PCX_RESULT }" "$cpu_us"
}
# Warm-up, not measured: every contender serves each workload for $WARMUP first, so the
# figures are steady state (regex automata built, caches filled) for all of them.
for w in get post mix; do
  for port in 18080 18083 18091; do
    timeout 60 wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -s "$here/waf/$w.lua" \
      "http://127.0.0.1:$port" >/dev/null 2>&1 || true
  done
done
results="$work/results.txt"; : > "$results"
nginx_pids=$(pgrep -P "$(cat "$work/nginx-modsec.pid")" | tr '\n' ' ')
procs() { # contender -> its pids
  case $1 in
    portcullis-crs) echo "$pc_waf" ;;
    portcullis-nowaf) echo "$pc_plain" ;;
    nginx-modsec-crs) echo "$(cat "$work/nginx-modsec.pid") $nginx_pids" ;;
  esac
}
# The contenders' order rotates with the round: whoever runs right after nginx + ModSecurity
# (8 s of a big process at full CPU) starts on caches it has cooled — measured: +4 µs of CPU
# per proxied GET for portcullis + CRS — so no contender always takes that place.
contenders=(portcullis-crs:18080 portcullis-nowaf:18083 nginx-modsec-crs:18091)
for round in $(seq 1 "$ROUNDS"); do
  for w in get post mix; do
    for k in 0 1 2; do
      c=${contenders[$(( (k + round - 1) % 3 ))]}
      printf '%s ' "$round" >> "$results"
      # shellcheck disable=SC2046 # one word per pid
      run_wrk "${c%%:*}" "${c##*:}" $w $(procs "${c%%:*}") >> "$results"
    done
  done
done

rss_kb() { local t=0; for p in "$@"; do t=$((t + $(awk '/VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0))); done; echo $t; }
echo
echo "portcullis binary: $bin"
echo "machine: $(nproc) cores, $(uname -sr); wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $ROUNDS rounds; all on 127.0.0.1; CRS $(cd "$CRS_DIR" && ls rules/*.conf | wc -l) rule files, PL1, blocking"
printf '%-5s %-18s %-5s %10s %9s %9s %9s %6s %9s %7s %7s\n' round contender load req/s cpu_us/req p50_ms p99_ms errors forbidden attacks other
table="$work/table.txt"; : > "$table"
while read -r round name load rest; do
  rps=0 requests=0 cpu_us=0 p50_us=0 p99_us=0 errors=0 forbidden=0 attacks=0 other=0 sent=0
  eval "$rest"
  printf '%-5s %-18s %-5s %10s %9.1f %9.2f %9.2f %6s %9s %7s %7s\n' "$round" "$name" "$load" "$rps" "$cpu_us" \
    "$(echo "$p50_us/1000" | bc -l)" "$(echo "$p99_us/1000" | bc -l)" "$errors" "$forbidden" "$attacks" "$other"
  echo "$round $name $load $rps $p99_us $cpu_us" >> "$table"
done < "$results"
# median of column $col over the rounds of (contender, workload)
median() { awk -v n="$1" -v l="$2" -v c="$3" '$2==n && $3==l {print $c}' "$table" | sort -n \
  | awk '{v[NR]=$1} END {if (NR==0) print 0; else if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
echo
echo "medians over $ROUNDS rounds (req/s, p99 ms):"
for w in get post mix; do
  a=$(median portcullis-crs $w 4); b=$(median nginx-modsec-crs $w 4); c=$(median portcullis-nowaf $w 4)
  printf '%-4s portcullis+CRS %8.0f (p99 %6.2f)   no WAF %8.0f (p99 %6.2f)   nginx+ModSecurity+CRS %6.0f (p99 %8.2f)\n' "$w" \
    "$a" "$(echo "$(median portcullis-crs $w 5)/1000" | bc -l)" "$c" "$(echo "$(median portcullis-nowaf $w 5)/1000" | bc -l)" \
    "$b" "$(echo "$(median nginx-modsec-crs $w 5)/1000" | bc -l)"
  if [ "$b" != 0 ] && [ "$c" != 0 ]; then
    per_round=$(for r in $(seq 1 "$ROUNDS"); do
      awk -v r="$r" -v l="$w" '$1==r && $3==l {v[$2]=$4} END {if (v["nginx-modsec-crs"]>0 && v["portcullis-nowaf"]>0) printf "%.1fx/%.2f ", v["portcullis-crs"]/v["nginx-modsec-crs"], v["portcullis-crs"]/v["portcullis-nowaf"]}' "$table"
    done)
    printf 'ratio %-4s portcullis+CRS / nginx+ModSecurity+CRS: %6.1fx   portcullis+CRS / portcullis no WAF: %.2f   (per round: %s)\n' \
      "$w" "$(echo "$a/$b" | bc -l)" "$(echo "$a/$c" | bc -l)" "$per_round"
  fi
  ca=$(median portcullis-crs $w 6); cb=$(median nginx-modsec-crs $w 6); cc=$(median portcullis-nowaf $w 6)
  if [ "$(echo "$ca > 0" | bc)" = 1 ]; then
    printf 'cpu   %-4s per request: portcullis+CRS %.1f us, no WAF %.1f us, nginx+ModSecurity+CRS %.1f us (%.1fx portcullis+CRS)\n' \
      "$w" "$ca" "$cc" "$cb" "$(echo "$cb/$ca" | bc -l)"
  fi
done
echo "RSS after load: portcullis+CRS $(rss_kb $pc_waf) kB, portcullis no WAF $(rss_kb $pc_plain) kB, nginx+ModSecurity+CRS (master+workers) $(rss_kb "$(cat "$work/nginx-modsec.pid")" $nginx_pids) kB"
echo "(mix: forbidden should equal attacks, up to the requests in flight when wrk stopped)"
echo "(cpu: the contender's own user+system CPU per completed request — the load generator and"
echo " the origin share the two cores, so req/s ratios are bounded by their cost; CPU per request is not)"
