#!/usr/bin/env bash
# Runs the kiosk in demo mode on its own SQLite database and a simulated printer: no server,
# no printer needed. Receipts land as .txt and .png files in the data directory.
# Without a display it takes a tour instead (screenshots and receipts in a folder it names).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  # No screen to open a window on (over SSH, in a container): show the product anyway. The tour
  # drives a new demo device through the kiosk's own screens on the software renderer, which
  # needs no display, and keeps a screenshot of each step and every receipt.
  OUT="${RSU_TOUR_DIR:-$PWD/target/demo-tour-$(date -u +%Y%m%dT%H%M%SZ)}"
  echo "No display (DISPLAY and WAYLAND_DISPLAY are unset): taking a tour of the kiosk instead of opening it."
  cargo run --release --locked -p rsu-app -- tour --out "$OUT"
  echo
  echo "Screenshots of each screen and every receipt (.txt, .png, .bin) are in $OUT"
  echo "To use the kiosk itself here, run it on a virtual display: xvfb-run -a scripts/demo.sh"
  exit 0
fi
exec cargo run --release --locked -p rsu-app -- --demo "$@"
