#!/usr/bin/env bash
# Runs every test of the workspace: installs what is missing, starts PostgreSQL for the server's
# tests, checks formatting and lints, then runs all tests.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
if [ -x scripts/ensure-postgres.sh ]; then
  # Prints the DATABASE_URL the server tests use.
  eval "$(scripts/ensure-postgres.sh | grep '^export DATABASE_URL=' || true)"
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
