#!/usr/bin/env bash
# The PostgreSQL failover tests (issue 16; docs/scaling.md "Failover"): two clusters made by
# scripts/pg-ha.sh, the primary SIGKILLed under a pushing device. They need root (the clusters run
# as `postgres`), so `cargo test` skips them (#[ignore]) and this script runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ] && [ "$(id -un)" != postgres ]; then
  echo "failover-test: needs root (to run PostgreSQL as the postgres user)" >&2
  exit 1
fi
cargo test --workspace --locked --test failover -- --ignored --nocapture --test-threads 1
# The backup and point-in-time recovery drill (docs/scaling.md).
scripts/pg-pitr-drill.sh
