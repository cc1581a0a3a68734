#!/usr/bin/env bash
# The scale bench: every page a user reaches, at municipal scale, on SQLite and PostgreSQL.
# Generates the 110,000-child data set with six rounds of history once per backend and keeps
# it (target/scale/ for SQLite, the database trivsel_scale for PostgreSQL; pass --fresh to
# generate anew), starts `trivsel serve` on it, and runs examples/scale_bench.rs: each page
# alone (p50/p95), all pages mixed under an open-loop load, and the server's peak memory.
# Usage: bash bench/scale.sh [--fresh] [rate] [seconds]   (defaults: 100 requests/s, 60 s)
set -euo pipefail
cd "$(dirname "$0")/.."
FRESH=0
if [ "${1:-}" = "--fresh" ]; then FRESH=1; shift; fi
RATE="${1:-100}"
SECONDS_MIXED="${2:-60}"
CHILDREN="${TRIVSEL_SCALE_CHILDREN:-110000}"
PG_ADMIN="${TRIVSEL_BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
PORT=18090
mkdir -p target/scale
cargo build --release --bin trivsel --example scale_bench -q
BIN=target/release/trivsel

run() {
  local label="$1" url="$2" fresh="$3"
  export DATABASE_URL="$url" TRIVSEL_LISTEN="127.0.0.1:$PORT" RUST_LOG=warn
  if [ "$fresh" = 1 ]; then
    echo "$label: generating $CHILDREN children with six rounds of history"
    /usr/bin/time -f "$label: generated in %e s (peak %M KB)" "$BIN" demo --children "$CHILDREN" --rounds 6
  fi
  # As the README says to run it in production: the allocator returns memory at once, and
  # SQLite on two cores has four readers.
  local readers=16
  if [ "$label" = SQLite ]; then readers=4; fi
  # The demo's accounts log in with a password alone, as with `serve --demo`.
  MIMALLOC_PURGE_DELAY=0 MIMALLOC_ARENA_EAGER_COMMIT=0 TRIVSEL_MAX_CONNECTIONS=$readers \
    TRIVSEL_TWO_FACTOR_ROLES='[]' "$BIN" serve 2>"target/scale/$label.log" & local pid=$!
  until curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; do sleep 0.05; done
  target/release/examples/scale_bench --base "http://127.0.0.1:$PORT" --pid "$pid" \
    --rate "$RATE" --seconds "$SECONDS_MIXED" --label "$label, $(date -u +%F)"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  unset DATABASE_URL TRIVSEL_LISTEN
}

db_file=target/scale/sqlite.db
fresh=$FRESH
if [ "$FRESH" = 1 ] || [ ! -f "$db_file" ]; then rm -f "$db_file"*; fresh=1; fi
run SQLite "sqlite://$db_file" "$fresh"

fresh=$FRESH
if [ "$FRESH" = 1 ]; then psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS trivsel_scale"; fi
if ! psql "$PG_ADMIN" -Atqc "SELECT 1 FROM pg_database WHERE datname = 'trivsel_scale'" | grep -q 1; then
  psql "$PG_ADMIN" -qc "CREATE DATABASE trivsel_scale"; fresh=1
fi
run PostgreSQL "${PG_ADMIN%/*}/trivsel_scale" "$fresh"
