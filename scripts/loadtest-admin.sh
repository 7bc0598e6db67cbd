#!/usr/bin/env bash
# Latency of the administration API's client listing, GET /admin/clients, against the release
# server on SQLite or PostgreSQL holding SIZE clients (scripts/seed_clients.py: realistic names,
# search_text and issued_at). One wrk connection per case, so the numbers are the latency of one
# request at a time, not throughput. Cases:
#   first page           ?per_page=50
#   page 10000           ?per_page=50&page=10000               (OFFSET 499,950)
#   search, first page   ?q=cursor&per_page=50                 (about 1 client in 7 matches)
#   search, deep page    ?q=cursor&per_page=50&page=P          (P = 10000, or the last page if fewer)
#   search, no match     ?q=zzzz-no-match&per_page=50
#   search, wildcard     ?q=50%25&per_page=50                  ("50%": % must match only itself)
# Every response must be 2xx. Next to each measurement: the load averages and how busy the CPUs
# were (in 3 s with the server idle) just before; when something else keeps the machine busy
# (another build), the case waits for quiet, up to QUIET_WAIT seconds, and says so.
# After the table, the query plans of each case's SQL (scripts/admin_query_plans.py).
#   scripts/loadtest-admin.sh sqlite|postgres
# PostgreSQL comes from TEST_DATABASE_URL, or a throwaway cluster (scripts/with-postgres.sh).
# Environment: SIZE (1000000), DURATION (10s), WORKERS (server workers, 2), TERM_MANY (cursor),
#   BUSY_PCT (25: "busy" above this share of all CPUs), QUIET_WAIT (600),
#   ISSUED (ordered: issued_at follows the seed ids; shuffled: issued_at in an order unrelated
#   to client_id, as with the server's random ids; see seed_clients.py --shuffle-issued).
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:-sqlite}
if [ "$backend" = postgres ] && [ -z "${TEST_DATABASE_URL:-}" ]; then
  exec scripts/with-postgres.sh "$0" "$@"
fi

