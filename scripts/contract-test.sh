#!/usr/bin/env bash
# The contract test of the HTTP API: schemathesis (from PyPI, in a virtualenv) generates requests
# from the server's own OpenAPI document (/openapi.json) against a live server on a throwaway
# PostgreSQL database seeded with the demo, and fails on any server error (5xx) or any answer
# that does not match the document. Admin routes are called with the admin bearer token; device
# routes are signed by a device enrolled with the demo's token (scripts/contract_hooks.py), so the
# generated bodies reach the handlers.
#
#   scripts/contract-test.sh              # builds server-stub (debug), then runs
#   scripts/contract-test.sh --no-build   # the binary cargo test just built (scripts/test.sh)
#   CONTRACT_EXAMPLES=100 scripts/contract-test.sh   # more examples per operation (default 30)
#   CONTRACT_SEED=7 scripts/contract-test.sh          # other generated data (default: fixed seed)
#   KEEP=1 scripts/contract-test.sh       # keep the database, the server log and the report
#
# The virtualenv is cached in ${XDG_CACHE_HOME:-~/.cache}/rsu-contract-venv (CONTRACT_VENV).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$(pwd)"
BUILD=1
if [ "${1:-}" = "--no-build" ]; then BUILD=0; fi
SCHEMATHESIS_VERSION=4.32.5
# Ed25519 for signing the device requests (scripts/contract_hooks.py).
CRYPTOGRAPHY_VERSION=50.0.2
EXAMPLES="${CONTRACT_EXAMPLES:-30}"
SEED="${CONTRACT_SEED:-20261202}"
VENV="${CONTRACT_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/rsu-contract-venv}"

json_field() { sed -n "s/.*\"$1\": *\"\([^\"]*\)\".*/\1/p" "$2" | head -1; }
step() { printf '\n== %s\n' "$*" >&2; }
fail() { echo "contract-test: FAILED: $*" >&2; exit 1; }

step "schemathesis $SCHEMATHESIS_VERSION in $VENV"
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-venv
fi
if [ "$("$VENV/bin/schemathesis" --version 2>/dev/null | grep -o '[0-9][0-9.]*' | head -1)" != "$SCHEMATHESIS_VERSION" ] \
  || ! "$VENV/bin/python" -c 'import cryptography' 2>/dev/null; then
  rm -rf "$VENV"
  python3 -m venv "$VENV" || fail "cannot create a virtualenv in $VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" \
    "cryptography==$CRYPTOGRAPHY_VERSION" \
    || fail "cannot install schemathesis $SCHEMATHESIS_VERSION and cryptography from PyPI"
fi

step "PostgreSQL on 127.0.0.1:5432"
eval "$(scripts/ensure-postgres.sh --export)"
ADMIN_URL="$DATABASE_URL"
DB_NAME="rsu_contract_$$"
export DATABASE_URL="${ADMIN_URL%/*}/$DB_NAME"
export SERVER_STUB_ADMIN_TOKEN="contract-test-admin-token-$$-$RANDOM$RANDOM"
PORT=18180
while (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do PORT=$((PORT + 1)); done
export SERVER_STUB_BIND="127.0.0.1:$PORT"
SERVER="http://127.0.0.1:$PORT"

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [ "${KEEP:-0}" = 1 ]; then
    echo "contract-test: kept the database $DATABASE_URL, the server log and the report in $WORK" >&2
  else
    psql "$ADMIN_URL" -Atqc "DROP DATABASE IF EXISTS $DB_NAME" >/dev/null 2>&1 || true
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
psql "$ADMIN_URL" -Atqc "CREATE DATABASE $DB_NAME" >/dev/null || fail "cannot create the database $DB_NAME"

BIN="${CARGO_TARGET_DIR:-target}/debug"
if [ "$BUILD" = 1 ]; then
  step "cargo build -p server-stub"
  cargo build --locked -p server-stub
fi
[ -x "$BIN/server-stub" ] || fail "$BIN/server-stub is missing: build it with cargo build -p server-stub"

step "server-stub serve & (on $SERVER_STUB_BIND)"
"$BIN/server-stub" serve 2>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 1 300); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; fail "the server exited"; }
  sleep 0.1
