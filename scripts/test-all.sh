#!/usr/bin/env bash
# Runs every test of portcullis on a fresh machine: installs what the tests need, then
# formatting, lints, the whole workspace's tests (unit, table-driven, loopback integration
# tests with the real binary, real TLS and real backends, the in-process CRS conformance run)
# the doc build, the README smoke test, the profile-guided build pipeline, go-ftw over HTTP
# and the Kubernetes end-to-end suite against a real kube-apiserver built from the Go module
# proxy. This is the README's test command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s (disk free: %s)\n' "$*" "$(df -h . | awk 'NR==2 {print $4}')"; }

# No incremental build caches: they only pay off on repeated local edits and would double the
# size of target/ on a CI machine.
export CARGO_INCREMENTAL=0

# Debian packages some tests use (curl/openssl for the README smoke test). Installed only when
# missing so a developer machine is left alone.
missing=()
for tool in curl openssl unshare ip; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  step "installing ${missing[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  pkgs=()
  for tool in "${missing[@]}"; do
    case $tool in unshare) pkgs+=(util-linux) ;; ip) pkgs+=(iproute2) ;; *) pkgs+=("$tool") ;; esac
  done
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
fi

# The Kubernetes test environment (kube-apiserver and etcd, built with Go on the first run)
# first: its Go build cache is deleted right after, before the cargo builds take their space.
step "Kubernetes test environment (first run builds kube-apiserver and etcd with Go)"
scripts/e2e-kube.sh --prepare

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo test (workspace)"
cargo test --workspace --no-fail-fast

step "cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps -q

step "smoke test of the README run command"
scripts/smoke-readme.sh

step "profile-guided build pipeline (scripts/build-pgo.sh with the faster pgo-check profile)"
PGO_PROFILE=pgo-check PGO_OUT=target/pgo-check PGO_ROUNDS=3 PGO_TLS_ROUNDS=3 scripts/build-pgo.sh

step "OWASP CRS regression suite over HTTP against the running proxy"
scripts/ftw-http.sh

step "Kubernetes end-to-end suite against a real kube-apiserver (first run builds it with Go)"
scripts/e2e-kube.sh

echo
echo "all tests passed"
