#!/usr/bin/env bash
# What the rate limits cost and whether they protect others (issue 10), with wrk against the release
# server on fresh SQLite databases. One run of this script measures everything, so the figures are
# comparable with each other (not necessarily with other days: the machine is shared).
#   A. POST /register (public client) with each control off and on:
#        off        rate_limits.enabled = false
#        limits     per-address and global buckets, set so high they never refuse (the cost of the
#                   client address, two bucket checks and the RateLimit-* headers)
#        limits+xff the same behind a trusted proxy: X-Forwarded-For parsed, a new address per
#                   request (a per-address bucket is created for each)
#        off again  drift check
#   B. Other clients during a flood, on one server with the default limits behind a trusted proxy:
#      GET /register/{id} with a valid token from ever-new addresses (LEGIT_CONNECTIONS), alone and
#      then while (1) one address floods POST /register, (2) one address guesses registration
#      access tokens (FLOOD_CONNECTIONS each). The p99 of the legitimate reads during a flood must
#      stay within 2x of their p99 alone; the script fails otherwise.
# Environment: DURATION (10s), CONNECTIONS (32), LEGIT_CONNECTIONS (8), FLOOD_CONNECTIONS (64),
# THREADS (1), WORKERS (server workers, 2).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
LEGIT_CONNECTIONS=${LEGIT_CONNECTIONS:-8}
FLOOD_CONNECTIONS=${FLOOD_CONNECTIONS:-64}
THREADS=${THREADS:-1}
WORKERS=${WORKERS:-2}
command -v wrk >/dev/null || { echo "loadtest-limits: wrk is not installed (apt-get install wrk)" >&2; exit 1; }

target=${CARGO_TARGET_DIR:-target}
cargo build --release -q -p authz-server
bin="$target/release/authz-server"

work=$(mktemp -d /tmp/authz-loadtest-limits.XXXXXX)
server_pid=
stop_server() { if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; server_pid=; fi; }
cleanup() { stop_server; rm -rf "$work"; }
trap cleanup EXIT

# start_server NAME [KEY=VALUE...]: a fresh database, the server on a free port; sets $base.
start_server() {
  local name=$1; shift
  stop_server
  rm -rf "$work/$name" && mkdir -p "$work/$name"
  env AUTHZ__DATABASE__URL="sqlite://$work/$name/authz.sqlite3" AUTHZ__SERVER__BIND=127.0.0.1:0 \
    AUTHZ__SERVER__WORKERS="$WORKERS" AUTHZ__LOGGING__LEVEL=error \
    AUTHZ__KEYS__KEY_ENCRYPTION_KEY_FILE="$work/$name/authz.kek" "$@" \
    "$bin" >"$work/$name/stdout" 2>"$work/$name/stderr" &
  server_pid=$!
  base=
  for _ in $(seq 100); do
    base=$(grep -o 'http://[0-9.:]*' "$work/$name/stdout" 2>/dev/null | head -1 || true)
    [ -n "$base" ] && break
    sleep 0.1
  done
  [ -n "$base" ] || { cat "$work/$name/stderr" >&2; exit 1; }
}

# wrk_run OUT CONNECTIONS URL [ENV...] -> runs wrk with scripts/wrk/limits.lua
wrk_run() {
  local out=$1 conns=$2 url=$3; shift 3
  env "$@" wrk -t"$THREADS" -c"$conns" -d"$DURATION" --latency -s scripts/wrk/limits.lua "$url" >"$out"
}
# summary OUT -> "rps p50 p99 total non2xx"
summary() {
  local out=$1 total non2xx
  total=$(awk '/requests in/ {print $1}' "$out")
  non2xx=$(awk '/Non-2xx/ {print $5}' "$out"); non2xx=${non2xx:-0}
  echo "$(awk '/^Requests\/sec/ {print $2}' "$out") $(awk '$1=="50%" {print $2}' "$out") $(awk '$1=="99%" {print $2}' "$out") $total $non2xx"
}
# to_ms "1.23ms" | "850.00us" | "1.02s" -> milliseconds
to_ms() { python3 -c "import sys,re; v=sys.argv[1]; n=float(re.match(r'[0-9.]+',v).group()); print(n/1000 if v.endswith('us') else n*1000 if v.endswith('s') and not v.endswith('ms') else n)" "$1"; }

