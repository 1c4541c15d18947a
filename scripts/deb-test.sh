#!/usr/bin/env bash
# The package test (issue 16): builds the three .deb packages (scripts/build-debs.sh, debug
# binaries unless DEB_PROFILE=release), installs them into a scratch root with dpkg --root, and
# checks what a real install must give:
#   - the files: binaries, units, udev rule, sysusers entries, the server's conffile;
#   - the system users `rsu` and `rsu-server` (made by the postinst with systemd-sysusers --root);
#   - the units enabled (multi-user.target.wants links) and valid (systemd-analyze verify);
#   - the hardening: systemd-analyze security exposure ≤ 2.0 for rsu-syncd and rsu-server;
#   - removal: dpkg -r takes the files and units away and keeps the conffile until purge.
# Runs from scripts/test.sh only when RSU_DEB_TEST=1 (it builds three packages: minutes).
set -euo pipefail
cd "$(dirname "$0")/.."

profile="${DEB_PROFILE:-dev}"
target_dir="${CARGO_TARGET_DIR:-target}"
bash scripts/build-debs.sh --profile "$profile"

root="$(mktemp -d /tmp/rsu-deb-root.XXXXXX)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/etc" "$root/usr/lib/sysusers.d"
touch "$root/var/lib/dpkg/status" "$root/var/lib/dpkg/available"
fail=0
check() { # check DESCRIPTION COMMAND…
  local what="$1"; shift
  if "$@" >/dev/null 2>&1; then echo "ok   $what"; else echo "FAIL $what"; fail=1; fi
}

debs=("$target_dir"/debian/rsu-syncd_*.deb "$target_dir"/debian/rsu-server_*.deb "$target_dir"/debian/rsu-kiosk_*.deb)
echo "== dpkg --root $root -i ${debs[*]##*/}"
# The scratch root has no libc or systemd packages: their dependencies are not checked here, and
# the maintainer scripts run outside a chroot with DPKG_ROOT set (they honour it).
dpkg --root="$root" --force-script-chrootless --force-depends --force-not-root \
  --log=/dev/null -i "${debs[@]}"

for f in usr/bin/rsu-syncd usr/bin/server-stub usr/bin/rsu-app usr/bin/rsu-kiosk-session; do
  check "$f is installed and executable" test -x "$root/$f"
done
for f in lib/systemd/system/rsu-syncd.service lib/systemd/system/rsu-server.service \
         lib/systemd/system/rsu-kiosk.service lib/udev/rules.d/60-rsu-printers.rules \
         usr/lib/sysusers.d/rsu.conf usr/lib/sysusers.d/rsu-server.conf etc/rsu/server.env \
         usr/share/doc/rsu-server/server.md usr/share/doc/rsu-syncd/sync.md; do
  check "$f is installed" test -s "$root/$f"
done
check "etc/rsu/server.env is a conffile of rsu-server" \
  grep -q "/etc/rsu/server.env" "$root/var/lib/dpkg/info/rsu-server.conffiles"
check "the system user rsu exists" grep -q '^rsu:' "$root/etc/passwd"
check "the system user rsu-server exists" grep -q '^rsu-server:' "$root/etc/passwd"
check "rsu is a system user (uid < 1000) with home /var/lib/rsu" \
  awk -F: '$1=="rsu" && $3<1000 && $6=="/var/lib/rsu" {found=1} END {exit !found}' "$root/etc/passwd"
check "rsu is in the lp and dialout groups (printers)" \
  awk -F: '($1=="lp" || $1=="dialout") && $4 ~ /(^|,)rsu(,|$)/ {n++} END {exit n!=2}' "$root/etc/group"
for u in rsu-syncd rsu-server rsu-kiosk; do
  check "$u.service is enabled" test -L "$root/etc/systemd/system/multi-user.target.wants/$u.service"
done
for u in rsu-syncd rsu-server rsu-kiosk; do
  out="$(systemd-analyze verify --root="$root" "$u.service" 2>&1 || true)"
  # verify in a scratch root cannot see the host's targets (network-online.target and friends);
  # everything else it prints is a real finding.
  real="$(printf '%s\n' "$out" | grep -v -e 'not found' -e 'Failed to .*target' -e '^$' || true)"
  if [ -z "$real" ]; then echo "ok   systemd-analyze verify $u.service"; else
    echo "FAIL systemd-analyze verify $u.service:"; printf '%s\n' "$real"; fail=1; fi
done
for u in rsu-syncd rsu-server; do
  line="$(systemd-analyze security --offline=yes --root="$root" "$u.service" 2>&1 | grep 'Overall exposure level' || true)"
  score="$(printf '%s' "$line" | sed -n 's/.*: \([0-9.]*\) .*/\1/p')"
  echo "     $u.service exposure: ${score:-unknown}"
  check "$u.service exposure ${score:-unknown} ≤ 2.0" awk -v s="${score:-99}" 'BEGIN {exit !(s <= 2.0)}'
done
check "server-stub --help runs from the package" "$root/usr/bin/server-stub" --help
check "rsu-syncd --help runs from the package" "$root/usr/bin/rsu-syncd" --help

echo "== dpkg --root $root -r rsu-kiosk rsu-server rsu-syncd"
dpkg --root="$root" --force-script-chrootless --force-depends --force-not-root --log=/dev/null \
  -r rsu-kiosk rsu-server rsu-syncd
check "removal takes the binaries away" test ! -e "$root/usr/bin/rsu-syncd"
check "removal disables the units" test ! -e "$root/etc/systemd/system/multi-user.target.wants/rsu-syncd.service"
check "removal keeps the server's settings until purge" test -s "$root/etc/rsu/server.env"

if ((fail)); then echo "deb-test: FAILED"; exit 1; fi
echo "deb-test: all checks passed"
