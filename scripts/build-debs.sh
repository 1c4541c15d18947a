#!/usr/bin/env bash
# Builds the three Debian packages into target/debian/ (docs/packaging.md):
#   rsu-kiosk   the kiosk (rsu-app), its unit, the printer udev rule, the kiosk session
#   rsu-syncd   the sync daemon, its hardened unit, the `rsu` system user
#   rsu-server  the server and admin CLI, its hardened unit, the `rsu-server` user, /etc/rsu/server.env
# Usage: scripts/build-debs.sh [--profile release|dev] [--kiosk-features "linuxkms"]
#   --profile dev     debug binaries, for the package test (scripts/deb-test.sh); default release
#   --kiosk-features  build the kiosk with these features instead of its default (winit) ones;
#                     a device without a desktop wants "linuxkms"
# Installs cargo-deb (crates.io) when it is missing. Not part of every CI run: scripts/deb-test.sh
# runs it when RSU_DEB_TEST=1.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
kiosk_features=""
while (($#)); do
  case "$1" in
    --profile) profile="$2"; shift 2 ;;
    --kiosk-features) kiosk_features="$2"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "build-debs.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done

if ! cargo deb --version >/dev/null 2>&1; then
  echo "Installing cargo-deb from crates.io (once) …"
  cargo install cargo-deb --locked --version '^3'
fi

target_dir="${CARGO_TARGET_DIR:-target}"
out="$target_dir/debian"
mkdir -p "$out"
kiosk_args=()
if [ -n "$kiosk_features" ]; then
  kiosk_args=(-- --no-default-features --features "$kiosk_features")
fi
for pkg in rsu-sync server-stub rsu-app; do
  echo "== cargo deb -p $pkg ($profile)"
  args=(-p "$pkg" --profile "$profile" --output "$out")
  if [ "$pkg" = rsu-app ]; then
    cargo deb "${args[@]}" "${kiosk_args[@]}"
  else
    cargo deb "${args[@]}"
  fi
done
ls -l "$out"/*.deb
