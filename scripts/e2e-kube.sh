#!/usr/bin/env bash
# End-to-end suite of the Kubernetes control plane against a REAL kube-apiserver.
#
#   scripts/e2e-kube.sh            # build what is missing, start etcd + kube-apiserver, run the
#                                  # tests in crates/kube-provider/tests/e2e_*.rs, stop everything
#   scripts/e2e-kube.sh e2e_waf e2e_status   # only the test files whose names contain one of
#                                            # these words (the same environment otherwise)
#   scripts/e2e-kube.sh --prepare  # only step 1 (scripts/test-all.sh runs it first, before the
#                                  # cargo builds fill the disk: the Go build cache is deleted
#                                  # afterwards, so the two never take disk space together)
#
# 1. Builds etcd and kube-apiserver from the Go module proxy (testenv/go.mod pins the release)
#    into $CARGO_TARGET_DIR/testenv-bin/ (default target/testenv-bin/); cached, keyed by
#    testenv/go.{mod,sum}: only the first run pays (10-20+ min on 2 cores). kubectl is used
#    from PATH, else built the same way.
# 2. Builds portcullis and the e2e test binaries (cargo, with network).
# 3. Re-executes itself in a private network namespace (`unshare -n`, root): loopback plus
#    192.0.2.0/24 (TEST-NET-1) on `lo`. The API server rejects loopback addresses in
#    EndpointSlices, so the echo backends listen on 192.0.2.x, which exists only inside this
#    namespace; nothing leaves it, and its ports cannot clash with anything on the host.
# 4. Inside: generated CA and certificates, etcd and kube-apiserver on 127.0.0.1 (advertised
#    as 192.0.2.1: the API server refuses to advertise a loopback address) with
#    client-certificate and ServiceAccount-token authentication and --authorization-mode=RBAC;
#    deploy/ is checked with a server-side dry-run and applied; the controller's kubeconfig
#    holds a token of deploy/'s ServiceAccount (TokenRequest), so portcullis runs with exactly
#    the ClusterRole/Role of deploy/.
# 5. Runs the test binaries of crates/kube-provider/tests/e2e_*.rs (built in step 2, so no
#    cargo runs inside the namespace) with the PORTCULLIS_E2E_* variables.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
bin_dir=$CARGO_TARGET_DIR/testenv-bin

log() { printf '==> e2e-kube: %s\n' "$*" >&2; }

