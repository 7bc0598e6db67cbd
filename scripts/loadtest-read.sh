#!/usr/bin/env bash
# Load test of GET /register/{id} (RFC 7592 read, with each client's own token) against the
# release server, on SQLite or PostgreSQL, with 10,000 and then 1,000,000 registered clients.
# Each size is measured next to GET /health, the server's cheapest endpoint, in the same run.
#   scripts/loadtest-read.sh sqlite|postgres
# PostgreSQL comes from TEST_DATABASE_URL, or a throwaway cluster (scripts/with-postgres.sh).
# Environment: DURATION (15s), CONNECTIONS (64), THREADS (2), WORKERS (2), SIZES ("10000 1000000").
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:-sqlite}
if [ "$backend" = postgres ] && [ -z "${TEST_DATABASE_URL:-}" ]; then
  exec scripts/with-postgres.sh "$0" "$@"
fi

DURATION=${DURATION:-15s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
WORKERS=${WORKERS:-2}
SIZES=${SIZES:-"10000 1000000"}
command -v wrk >/dev/null || { echo "loadtest-read: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
cargo build --release -q -p authz-server

work=$(mktemp -d /tmp/authz-loadread.XXXXXX)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

server_cpu_ticks() { awk '{print $14 + $15}' "/proc/$server_pid/stat"; } # user + system, 1/100 s

wrk_run() { # URL [lua] -> "rps p50 p99 non2xx server-CPU-microseconds-per-request"
  local out="$work/wrk.txt" before after
  before=$(server_cpu_ticks)
  if [ -n "${2:-}" ]; then wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$2" "$1" >"$out";
  else wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$1" >"$out"; fi
  after=$(server_cpu_ticks)
  local non2xx; non2xx=$(awk '/Non-2xx/ {print $5}' "$out")
  local requests; requests=$(awk '/requests in/ {print $1}' "$out")
  echo "$(awk '/^Requests\/sec/ {print $2}' "$out") $(awk '$1=="50%" {print $2}' "$out") $(awk '$1=="99%" {print $2}' "$out") ${non2xx:-0} $(( (after - before) * 10000 / requests ))"
}

echo "machine: $(nproc) cores; wrk -t$THREADS -c$CONNECTIONS -d$DURATION; server workers $WORKERS; backend $backend"
echo
echo "| clients | GET /health req/s | GET /register/{id} req/s | p50 | p99 | non-2xx | read / health | server CPU per request, health / read |"
echo "|---|---|---|---|---|---|---|---|"
for size in $SIZES; do
  if [ "$backend" = sqlite ]; then
    db="$work/authz-$size.sqlite3"; url="sqlite://$db"; seed_target="$db"
  else
    name="authz_load_$size"
    psql -q "$TEST_DATABASE_URL" -c "DROP DATABASE IF EXISTS $name" -c "CREATE DATABASE $name" >/dev/null
    url="${TEST_DATABASE_URL%/*}/$name"; seed_target="$url"
  fi
  AUTHZ__DATABASE__URL="$url" AUTHZ__LOGGING__LEVEL=warn target/release/authz-server migrate >/dev/null
  python3 scripts/seed_clients.py "$backend" "$seed_target" "$size"
  AUTHZ__DATABASE__URL="$url" AUTHZ__SERVER__BIND=127.0.0.1:0 AUTHZ__SERVER__WORKERS="$WORKERS" \
    AUTHZ__RATE_LIMITS__ENABLED=false \
    AUTHZ__LOGGING__LEVEL=warn target/release/authz-server >"$work/stdout" 2>"$work/stderr" &
  server_pid=$!
  for _ in $(seq 100); do grep -q listening "$work/stdout" 2>/dev/null && break; sleep 0.1; done
  base=$(grep -o 'http://[0-9.:]*' "$work/stdout" | head -1)
  [ -n "$base" ] || { cat "$work/stderr" >&2; exit 1; }
  read -r h_rps _ _ _ h_cpu < <(wrk_run "$base/health")
  read -r r_rps r_p50 r_p99 r_bad r_cpu < <(CLIENTS=$size wrk_run "$base" scripts/wrk/read_client.lua)
  ratio=$(python3 -c "print(round($r_rps / $h_rps, 3))")
  echo "| $size | $h_rps | $r_rps | $r_p50 | $r_p99 | $r_bad | $ratio | ${h_cpu} µs / ${r_cpu} µs |"
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=
  [ "$r_bad" -eq 0 ] || { echo "non-2xx responses: every request carried a valid token" >&2; exit 1; }
done
