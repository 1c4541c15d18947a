#!/usr/bin/env bash
# Backup and point-in-time recovery drill (issue 16; docs/scaling.md "Backup and point-in-time
# recovery"): the procedure the runbook describes, run end to end on throwaway clusters.
#
#   scripts/pg-pitr-drill.sh [DIR]
#
# 1. a cluster with WAL archiving (archive_command copies each segment to DIR/wal);
# 2. pg_basebackup of it (DIR/base, with its manifest), checked with pg_verifybackup;
# 3. sales before the target time, then the target time is taken, then sales after it
#    (and a DROP TABLE, the mistake to recover from);
# 4. the base backup restored into DIR/restore with restore_command from the archive and
#    recovery_target_time = the target; it is promoted at the target;
# 5. checks: every row written before the target is there, none written after, the dropped table
#    is back. Exits non-zero with what differs.
# Runs as the postgres user (needs root or postgres). Port 55442 (PG_PITR_PORT), 55443 restored.
set -euo pipefail

PORT="${PG_PITR_PORT:-55442}"
RPORT=$((PORT + 1))
DIR="${1:-$(mktemp -d /tmp/rsu-pitr.XXXXXX)}"
log() { echo "pitr-drill: $*" >&2; }
die() { log "FAILED: $*"; exit 1; }
V="$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n1)"
[ -n "$V" ] || die "PostgreSQL is not installed: run scripts/ensure-postgres.sh"
BIN="/usr/lib/postgresql/$V/bin"
as_pg() { if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi; }
q() { psql -h 127.0.0.1 -p "$1" -U postgres -d postgres -Atqc "$2"; }

cleanup() {
  for c in live restore; do
    [ -f "$DIR/$c/postmaster.pid" ] && as_pg "$BIN/pg_ctl" -D "$DIR/$c" -m immediate stop >/dev/null 2>&1 || true
  done
  rm -rf "$DIR"
}
trap cleanup EXIT

mkdir -p "$DIR/wal"
chown -R postgres "$DIR"
chmod 700 "$DIR"

log "1. cluster with WAL archiving to $DIR/wal"
as_pg "$BIN/initdb" -D "$DIR/live" -U postgres --auth=trust >/dev/null
cat <<CONF | as_pg tee -a "$DIR/live/postgresql.conf" >/dev/null
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DIR'
wal_level = replica
archive_mode = on
archive_command = 'test ! -f $DIR/wal/%f && cp %p $DIR/wal/%f'
CONF
as_pg "$BIN/pg_ctl" -w -D "$DIR/live" -l "$DIR/live.log" start >/dev/null
q "$PORT" "CREATE TABLE sales (id serial PRIMARY KEY, note text, at timestamptz DEFAULT clock_timestamp());
           CREATE TABLE keep_me (x int); INSERT INTO keep_me VALUES (42);"

log "2. base backup"
as_pg "$BIN/pg_basebackup" -h 127.0.0.1 -p "$PORT" -U postgres -D "$DIR/base" -Fp -X none -c fast >/dev/null
as_pg "$BIN/pg_verifybackup" -n "$DIR/base" >/dev/null || die "pg_verifybackup refused the base backup"

log "3. sales before the target, the target, sales and a mistake after it"
q "$PORT" "INSERT INTO sales (note) SELECT 'before ' || g FROM generate_series(1, 500) g"
sleep 1
TARGET="$(q "$PORT" "SELECT clock_timestamp()")"
sleep 1
q "$PORT" "INSERT INTO sales (note) SELECT 'after ' || g FROM generate_series(1, 300) g; DROP TABLE keep_me;"
q "$PORT" "SELECT pg_switch_wal()" >/dev/null
# Wait until the segment holding the last commit is archived.
for _ in $(seq 1 100); do
  [ "$(q "$PORT" "SELECT last_archived_wal >= pg_walfile_name(pg_current_wal_lsn()) OR failed_count > 0 FROM pg_stat_archiver")" = t ] && break
  q "$PORT" "SELECT pg_switch_wal()" >/dev/null
  sleep 0.2
done
[ "$(q "$PORT" "SELECT failed_count FROM pg_stat_archiver")" = 0 ] || die "archiving failed; see $DIR/live.log"
as_pg "$BIN/pg_ctl" -D "$DIR/live" -m fast stop >/dev/null

log "4. restore to $TARGET"
as_pg cp -a "$DIR/base" "$DIR/restore"
as_pg rm -f "$DIR/restore/backup_manifest"
cat <<CONF | as_pg tee -a "$DIR/restore/postgresql.conf" >/dev/null
port = $RPORT
archive_mode = off
restore_command = 'cp $DIR/wal/%f %p'
recovery_target_time = '$TARGET'
recovery_target_action = 'promote'
CONF
as_pg touch "$DIR/restore/recovery.signal"
as_pg "$BIN/pg_ctl" -w -t 120 -D "$DIR/restore" -l "$DIR/restore.log" start >/dev/null
for _ in $(seq 1 150); do
  [ "$(q "$RPORT" "SELECT pg_is_in_recovery()" 2>/dev/null)" = f ] && break
  sleep 0.2
done
[ "$(q "$RPORT" "SELECT pg_is_in_recovery()")" = f ] || die "recovery did not finish; see $DIR/restore.log"

log "5. checks"
before="$(q "$RPORT" "SELECT count(*) FROM sales WHERE note LIKE 'before %'")"
after="$(q "$RPORT" "SELECT count(*) FROM sales WHERE note LIKE 'after %'")"
kept="$(q "$RPORT" "SELECT x FROM keep_me" 2>/dev/null || echo missing)"
[ "$before" = 500 ] || die "$before of the 500 rows written before the target are back"
[ "$after" = 0 ] || die "$after rows written after the target came back"
[ "$kept" = 42 ] || die "the table dropped after the target is $kept"
log "OK: restored to $TARGET: 500/500 rows before the target, 0/300 after, the dropped table back"