# ---------------------------------------------------------------- outside the namespace
if [ "${1:-}" != "--inside" ]; then
  [ "$(id -u)" = 0 ] || { echo "e2e-kube: needs root (unshare -n)" >&2; exit 1; }
  for tool in openssl curl unshare ip go; do
    command -v "$tool" >/dev/null || { echo "e2e-kube: $tool is required" >&2; exit 1; }
  done
  mkdir -p "$bin_dir"
  # The Go build cache for these builds is private and removed afterwards: the binaries are
  # cached in $bin_dir, and the cache (several GiB for kube-apiserver) would only fill the disk.
  export GOCACHE=$CARGO_TARGET_DIR/go-build-cache
  trap 'rm -rf "$GOCACHE"' EXIT
  stamp=$(cat testenv/go.mod testenv/go.sum | sha256sum | cut -c1-16)
  if [ "$(cat "$bin_dir/.stamp" 2>/dev/null)" != "$stamp" ] \
     || [ ! -x "$bin_dir/etcd" ] || [ ! -x "$bin_dir/kube-apiserver" ]; then
    log "building etcd and kube-apiserver from the Go module proxy (cached afterwards)"
    start=$(date +%s)
    (cd testenv \
      && GOFLAGS=-buildvcs=false nice -n 15 go build -p "$(nproc)" -trimpath -ldflags=-s \
           -o "$bin_dir/etcd" go.etcd.io/etcd/server/v3 \
      && GOFLAGS=-buildvcs=false nice -n 15 go build -p "$(nproc)" -trimpath -ldflags=-s \
           -o "$bin_dir/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver)
    echo "$(( $(date +%s) - start ))" > "$bin_dir/build-seconds"
    echo "$stamp" > "$bin_dir/.stamp"
    log "test environment built in $(cat "$bin_dir/build-seconds") s"
  else
    log "test environment cached (built once in $(cat "$bin_dir/build-seconds" 2>/dev/null || echo '?') s)"
  fi
  if ! command -v kubectl >/dev/null && [ ! -x "$bin_dir/kubectl" ]; then
    log "building kubectl"
    (cd testenv && GOFLAGS=-buildvcs=false nice -n 15 go build -p "$(nproc)" -trimpath -ldflags=-s \
       -o "$bin_dir/kubectl" k8s.io/kubernetes/cmd/kubectl)
  fi
  if [ "${1:-}" = "--prepare" ]; then
    rm -rf "$GOCACHE"; trap - EXIT
    exit 0
  fi
  if [ -z "${PORTCULLIS_E2E_SKIP_BUILD:-}" ]; then # (set it to rerun the last build's tests)
    log "building portcullis and the e2e tests"
    cargo build -q -p portcullis
    cargo test -q -p portcullis-kube-provider --test 'e2e_*' --no-run --message-format=json \
      | grep -o '"executable":"[^"]*"' | cut -d'"' -f4 > "$bin_dir/e2e-tests.list"
  fi
  [ -s "$bin_dir/e2e-tests.list" ] || { echo "e2e-kube: no e2e test binaries" >&2; exit 1; }
  rm -rf "$GOCACHE"; trap - EXIT
  exec unshare -n -- "$0" --inside "$@"
fi
shift # --inside; what remains are the test-file filters

# ---------------------------------------------------------------- inside the namespace
export PATH=$bin_dir:$PATH
ip link set lo up
ip addr add 192.0.2.1/24 dev lo

work=$(mktemp -d /tmp/portcullis-e2e.XXXXXX)
pids=()
cleanup() {
  local rc=$?
  # SIGKILL: a SIGTERMed API server whose etcd is going away can hang in its shutdown.
  [ -f "$work/apiserver.pid" ] && kill -KILL "$(cat "$work/apiserver.pid")" 2>/dev/null || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ $rc -ne 0 ]; then
    echo "--- kube-apiserver log (tail) ---" >&2; tail -30 "$work/apiserver.log" >&2 || true
    echo "--- etcd log (tail) ---" >&2; tail -10 "$work/etcd.log" >&2 || true
    echo "(logs kept in $work)" >&2
  else
    rm -rf "$work"
  fi
  exit $rc
}
trap cleanup EXIT

etcd_port=2379
api_port=6443

log "certificates"
cd "$work"
gen() { openssl "$@" >/dev/null 2>&1; }
gen req -x509 -newkey rsa:2048 -nodes -days 2 -keyout ca.key -out ca.crt -subj "/CN=portcullis-e2e-ca"
gen req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj "/CN=kube-apiserver"
# X.509 v3 everywhere (an extension file makes openssl write v3; rustls rejects v1).
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n' > san.ext
printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n' > client.ext
gen x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext -out apiserver.crt
gen req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr -subj "/O=system:masters/CN=e2e-admin"
gen x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile client.ext -out admin.crt
gen genrsa -out sa.key 2048
gen rsa -in sa.key -pubout -out sa.pub

log "etcd on 127.0.0.1:$etcd_port"
etcd --name e2e --data-dir "$work/etcd-data" \
  --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster e2e=http://127.0.0.1:2380 --unsafe-no-fsync --log-level warn \
  >"$work/etcd.log" 2>&1 &
pids+=($!)

