#!/usr/bin/env bash
# Runs every test of portcullis on a fresh machine: installs what the tests need, then
# formatting, lints, the whole workspace's tests (unit, table-driven, loopback integration
# tests with the real binary, real TLS and real backends, the in-process CRS conformance run)
# and the doc build. This is the README's test command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# Debian packages some tests use (curl/openssl for the README smoke test). Installed only when
# missing so a developer machine is left alone.
missing=()
for tool in curl openssl; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  step "installing ${missing[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

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

echo
echo "all tests passed"
