#!/usr/bin/env bash
# Checks the README's promise on loopback: the example configuration with the demo backends
# answers `curl -H 'Host: myapp.com' http://127.0.0.1:8080/blog` from the blog backend and
# `curl -k --resolve myapp.com:8443:127.0.0.1 https://myapp.com:8443/store` from the store
# backend (with the Secret's certificate), the WAF (built-in rules) answers an SQL injection
# with 403, /readyz turns 200, and SIGTERM exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q -p portcullis
bin=target/debug/portcullis
log=$(mktemp /tmp/portcullis-smoke.XXXXXX.log)

"$bin" check --config config/portcullis.yaml --manifests config/manifests

"$bin" run --config config/portcullis.yaml --manifests config/manifests --demo-backends >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT

fail() { echo "smoke: $*" >&2; echo "--- portcullis log ---" >&2; tail -50 "$log" >&2; exit 1; }

for _ in $(seq 1 100); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9180/readyz || true)" = 200 ] && break
  sleep 0.1
done
[ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9180/readyz)" = 200 ] || fail "/readyz never became 200"

blog=$(curl -s -H 'Host: myapp.com' http://127.0.0.1:8080/blog)
[[ "$blog" == *"hello from blogservice"* ]] || fail "/blog answered: $blog"

store=$(curl -s -k --resolve myapp.com:8443:127.0.0.1 https://myapp.com:8443/store)
[[ "$store" == *"hello from storeservice"* ]] || fail "/store over TLS answered: $store"

subject=$(curl -sk -v --resolve myapp.com:8443:127.0.0.1 https://myapp.com:8443/store 2>&1 | grep -i 'subject:' || true)
[[ "$subject" == *"myapp.com"* ]] || fail "TLS certificate is not myapp-secret's: $subject"

attack=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: myapp.com' "http://127.0.0.1:8080/blog?id=1%27%20UNION%20SELECT%20password%20FROM%20users--")
[ "$attack" = 403 ] || fail "SQL injection through the WAF answered $attack, not 403"

curl -s http://127.0.0.1:9180/metrics | grep -q 'portcullis_' || fail "/metrics has no portcullis_ series"

kill -TERM $pid
for _ in $(seq 1 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
if kill -0 $pid 2>/dev/null; then fail "still running 10 s after SIGTERM"; fi
wait $pid || fail "exit status $? after SIGTERM"
trap - EXIT
echo "smoke: README example OK"