# The API server is started by a script so the tests can stop and restart it (resilience).
cat > "$work/start-apiserver.sh" <<EOF
#!/usr/bin/env bash
exec >>"$work/apiserver.log" 2>&1
"$bin_dir/kube-apiserver" \\
  --etcd-servers=http://127.0.0.1:$etcd_port \\
  --bind-address=127.0.0.1 --secure-port=$api_port \\
  --advertise-address=192.0.2.1 --endpoint-reconciler-type=none \\
  --tls-cert-file=$work/apiserver.crt --tls-private-key-file=$work/apiserver.key \\
  --client-ca-file=$work/ca.crt \\
  --service-account-issuer=https://127.0.0.1:$api_port \\
  --service-account-key-file=$work/sa.pub --service-account-signing-key-file=$work/sa.key \\
  --authorization-mode=RBAC --anonymous-auth=false \\
  --service-cluster-ip-range=10.96.0.0/24 \\
  --enable-priority-and-fairness=false --profiling=false \\
  --cert-dir=$work/apiserver-certs --v=1 &
echo \$! > "$work/apiserver.pid"
EOF
chmod +x "$work/start-apiserver.sh"

for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$etcd_port/health" >/dev/null && break; sleep 0.2; done
log "kube-apiserver on 127.0.0.1:$api_port"
"$work/start-apiserver.sh"

cat > admin.kubeconfig <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster: { server: "https://127.0.0.1:$api_port", certificate-authority: "$work/ca.crt" }
users:
- name: admin
  user: { client-certificate: "$work/admin.crt", client-key: "$work/admin.key" }
contexts:
- name: e2e
  context: { cluster: e2e, user: admin, namespace: default }
current-context: e2e
EOF
export KUBECONFIG=$work/admin.kubeconfig
ready=
for _ in $(seq 1 300); do
  if kubectl get --raw /readyz >/dev/null 2>&1; then ready=1; break; fi
  kill -0 "$(cat "$work/apiserver.pid")" 2>/dev/null || break
  sleep 0.5
done
[ -n "$ready" ] || { echo "e2e-kube: kube-apiserver never became ready" >&2; exit 1; }
# The bootstrap controllers create the default namespace shortly after /readyz.
for _ in $(seq 1 60); do kubectl get namespace default >/dev/null 2>&1 && break; sleep 0.5; done

log "deploy/: server-side dry-run, then apply"
kubectl apply --server-side -f "$root/deploy/00-namespace.yaml" >/dev/null
kubectl apply --server-side --dry-run=server -f "$root/deploy/"
kubectl apply --server-side -f "$root/deploy/" >/dev/null

log "a token of deploy/'s ServiceAccount for the controller"
token=$(kubectl -n portcullis create token portcullis --duration=2h)
cat > controller.kubeconfig <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster: { server: "https://127.0.0.1:$api_port", certificate-authority: "$work/ca.crt" }
users:
- name: portcullis
  user: { token: "$token" }
contexts:
- name: e2e
  context: { cluster: e2e, user: portcullis, namespace: portcullis }
current-context: e2e
EOF

export PORTCULLIS_E2E_KUBECONFIG=$work/admin.kubeconfig
export PORTCULLIS_E2E_CONTROLLER_KUBECONFIG=$work/controller.kubeconfig
export PORTCULLIS_E2E_APISERVER_START=$work/start-apiserver.sh
export PORTCULLIS_E2E_APISERVER_PIDFILE=$work/apiserver.pid
export PORTCULLIS_E2E_ETCD=http://127.0.0.1:$etcd_port
export PORTCULLIS_E2E_WORKDIR=$work
export PORTCULLIS_E2E_BACKEND_NET=192.0.2
export PORTCULLIS_BIN=${PORTCULLIS_BIN:-$CARGO_TARGET_DIR/debug/portcullis} # (override: another build)
cd "$root"
failed=0
ran=0
while read -r test_bin; do
  if [ $# -gt 0 ]; then
    wanted=
    for f in "$@"; do case "$(basename "$test_bin")" in *"$f"*) wanted=1 ;; esac; done
    [ -n "$wanted" ] || continue
  fi
  log "running $(basename "$test_bin")"
  ran=$((ran + 1))
  "$test_bin" --test-threads=1 --nocapture || failed=1
done < "$bin_dir/e2e-tests.list"
[ $ran -gt 0 ] || { echo "e2e-kube: no test file matches: $*" >&2; exit 1; }
exit $failed
