#!/usr/bin/env bash
# The access-log bench: a year of the access log at municipal usage in the 110,000-child data
# set, on SQLite and PostgreSQL. Copies the scale bench's data set (bench/scale.sh makes it;
# this script makes it too if it is missing) to target/scale/log.db and the database
# trivsel_log, writes DAYS workdays of log into it (examples/log_bench.rs, --step generate),
# seals it, starts `trivsel serve` with a retention policy that keeps the log PURGE_KEEP days
# (so a run purges its oldest part), and measures: bytes per year, "who has seen this child"
# and the admin's log pages alone, and a mixed load without and during the purge.
# Usage: bash bench/log.sh [days]   (default 200 workdays, a school year)
set -euo pipefail
cd "$(dirname "$0")/.."
DAYS="${1:-200}"
PURGE_KEEP="${TRIVSEL_BENCH_PURGE_KEEP:-230}"
PG_ADMIN="${TRIVSEL_BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
PORT=18091
mkdir -p target/scale
cargo build --release --bin trivsel --example log_bench -q
BIN=target/release/trivsel
BENCH=target/release/examples/log_bench
export RUST_LOG=warn

# The policy of the run: the shipped one, with the access log kept PURGE_KEEP days.
QDIR=target/scale/questionnaires
rm -rf "$QDIR"
env -u TRIVSEL_QUESTIONNAIRE_DIR "$BIN" init "$QDIR" >/dev/null
python3 - "$QDIR/retention.toml" "$PURGE_KEEP" <<'EOF'
import sys
path, days = sys.argv[1], sys.argv[2]
s = open(path).read()
old = 'records = "access_log"\nafter = "created"\nyears = 5'
assert old in s
open(path, "w").write(s.replace(old, f'records = "access_log"\nafter = "created"\ndays = {days}'))
EOF

run() {
  local label="$1" url="$2"
  "$BENCH" --step generate --url "$url" --days "$DAYS"
  "$BENCH" --step seal --url "$url"
  # The demo's accounts log in with a password alone, as with `serve --demo`.
  DATABASE_URL="$url" TRIVSEL_LISTEN="127.0.0.1:$PORT" TRIVSEL_QUESTIONNAIRE_DIR="$QDIR" \
    TRIVSEL_TWO_FACTOR_ROLES='[]' TRIVSEL_MAX_CONNECTIONS=8 "$BIN" serve 2>"target/scale/log-$label.log" & local pid=$!
  until curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; do sleep 0.1; done
  "$BENCH" --step measure --base "http://127.0.0.1:$PORT" --url "$url" \
    --label "$label, $(date -u +%F), $DAYS workdays of log"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

if [ ! -f target/scale/sqlite.db ]; then
  DATABASE_URL=sqlite://target/scale/sqlite.db "$BIN" demo --children 110000 --rounds 6
fi
rm -f target/scale/log.db*
cp target/scale/sqlite.db target/scale/log.db
run SQLite "sqlite://target/scale/log.db"

if ! psql "$PG_ADMIN" -Atqc "SELECT 1 FROM pg_database WHERE datname = 'trivsel_scale'" | grep -q 1; then
  psql "$PG_ADMIN" -qc "CREATE DATABASE trivsel_scale"
  DATABASE_URL="${PG_ADMIN%/*}/trivsel_scale" "$BIN" demo --children 110000 --rounds 6
fi
psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS trivsel_log"
psql "$PG_ADMIN" -qc "CREATE DATABASE trivsel_log TEMPLATE trivsel_scale"
run PostgreSQL "${PG_ADMIN%/*}/trivsel_log"
