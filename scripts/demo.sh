#!/usr/bin/env bash
# Runs the kiosk in demo mode on its own SQLite database and a simulated printer: no server,
# no printer needed. Receipts land as .txt and .png files in the data directory.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
exec cargo run --release --locked -p rsu-app -- --demo "$@"
