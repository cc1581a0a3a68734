#!/usr/bin/env bash
# Foundation bench: start-up to ready with the demo data, then 50 concurrent logged-in
# sessions requesting an educator's group page, on SQLite and on PostgreSQL, and the server's
# resident memory under that load. Loopback only. Usage: bash bench/run.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN="${1:-20}"
PG_ADMIN="${TRIVSEL_BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
PORT=18080
LOGDIR=$(mktemp -d)
echo "server logs in $LOGDIR"
cargo build --release --bin trivsel --example load -q
BIN=target/release/trivsel
LOAD=target/release/examples/load

run() {
  local label="$1" url="$2"
  export DATABASE_URL="$url" TRIVSEL_LISTEN="127.0.0.1:$PORT" RUST_LOG=warn
  "$BIN" demo >/dev/null
  local t0; t0=$(date +%s%N)
  "$BIN" serve 2>"$LOGDIR/$label.log" & local pid=$!
  until curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; do sleep 0.01; done
  local ready_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  # The educator's first group.
  "$LOAD" --base "http://127.0.0.1:$PORT" --email paedagog@demo.trivsel.dk --password demo \
          --path /groups/6 --sessions 50 --seconds "$SECONDS_PER_RUN" | sed "s/^/$label: /"
  echo "$label: startup_to_ready_ms=$ready_ms $(grep -E 'VmHWM|VmRSS' /proc/$pid/status | tr -s ' \t' ' ' | tr '\n' ' ')"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  unset DATABASE_URL TRIVSEL_LISTEN
}

dir=$(mktemp -d)
run sqlite "sqlite://$dir/bench.db"
rm -rf "$dir"

db="trivsel_bench_$$"
psql "$PG_ADMIN" -qc "CREATE DATABASE $db"
run postgres "${PG_ADMIN%/*}/$db"
psql "$PG_ADMIN" -qc "DROP DATABASE $db"