done
(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || { cat "$WORK/server.log" >&2; fail "the server is not listening"; }

step "server-stub demo-seed, and a device enrolled with its token"
"$BIN/server-stub" demo-seed >"$WORK/seed.json" || fail "demo-seed"
TOKEN="$(sed -n 's/.*"enrollmentToken": *"\([^"]*\)".*/\1/p' "$WORK/seed.json")"
[ -n "$TOKEN" ] || fail "demo-seed printed no enrollmentToken"
"$VENV/bin/python" scripts/contract_hooks.py enroll "$SERVER" "$TOKEN" >"$WORK/device.json" \
  || fail "enrolling the contract test's device"
# A second RSU for the admin operations to act on (the enrolled one keeps signing), and a
# schemathesis configuration that puts the demo's real ids into generated requests half the time,
# so they reach the operations behind the lookups instead of stopping at 404.
"$BIN/server-stub" admin create-rsu --organization-id "$(json_field organizationId "$WORK/seed.json")" \
  --name CONTRACT-RSU >"$WORK/rsu2.json" || fail "creating a second RSU"
PACKAGE_ID="$(psql "$DATABASE_URL" -Atqc "SELECT id FROM ticket_packages ORDER BY ticket_count LIMIT 1")"
cat >"$WORK/schemathesis.toml" <<TOML
[dictionaries.events]
values = ["$(json_field eventId "$WORK/seed.json")"]
[dictionaries.organizations]
values = ["$(json_field organizationId "$WORK/seed.json")"]
[dictionaries.venues]
values = ["$(json_field venueId "$WORK/seed.json")"]
[dictionaries.rsus]
values = ["$(json_field rsuId "$WORK/rsu2.json")"]
[dictionaries.packages]
values = ["$PACKAGE_ID"]
[parameters]
"path.id" = { dictionary = "events", probability = 0.5 }
"query.rsuId" = { dictionary = "rsus", probability = 0.5 }
"body.eventId" = { dictionary = "events", probability = 0.5 }
"body.organizationId" = { dictionary = "organizations", probability = 0.5 }
"body.venueId" = { dictionary = "venues", probability = 0.5 }
"body.rsuId" = { dictionary = "rsus", probability = 0.5 }
"body.packageId" = { dictionary = "packages", probability = 0.5 }
TOML

step "schemathesis run $SERVER/openapi.json (at most $EXAMPLES examples per operation)"
set +e
(cd "$WORK" && NO_COLOR=1 PYTHONPATH="$REPO/scripts" SCHEMATHESIS_HOOKS=contract_hooks \
  RSU_CONTRACT_DEVICE="$WORK/device.json" "$VENV/bin/schemathesis" --config-file "$WORK/schemathesis.toml" run "$SERVER/openapi.json" \
  --checks not_a_server_error,response_schema_conformance \
  --max-examples "$EXAMPLES" \
  --seed "$SEED" \
  --workers 2 \
  --header "Authorization: Bearer $SERVER_STUB_ADMIN_TOKEN" \
  --report junit --report-dir "$WORK/report" \
  --suppress-health-check all \
  --no-shrink) 2>&1 | tee "$WORK/schemathesis.log"
RC=${PIPESTATUS[0]}
set -e
# A 5xx is what schemathesis sees; the log says why (and catches one it did not see).
if grep -q 'internal error' "$WORK/server.log"; then
  echo "--- internal errors in the server log:" >&2
  grep 'internal error' "$WORK/server.log" | tail -20 >&2
  RC=1
fi
# The device requests were signed (scripts/contract_hooks.py): their nonces were recorded.
SIGNED="$(psql "$DATABASE_URL" -Atqc \
  "SELECT COUNT(*) FROM request_nonces WHERE key_id = '$(sed -n 's/.*"keyId": *"\([^"]*\)".*/\1/p' "$WORK/device.json")'" 2>/dev/null || echo 0)"
echo "contract-test: $SIGNED signed device requests passed the signature check" >&2
[ "${SIGNED:-0}" -gt 0 ] || { echo "contract-test: no signed device request got through: is the hook loaded?" >&2; RC=1; }
[ "$RC" = 0 ] || { echo "--- server log (last 40 lines):" >&2; grep -v "slow statement" "$WORK/server.log" | tail -40 | cut -c1-400 >&2; fail "schemathesis found failures (exit $RC)"; }
echo "contract-test: passed: no server error, every answer matches docs/openapi.json" >&2
