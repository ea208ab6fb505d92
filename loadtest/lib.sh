# Shared parts of the load-test runners (sourced by run.sh, cpu.sh and waf.sh).

# lt_start_origin WORK: the origin every contender proxies to — nginx answering 200 for any
# method and path on 127.0.0.1:9001 (the anchors' origin); its pid file is WORK/nginx-origin.pid.
lt_start_origin() {
  cat > "$1/origin.conf" <<CONF
worker_processes 1;
pid $1/nginx-origin.pid;
error_log $1/origin-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_buffer_size 16k;
  server {
    listen 127.0.0.1:9001 reuseport backlog=4096;
    keepalive_requests 1000000;
    location / { default_type text/plain; return 200 "hello from backend\n"; }
  }
}
CONF
  nginx -c "$1/origin.conf" -p "$1" -g 'daemon on;'
}

# lt_manifests ROOT WORK: the example's IngressClass, Ingress and Services from
# ROOT/config/manifests in WORK/manifests, the EndpointSlices pointed at the origin.
lt_manifests() {
  mkdir -p "$2/manifests"
  cp "$1/config/manifests/ingressclass.yaml" "$1/config/manifests/myapp-ingress.yaml" "$2/manifests/"
  sed -e 's/port: 910[12]/port: 9001/; s/targetPort: 910[12]/targetPort: 9001/' \
    "$1/config/manifests/services.yaml" > "$2/manifests/services.yaml"
}

# lt_certs WORK: one self-signed certificate for myapp.com shared by every contender
# (WORK/tls.crt, WORK/tls.key, WORK/tls.pem for HAProxy).
lt_certs() {
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1/tls.key" -out "$1/tls.crt" \
    -days 2 -subj "/CN=myapp.com" -addext "subjectAltName=DNS:myapp.com" 2>/dev/null
  cat "$1/tls.crt" "$1/tls.key" > "$1/tls.pem"
}

# lt_start_nginx WORK NAME MAIN SERVER: nginx as reverse proxy to the origin with the seed
# routes (Host myapp.com, /blog and /store -> 127.0.0.1:9001), as in
# ../shared/anchors/nginx-proxy.conf: 2 workers, upstream keep-alive, no access log. MAIN goes
# at the top of the configuration (e.g. `load_module`), SERVER into the server block (its
# `listen` lines and anything else); pid file WORK/NAME.pid, error log WORK/NAME-error.log.
lt_start_nginx() {
  cat > "$1/$2.conf" <<CONF
$3
worker_processes 2;
pid $1/$2.pid;
error_log $1/$2-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  upstream be { server 127.0.0.1:9001; keepalive 128; }
  server {
$4
    server_name myapp.com;
    keepalive_requests 1000000;
    location /blog { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; }
    location /store { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; }
    location / { return 404; }
  }
}
CONF
  nginx -c "$1/$2.conf" -p "$1" -g 'daemon on;'
}

# lt_start_nginx_proxy WORK: the plain nginx contender, HTTP 127.0.0.1:18081 and HTTPS
# 127.0.0.1:18444; its pid file is WORK/nginx-proxy.pid. Needs lt_certs.
lt_start_nginx_proxy() {
  lt_start_nginx "$1" nginx-proxy "" "    listen 127.0.0.1:18081 reuseport backlog=4096;
    listen 127.0.0.1:18444 ssl reuseport backlog=4096;
    ssl_certificate $1/tls.crt;
    ssl_certificate_key $1/tls.key;
    ssl_protocols TLSv1.2 TLSv1.3;"
}

# lt_start_portcullis BIN ROOT WORK CONFIG [HTTP_PORT HTTPS_PORT ADMIN_PORT]: portcullis with
# the example Ingress pointed at the origin and the shared certificate as myapp-secret, on
# 127.0.0.1 (default ports: HTTP 18080, HTTPS 18443, admin 19180); runs in the background (its
# pid is $!). Logs go to WORK/portcullis-HTTP_PORT.log.
lt_start_portcullis() {
  local hp=${5:-18080} sp=${6:-18443} ap=${7:-19180}
  [ -d "$3/manifests" ] || lt_manifests "$2" "$3"
  local crt64 key64
  crt64=$(base64 -w0 < "$3/tls.crt"); key64=$(base64 -w0 < "$3/tls.key")
  cat > "$3/manifests/myapp-secret.yaml" <<YAML
apiVersion: v1
kind: Secret
metadata: { name: myapp-secret, namespace: default }
type: kubernetes.io/tls
data: { tls.crt: $crt64, tls.key: $key64 }
YAML
  "$1" run --config "$4" --manifests "$3/manifests" \
    --http-addr "127.0.0.1:$hp" --https-addr "127.0.0.1:$sp" --admin-addr "127.0.0.1:$ap" \
    > "$3/portcullis-$hp.log" 2>&1 &
}

# lt_wait_ready URL...: waits (bounded, 10 s each) until every URL answers 200 for myapp.com.
lt_wait_ready() {
  local u code
  for u in "$@"; do
    for _ in $(seq 1 100); do
      code=$(curl -sk -o /dev/null -w '%{http_code}' -H 'Host: myapp.com' "$u" || true)
      [ "$code" = 200 ] && continue 2
      sleep 0.1
    done
    echo "not ready: $u" >&2; return 1
  done
}

# lt_cpu_ticks PID...: user and system CPU time of the processes (all threads), in clock
# ticks: "USER SYSTEM".
lt_cpu_ticks() {
  local u=0 s=0 p pu ps
  for p in "$@"; do
    # Fields after the ")" of the command name: utime and stime are the 12th and 13th.
    read -r pu ps < <(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12, $13}')
    u=$((u + pu)); s=$((s + ps))
  done
  echo "$u $s"
}

# lt_portcullis_bin ROOT: prints the portcullis binary to load-test: $PORTCULLIS_BIN, else with
# PGO=1 the profile-guided build of scripts/build-pgo.sh (the build the Dockerfile ships),
# else a release build into $CARGO_TARGET_DIR (default ROOT/target); built now (at low
# priority).
lt_portcullis_bin() {
  if [ -n "${PORTCULLIS_BIN:-}" ]; then echo "$PORTCULLIS_BIN"; return; fi
  if [ "${PGO:-0}" = 1 ]; then
    echo "building portcullis (profile-guided: scripts/build-pgo.sh)" >&2
    (cd "$1" && nice -n 10 scripts/build-pgo.sh) >&2
    local out=${PGO_OUT:-target/pgo}  # as build-pgo.sh: relative to the repository
    case "$out" in /*) ;; *) out="$1/$out" ;; esac
    echo "$out/portcullis"
    return
  fi
  echo "building portcullis (release)" >&2
  (cd "$1" && nice -n 10 cargo build --release -q -p portcullis) >&2
  echo "${CARGO_TARGET_DIR:-$1/target}/release/portcullis"
}

# lt_stop WORK PID...: kills the given processes and every daemon whose pid file is in WORK.
lt_stop() {
  local work=$1 p f
  shift
  for p in "$@"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  for f in "$work"/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
