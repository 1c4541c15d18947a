#!/usr/bin/env bash
# Two PostgreSQL clusters on this machine: a primary and a streaming standby (issue 16,
# docs/scaling.md "Failover"). For the failover test and for trying it by hand; never production.
#
#   scripts/pg-ha.sh start DIR [--async]   # primary on 127.0.0.1:55432, standby on :55433; prints the URL
#   scripts/pg-ha.sh kill-primary DIR      # SIGKILL the primary's postmaster (a crashed machine)
#   scripts/pg-ha.sh promote DIR           # the standby becomes the primary (and stops waiting for a standby)
#   scripts/pg-ha.sh stop DIR              # stop both and remove DIR
#
# Synchronous by default: synchronous_standby_names = 'standby1' and synchronous_commit = on, so a
# commit returns only once the standby has the WAL. --async leaves synchronous_standby_names empty
# (commits return before the standby has them: the test shows what can be lost).
# The clusters run as the `postgres` user; DIR is created and handed to it.
set -euo pipefail

PRIMARY_PORT="${PG_HA_PRIMARY_PORT:-55432}"
STANDBY_PORT="${PG_HA_STANDBY_PORT:-55433}"
log() { echo "pg-ha: $*" >&2; }
die() { log "$*"; exit 1; }

bin_dir() {
  local v
  v="$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n1)"
  [ -n "$v" ] || die "PostgreSQL is not installed: run scripts/install-deps.sh (or scripts/ensure-postgres.sh)"
  echo "/usr/lib/postgresql/$v/bin"
}

as_pg() {
  if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi
}

url() {
  echo "postgres://postgres@127.0.0.1:${PRIMARY_PORT},127.0.0.1:${STANDBY_PORT}/postgres?target_session_attrs=read-write"
}

start() {
  local dir="$1" mode="${2:-sync}" bin
  bin="$(bin_dir)"
  [ -e "$dir/primary" ] && die "$dir already holds clusters: stop them first (scripts/pg-ha.sh stop $dir)"
  mkdir -p "$dir"
  chown postgres "$dir"
  chmod 700 "$dir"
  log "initdb primary in $dir/primary"
  as_pg "$bin/initdb" -D "$dir/primary" -U postgres --auth=trust >/dev/null
  local sync_names="'standby1'"
  [ "$mode" = async ] && sync_names="''"
  cat <<CONF | as_pg tee -a "$dir/primary/postgresql.conf" >/dev/null
port = $PRIMARY_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
wal_level = replica
max_wal_senders = 5
wal_keep_size = '64MB'
synchronous_standby_names = $sync_names
synchronous_commit = on
max_connections = 100
CONF
  cat <<HBA | as_pg tee "$dir/primary/pg_hba.conf" >/dev/null
local all all trust
host all all 127.0.0.1/32 trust
host replication all 127.0.0.1/32 trust
local replication all trust
HBA
  as_pg "$bin/pg_ctl" -w -D "$dir/primary" -l "$dir/primary.log" start >/dev/null
  log "base backup for the standby"
  as_pg "$bin/pg_basebackup" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -D "$dir/standby" -R -X stream >/dev/null
  cat <<CONF | as_pg tee -a "$dir/standby/postgresql.conf" >/dev/null
port = $STANDBY_PORT
CONF
  echo "primary_conninfo = 'host=127.0.0.1 port=$PRIMARY_PORT user=postgres application_name=standby1'" \
    | as_pg tee -a "$dir/standby/postgresql.auto.conf" >/dev/null
  as_pg "$bin/pg_ctl" -w -D "$dir/standby" -l "$dir/standby.log" start >/dev/null
  # Wait until the primary sees its standby streaming (and, when synchronous, as sync).
  local want=streaming
  for _ in $(seq 1 100); do
    if psql -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -Atqc \
        "SELECT state FROM pg_stat_replication WHERE application_name = 'standby1'" 2>/dev/null | grep -q "$want"; then
      log "primary :$PRIMARY_PORT and standby :$STANDBY_PORT streaming ($mode)"
      url
      return 0
    fi
    sleep 0.2
  done
  die "the standby did not start streaming; see $dir/standby.log"
}

kill_primary() {
  local dir="$1" pid
  pid="$(head -n1 "$dir/primary/postmaster.pid" 2>/dev/null)" || die "no primary running in $dir"
  log "SIGKILL primary postmaster $pid"
  kill -9 "$pid"
  # Its backends die with it (they notice the postmaster is gone); make sure none keeps the port.
  pkill -9 -f -- "-D $dir/primary" 2>/dev/null || true
}

promote() {
  local dir="$1" bin
  bin="$(bin_dir)"
  as_pg "$bin/pg_ctl" -w -D "$dir/standby" promote >/dev/null
  # Alone now: a new primary that still waited for 'standby1' would never finish a commit.
  psql -h 127.0.0.1 -p "$STANDBY_PORT" -U postgres -Atqc \
    "ALTER SYSTEM SET synchronous_standby_names = ''" >/dev/null
  psql -h 127.0.0.1 -p "$STANDBY_PORT" -U postgres -Atqc "SELECT pg_reload_conf()" >/dev/null
  log "standby :$STANDBY_PORT promoted"
}

stop() {
  local dir="$1" bin
  bin="$(bin_dir)"
  for c in standby primary; do
    if [ -f "$dir/$c/postmaster.pid" ]; then
      as_pg "$bin/pg_ctl" -D "$dir/$c" -m immediate stop >/dev/null 2>&1 || true
    fi
  done
  rm -rf "$dir"
}

cmd="${1:-}"
dir="${2:-}"
case "$cmd" in
  start) [ -n "$dir" ] || die "usage: $0 start DIR [--async]"
         mode=sync; [ "${3:-}" = --async ] && mode=async
         start "$dir" "$mode" ;;
  kill-primary) [ -n "$dir" ] || die "usage: $0 kill-primary DIR"; kill_primary "$dir" ;;
  promote) [ -n "$dir" ] || die "usage: $0 promote DIR"; promote "$dir" ;;
  stop) [ -n "$dir" ] || die "usage: $0 stop DIR"; stop "$dir" ;;
  url) url ;;
  *) die "usage: $0 start|kill-primary|promote|stop DIR (see the comment at the top)" ;;
esac