cat >"$work/public.json" <<'JSON'
{"client_name":"Claude Code","redirect_uris":["http://localhost:53682/callback"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none"}
JSON

echo "machine: $(nproc) cores (shared); wrk -t$THREADS -d$DURATION; server workers $WORKERS; SQLite"
echo
echo "A. POST /register, public client, $CONNECTIONS connections"
echo
echo "| controls | requests/s | p50 | p99 | 201s | non-2xx |"
echo "|---|---|---|---|---|---|"
high=(AUTHZ__RATE_LIMITS__REGISTRATIONS_PER_IP_PER_MINUTE=1000000 AUTHZ__RATE_LIMITS__REGISTRATIONS_PER_IP_BURST=1000000
      AUTHZ__RATE_LIMITS__REGISTRATIONS_PER_MINUTE=1000000 AUTHZ__RATE_LIMITS__REGISTRATIONS_BURST=1000000)
declare -A rps
for run in off limits limits+xff off-again; do
  case $run in
    off|off-again) start_server "$run" AUTHZ__RATE_LIMITS__ENABLED=false; xff=() ;;
    limits) start_server "$run" "${high[@]}"; xff=() ;;
    limits+xff) start_server "$run" "${high[@]}" AUTHZ__SERVER__TRUSTED_PROXIES=127.0.0.1; xff=(XFF=rotate) ;;
  esac
  wrk_run "$work/$run.wrk" "$CONNECTIONS" "$base/register" BODY_FILE="$work/public.json" "${xff[@]}"
  read -r r p50 p99 total bad < <(summary "$work/$run.wrk")
  rps[$run]=$r
  echo "| $run | $r | $p50 | $p99 | $((total - bad)) | $bad |"
done
echo
echo "limits / off: $(python3 -c "print(round(${rps[limits]} / ((${rps[off]} + ${rps[off-again]}) / 2), 3))"); limits+xff / off: $(python3 -c "print(round(${rps[limits+xff]} / ((${rps[off]} + ${rps[off-again]}) / 2), 3))")"

echo
echo "B. Legitimate reads (GET /register/{id}, $LEGIT_CONNECTIONS connections, a new address each request) during floods ($FLOOD_CONNECTIONS connections, one address), default limits"
echo
start_server flood AUTHZ__SERVER__TRUSTED_PROXIES=127.0.0.1
reg=$(curl -s -H 'Content-Type: application/json' -H 'X-Forwarded-For: 192.0.2.1' --data @"$work/public.json" "$base/register")
# registration_client_uri names the configured public_base_url, not this server's port.
uri="$base/register/$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['client_id'])" "$reg")"
token=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['registration_access_token'])" "$reg")
legit=(METHOD=GET TOKEN="$token" XFF=rotate)

echo "| legitimate reads | requests/s | p50 | p99 | non-2xx | flood requests/s | flood 429s |"
echo "|---|---|---|---|---|---|---|"
# alone_run N: the legitimate reads alone; prints the row and leaves p99 (ms) in $alone_p99.
alone_run() {
  wrk_run "$work/alone$1.wrk" "$LEGIT_CONNECTIONS" "$uri" "${legit[@]}"
  read -r a_rps a_p50 a_p99 _ a_bad < <(summary "$work/alone$1.wrk")
  echo "| alone | $a_rps | $a_p50 | $a_p99 | $a_bad | – | – |"
  alone_p99=$(to_ms "$a_p99")
}
# The machine is shared: each flood run sits between two runs alone, and its p99 is compared
# with their mean.
alone_run 1
before=$alone_p99
fail=0
n=1
for flood in registrations token-guessing; do
  case $flood in
    registrations) fl=(BODY_FILE="$work/public.json" XFF=203.0.113.66); furl="$base/register" ;;
    token-guessing) fl=(METHOD=GET TOKEN=rat_guessguessguessguessguessguessguessguessgu XFF=203.0.113.67); furl=$uri ;;
  esac
  wrk_run "$work/$flood-flood.wrk" "$FLOOD_CONNECTIONS" "$furl" "${fl[@]}" &
  flood_pid=$!
  sleep 0.5
  wrk_run "$work/$flood-legit.wrk" "$LEGIT_CONNECTIONS" "$uri" "${legit[@]}"
  wait "$flood_pid"
  read -r l_rps l_p50 l_p99 _ l_bad < <(summary "$work/$flood-legit.wrk")
  read -r f_rps _ _ f_total f_bad < <(summary "$work/$flood-flood.wrk")
  echo "| during a $flood flood | $l_rps | $l_p50 | $l_p99 | $l_bad | $f_rps | $f_bad of $f_total |"
  n=$((n + 1))
  alone_run "$n"
  ratio=$(python3 -c "print(round($(to_ms "$l_p99") / (($before + $alone_p99) / 2), 2))")
  before=$alone_p99
  echo "|   p99 during / mean p99 alone around it | $ratio | | | | | |"
  python3 -c "import sys; sys.exit(0 if $ratio <= 2.0 else 1)" || { echo "FAIL: a $flood flood raised the legitimate p99 by ${ratio}x (limit 2x)" >&2; fail=1; }
  [ "$l_bad" -eq 0 ] || { echo "FAIL: legitimate reads refused during the $flood flood" >&2; fail=1; }
done
audit_rows=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"select count(*) from audit_events where succeeded = 0\").fetchone()[0])" "$work/flood/authz.sqlite3")
echo
echo "refusal audit rows after the token-guessing flood: $audit_rows"
exit $fail
