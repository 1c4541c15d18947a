#!/usr/bin/env bash
# Makes sure a PostgreSQL server accepts the user `postgres` on 127.0.0.1:5432 with trust
# authentication (a development and CI database, never a production one), installing and
# starting it when absent. Idempotent. Prints the DATABASE_URL the server tests use.
#
#   eval "$(scripts/ensure-postgres.sh --export)"   # sets DATABASE_URL in this shell
set -euo pipefail

URL="postgres://postgres@127.0.0.1:5432/postgres"
log() { echo "ensure-postgres: $*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
can_login() { psql "$URL" -Atqc 'SELECT 1' >/dev/null 2>&1; }

if ready && can_login; then
  log "PostgreSQL already accepts postgres on 127.0.0.1:5432"
else
  if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
    log "installing PostgreSQL with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq >&2
    as_root apt-get install -y -qq postgresql postgresql-contrib >&2
  fi
  VERSION="$(ls /etc/postgresql | sort -V | tail -n1)"
  CONF_DIR="/etc/postgresql/$VERSION/main"
  HBA="$CONF_DIR/pg_hba.conf"
  # Trust on loopback for the test user (the first matching line wins, so put ours first).
  if ! as_root grep -q '^# rsu: trust loopback' "$HBA"; then
    log "allowing trust authentication on loopback in $HBA"
    tmp="$(mktemp)"
    {
      echo '# rsu: trust loopback (development and CI only)'
      echo 'host    all    all    127.0.0.1/32    trust'
      echo 'host    all    all    ::1/128         trust'
      echo 'local   all    all                    trust'
      as_root cat "$HBA"
    } >"$tmp"
    as_root cp "$tmp" "$HBA"
    rm -f "$tmp"
  fi
  if ! as_root grep -q "^listen_addresses" "$CONF_DIR/postgresql.conf"; then
    echo "listen_addresses = 'localhost'" | as_root tee -a "$CONF_DIR/postgresql.conf" >/dev/null
  fi
  if ready; then
    log "reloading PostgreSQL $VERSION"
    as_root pg_ctlcluster --skip-systemctl-redirect "$VERSION" main reload >&2 || true
  else
    log "starting PostgreSQL $VERSION"
    as_root pg_ctlcluster --skip-systemctl-redirect "$VERSION" main start >&2
  fi
  for _ in $(seq 1 60); do
    ready && can_login && break
    sleep 0.5
  done
  if ! can_login; then
    log "PostgreSQL is not accepting postgres@127.0.0.1:5432; see /var/log/postgresql/"
    exit 1
  fi
fi

# The schema needs these extensions (shipped with the server package).
psql "$URL" -Atqc "SELECT 1 FROM pg_available_extensions WHERE name = 'btree_gist'" | grep -q 1 || {
  log "the btree_gist extension is missing: install postgresql-contrib"
  exit 1
}

if [ "${1:-}" = "--export" ]; then
  echo "export DATABASE_URL=$URL"
else
  echo "$URL"
fi
