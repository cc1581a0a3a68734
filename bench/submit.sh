#!/usr/bin/env bash
# Issue 3's submission bench (examples/submit_bench.rs) in every layout, each on a fresh
# database: SQLite (in the service's process), PostgreSQL sharing both cores with the service
# and the load generator, and PostgreSQL on a core of its own with the service and the load
# generator on the other (the layout that measures the database's own limit; see
# docs/benchmarks.md). Prints each run's median line; full output in the log folder it names.
#
# Usage: bash bench/submit.sh [confirm|decide ...]   (default: confirm decide)
# Needs Linux, 2 cores or more, `taskset` (util-linux) and a local PostgreSQL reachable as
# TRIVSEL_BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres). For the
# pinned layout it changes the CPU affinity of the machine's PostgreSQL processes for the
# run and gives them every core back when it ends (also on Ctrl-C).
set -euo pipefail
cd "$(dirname "$0")/.."

PG_ADMIN="${TRIVSEL_BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
PG_BENCH="${PG_ADMIN%/*}/trivsel_submit_bench"
export PGOPTIONS="-c client_min_messages=warning"
FLOWS=("$@")
[ ${#FLOWS[@]} -gt 0 ] || FLOWS=(confirm decide)
CORES=$(nproc)
if [ "$CORES" -lt 2 ]; then
  echo "bench/submit.sh needs at least 2 cores (this machine has $CORES)" >&2
  exit 1
fi
for tool in taskset pgrep psql; do
  command -v "$tool" >/dev/null || { echo "bench/submit.sh needs $tool" >&2; exit 1; }
done
LOGDIR=$(mktemp -d)
echo "logs in $LOGDIR"

cargo build --release --example submit_bench -q
BENCH=target/release/examples/submit_bench

pin_postgres() {
  # New backends are forked by the postmaster and inherit its affinity.
  # (A backend may end between the listing and the call.)
  for p in $(pgrep -x postgres); do taskset -cp "$1" "$p" >/dev/null 2>&1 || true; done
}
drop_pg() {
  psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS trivsel_submit_bench" >/dev/null
}
restore() {
  pin_postgres "0-$((CORES - 1))"
  drop_pg 2>/dev/null || true
}
trap restore EXIT

fresh_pg() {
  drop_pg
  psql "$PG_ADMIN" -qc "CREATE DATABASE trivsel_submit_bench" >/dev/null
}

# run LABEL COMMAND...: the run's output to its log, its median line to the screen.
run() {
  local label="$1"
  shift
  "$@" >"$LOGDIR/$label.log" 2>&1
  echo "$label: $(grep '^backend=' "$LOGDIR/$label.log" | tail -n 1)"
}

for flow in "${FLOWS[@]}"; do
  run "sqlite-$flow" "$BENCH" --database-url "sqlite://$LOGDIR/$flow.db" --flow "$flow"
  rm -f "$LOGDIR/$flow.db"*

  fresh_pg
  run "postgres-shared-$flow" "$BENCH" --database-url "$PG_BENCH" --flow "$flow"

  fresh_pg
  pin_postgres 0
  postmaster=$(pgrep -o -x postgres)
  if [ "$(taskset -cp "$postmaster" | sed 's/.*: //')" != 0 ]; then
    echo "could not pin PostgreSQL (pid $postmaster) to core 0" >&2
    exit 1
  fi
  run "postgres-own-core-$flow" taskset -c "1-$((CORES - 1))" \
    "$BENCH" --database-url "$PG_BENCH" --flow "$flow"
  pin_postgres "0-$((CORES - 1))"
done