SIZE=${SIZE:-1000000}
DURATION=${DURATION:-10s}
WORKERS=${WORKERS:-2}
TERM_MANY=${TERM_MANY:-cursor}
BUSY_PCT=${BUSY_PCT:-25}
QUIET_WAIT=${QUIET_WAIT:-600}
ISSUED=${ISSUED:-ordered}
seed_flags=(); [ "$ISSUED" = shuffled ] && seed_flags=(--shuffle-issued)
command -v wrk >/dev/null || { echo "loadtest-admin: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
cargo build --release -q -p authz-server

work=$(mktemp -d /tmp/authz-loadadmin.XXXXXX)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

if [ "$backend" = sqlite ]; then
  db="$work/authz-$SIZE.sqlite3"; url="sqlite://$db"; target="$db"
else
  name="authz_admin_$SIZE"
  psql -q "$TEST_DATABASE_URL" -c "DROP DATABASE IF EXISTS $name" -c "CREATE DATABASE $name" >/dev/null
  url="${TEST_DATABASE_URL%/*}/$name"; target="$url"
fi
export AUTHZ__DATABASE__URL="$url" AUTHZ__LOGGING__LEVEL=warn
target/release/authz-server migrate >/dev/null
python3 scripts/seed_clients.py "$backend" "$target" "$SIZE" "${seed_flags[@]}"
token=$(target/release/authz-server admin-token create --name bench --scope client:read 2>/dev/null)

AUTHZ__SERVER__BIND=127.0.0.1:0 AUTHZ__SERVER__WORKERS="$WORKERS" AUTHZ__RATE_LIMITS__ENABLED=false \
  target/release/authz-server >"$work/stdout" 2>"$work/stderr" &
server_pid=$!
for _ in $(seq 100); do grep -q listening "$work/stdout" 2>/dev/null && break; sleep 0.1; done
base=$(grep -o 'http://[0-9.:]*' "$work/stdout" | head -1)
[ -n "$base" ] || { cat "$work/stderr" >&2; exit 1; }

# Share of all CPUs busy over 3 s, in percent (the server is idle meanwhile: this is others).
busy_pct() {
  local a b
  a=($(awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)); sleep 3
  b=($(awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat))
  echo $(( 100 * (b[0] - a[0]) / (b[1] - a[1] > 0 ? b[1] - a[1] : 1) ))
}
# Waits until the machine is quiet (or QUIET_WAIT has passed); prints "busy% waited_s".
wait_quiet() {
  local waited=0 busy
  busy=$(busy_pct)
  while [ "$busy" -gt "$BUSY_PCT" ] && [ "$waited" -lt "$QUIET_WAIT" ]; do
    sleep 27; waited=$((waited + 30)); busy=$(busy_pct)
  done
  echo "$busy $waited"
}
# GET PATH once: prints "status total" (total from the JSON body).
probe() {
  local status
  status=$(curl -s -o "$work/body.json" -w '%{http_code}' -H "Authorization: Bearer $token" "$base$1")
  echo "$status $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("total", "-"))' "$work/body.json" 2>/dev/null || echo -)"
}
# wrk on PATH, one connection -> "rps p50 p99 non2xx"
wrk_run() {
  local out="$work/wrk.txt"
  wrk -t1 -c1 -d"$DURATION" --latency -H "Authorization: Bearer $token" "$base$1" >"$out"
  local non2xx errors
  non2xx=$(awk '/Non-2xx/ {print $5}' "$out")
  errors=$(awk '/Socket errors/ {gsub(",", ""); print $4+$6+$8+$10}' "$out")
  [ "${errors:-0}" -eq 0 ] || echo "loadtest-admin: socket errors on $1: $(grep 'Socket errors' "$out")" >&2
  echo "$(awk '/^Requests\/sec/ {print $2}' "$out") $(awk '$1=="50%" {print $2}' "$out") $(awk '$1=="99%" {print $2}' "$out") ${non2xx:-0}"
}

# The deep search page: 10000 if the term matches enough clients, else its last page.
read -r _ many < <(probe "/admin/clients?q=$TERM_MANY&per_page=50")
deep=$(( many > 499950 ? 10000 : (many + 49) / 50 ))
[ "$deep" -ge 1 ] || deep=1
cases=(
  "first page|/admin/clients?per_page=50||1"
  "page 10000|/admin/clients?per_page=50&page=10000||10000"
  "search, first page|/admin/clients?q=$TERM_MANY&per_page=50|$TERM_MANY|1"
  "search, page $deep (last)|/admin/clients?q=$TERM_MANY&per_page=50&page=$deep|$TERM_MANY|$deep"
  "search, no match|/admin/clients?q=zzzz-no-match&per_page=50|zzzz-no-match|1"
  "search, wildcard|/admin/clients?q=50%25&per_page=50|50%|1"
)

echo "machine: $(nproc) cores; backend $backend; $SIZE clients, issued_at $ISSUED; wrk -t1 -c1 -d$DURATION --latency; server workers $WORKERS"
echo
echo "| case | URL | req/s | p50 | p99 | non-2xx | total | load avg before | CPU busy before |"
echo "|---|---|---|---|---|---|---|---|---|"
failed=0
for c in "${cases[@]}"; do
  IFS='|' read -r label path _ _ <<<"$c"
  read -r status total < <(probe "$path")  # also warms the caches
  [[ "$status" == 2* ]] || { echo "loadtest-admin: $path answered $status: $(cat "$work/body.json")" >&2; failed=1; }
  read -r busy waited < <(wait_quiet)
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  read -r rps p50 p99 bad < <(wrk_run "$path")
  note=""; [ "$waited" -gt 0 ] && note=" (waited ${waited}s for quiet)"
  [ "$busy" -gt "$BUSY_PCT" ] && note="$note (BUSY: re-run)"
  echo "| $label | \`$path\` | $rps | $p50 | $p99 | $bad | $total | $load | ${busy}%$note |"
  [ "$bad" -eq 0 ] || failed=1
done

echo
echo "Query plans ($backend, $SIZE clients; per_page 50):"
for c in "${cases[@]}"; do
  IFS='|' read -r label path q page <<<"$c"
  echo
  echo "### $label: \`$path\`"
  echo '```'
  python3 scripts/admin_query_plans.py "$backend" "$target" --q "$q" --page "$page" --per-page 50
  echo '```'
done
[ "$failed" -eq 0 ] || { echo "loadtest-admin: some responses were not 2xx" >&2; exit 1; }
