#!/usr/bin/env bash
# The README's end-to-end walkthrough ("The server and the sync daemon"), run as written:
# PostgreSQL, the server, the demo seed, enrolling a device, a sale, one sync round, the status,
# and a check that the sale arrived on the server as an order with its tickets.
#
# It runs against a throwaway database (dropped at the end), on a free port, with the device
# database in a temporary directory, so it never touches a server or a device you are using.
# Any failing step stops it with a non-zero exit. scripts/test.sh runs it after the tests.
#
#   scripts/walkthrough.sh            # builds (debug) once, then runs target/debug binaries
#   scripts/walkthrough.sh --no-build # the binaries `cargo test --workspace` just built (test.sh)
#   KEEP=1 scripts/walkthrough.sh     # keep the database and the device directory to look at
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=1
if [ "${1:-}" = "--no-build" ]; then BUILD=0; fi

step() { printf '\n== %s\n' "$*" >&2; }
fail() { echo "walkthrough: FAILED: $*" >&2; exit 1; }

step "PostgreSQL on 127.0.0.1:5432"
eval "$(scripts/ensure-postgres.sh --export)"
ADMIN_URL="$DATABASE_URL"
DB_NAME="rsu_walkthrough_$$"
export DATABASE_URL="${ADMIN_URL%/*}/$DB_NAME"
export SERVER_STUB_ADMIN_TOKEN=change-me-to-a-long-secret

# A free port instead of 8080, so a server you are running is left alone.
PORT=18080
while (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do PORT=$((PORT + 1)); done
export SERVER_STUB_BIND="127.0.0.1:$PORT"
SERVER="http://127.0.0.1:$PORT"

DEV="$(mktemp -d)"
chmod 700 "$DEV"
DB="$DEV/dev/rsu.db"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [ "${KEEP:-0}" = 1 ]; then
    echo "walkthrough: kept the database $DATABASE_URL and the device directory $DEV" >&2
  else
    psql "$ADMIN_URL" -Atqc "DROP DATABASE IF EXISTS $DB_NAME" >/dev/null 2>&1 || true
    rm -rf "$DEV"
  fi
}
trap cleanup EXIT
psql "$ADMIN_URL" -Atqc "CREATE DATABASE $DB_NAME" >/dev/null || fail "cannot create the database $DB_NAME"

BIN="${CARGO_TARGET_DIR:-target}/debug"
if [ "$BUILD" = 1 ]; then
  step "cargo build -p server-stub -p rsu-app -p rsu-sync"
  cargo build --locked -p server-stub -p rsu-app -p rsu-sync
fi
for b in server-stub rsu-app rsu-syncd; do
  [ -x "$BIN/$b" ] || fail "$BIN/$b is missing: build it with cargo build -p server-stub -p rsu-app -p rsu-sync"
done

step "server-stub serve & (on $SERVER_STUB_BIND)"
"$BIN/server-stub" serve 2>"$DEV/server.log" &
SERVER_PID=$!
for _ in $(seq 1 300); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$DEV/server.log" >&2; fail "the server exited"; }
  sleep 0.1
done
(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || { cat "$DEV/server.log" >&2; fail "the server is not listening on $SERVER_STUB_BIND"; }

step "server-stub demo-seed"
SEED="$("$BIN/server-stub" demo-seed)" || fail "demo-seed"
echo "$SEED"
TOKEN="$(printf '%s\n' "$SEED" | sed -n 's/.*"enrollmentToken": *"\([^"]*\)".*/\1/p')"
[ -n "$TOKEN" ] || fail "demo-seed printed no enrollmentToken"

step "rsu-app --db $DB enroll --server $SERVER --token <enrollmentToken>"
"$BIN/rsu-app" --db "$DB" enroll --server "$SERVER" --token "$TOKEN" || fail "enroll"

step "rsu-app --db $DB sell --package \"5 tickets\" --pin 1111"
RECEIPT="$("$BIN/rsu-app" --db "$DB" sell --package "5 tickets" --pin 1111)" || fail "sell"
echo "$RECEIPT"
VALIDATION="$(printf '%s\n' "$RECEIPT" | sed -n 's/^Validation: *\([A-Z0-9-]*\).*/\1/p')"
[ -n "$VALIDATION" ] || fail "the receipt shows no validation number"

step "rsu-syncd --db $DB --once"
"$BIN/rsu-syncd" --db "$DB" --once || fail "rsu-syncd --once did not sync everything (exit $?)"

step "rsu-syncd --db $DB status"
"$BIN/rsu-syncd" --db "$DB" status || fail "rsu-syncd status says entries are pending (exit $?)"

step "the sale arrived: order $VALIDATION with 5 tickets"
TICKETS="$(psql "$DATABASE_URL" -Atqc \
  "SELECT count(t.*) FROM orders o JOIN tickets t ON t.order_id = o.id WHERE o.validation_number = '$VALIDATION'")" \
  || fail "cannot query the server's database"
[ "$TICKETS" = 5 ] || fail "the server holds $TICKETS tickets for $VALIDATION, expected 5"

echo >&2
echo "walkthrough: OK (server, demo-seed, enroll, sell, rsu-syncd --once, status; order $VALIDATION with 5 tickets on the server)" >&2
