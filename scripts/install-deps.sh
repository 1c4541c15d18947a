#!/usr/bin/env bash
# Installs the system packages the workspace needs to build and test, if any are missing.
# Idempotent and quiet when everything is present. Needs root (or sudo) on Debian/Ubuntu.
set -euo pipefail

packages=(
  pkg-config          # finds the C libraries below
  libudev-dev         # serial port enumeration (serialport), Slint's linuxkms backend
  libfontconfig1-dev  # Slint: system fonts
  libxkbcommon-dev    # Slint: keyboard handling (winit and linuxkms)
  libinput-dev        # Slint: touch input on the kiosk (linuxkms)
  libgbm-dev          # Slint: KMS/DRM output on the kiosk (linuxkms)
  fonts-dejavu-core   # a font for the kiosk UI and screenshots
  haproxy             # the load balancer in front of two server instances (server-stub/tests/balancer.rs)
  pgbouncer           # the connection pooler the server is tested through (server-stub/tests/pgbouncer.rs)
  chromium            # headless browser of the dashboard's browser tests (server-stub/tests/dashboard_browser.rs)
  chromium-driver     # chromedriver: the WebDriver server those tests drive it through
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "Installing system packages: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
