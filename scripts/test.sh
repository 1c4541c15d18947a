#!/usr/bin/env bash
# Runs every test of the workspace: installs what is missing, starts PostgreSQL for the server's
# tests, checks formatting and lints, then runs all tests and the README's walkthrough.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
# Installs and starts PostgreSQL when absent; sets DATABASE_URL for the server and sync tests.
eval "$(scripts/ensure-postgres.sh --export)"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
# The README's end-to-end walkthrough, on the binaries cargo test just built (building them
# again with only their own features would recompile most dependencies) and a throwaway database.
scripts/walkthrough.sh --no-build
# PostgreSQL failover (primary SIGKILLed under a pushing device; needs root: CI runs as root).
if [ "$(id -u)" -eq 0 ]; then
  scripts/failover-test.sh
else
  echo "test.sh: skipping scripts/failover-test.sh (needs root)" >&2
fi
# The HTTP API's contract test: schemathesis against a live server and the server's own OpenAPI
# document (no 5xx, every answer as documented). SKIP_CONTRACT_TEST=1 skips it (it installs
# schemathesis from PyPI into a cached virtualenv the first time).
if [ "${SKIP_CONTRACT_TEST:-0}" != 1 ]; then
  scripts/contract-test.sh --no-build
fi
# The Debian packages: built, installed into a scratch root, checked (docs/packaging.md). They take
# minutes to build, so only with RSU_DEB_TEST=1 (needs dpkg and systemd-analyze; installs cargo-deb).
if [ "${RSU_DEB_TEST:-0}" = 1 ]; then
  scripts/deb-test.sh
fi
