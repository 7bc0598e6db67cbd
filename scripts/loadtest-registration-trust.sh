#!/usr/bin/env bash
# What each registration-trust control costs on POST /register (issue 10), in one run against one
# release server on a fresh SQLite database, with wrk on this machine:
#   1. public registration, open, no Idempotency-Key            (baseline)
#   2. the same with a new Idempotency-Key per request           (in-flight insert + sealed answer)
#   3. the same with one Idempotency-Key for all requests        (replays: a read and an unseal)
#   4. the same with an initial access token (unlimited uses)    (token lookup + spend in the tx)
#   5. initial access token and a new Idempotency-Key
# The baseline runs first and again last, so drift during the run shows.
# Then the issue's admin-page example: GET /admin/clients/{id} of one client before and after
# FLOOD failed RFC 7592 guesses against it (each adds an audit row naming the client).
# Environment: DURATION (10s), CONNECTIONS (32), THREADS (2), WORKERS (server workers, 2),
# FLOOD (20000).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
WORKERS=${WORKERS:-2}
FLOOD=${FLOOD:-20000}
command -v wrk >/dev/null || { echo "loadtest: wrk is not installed (apt-get install wrk)" >&2; exit 1; }

cargo build --release -q -p authz-server

work=$(mktemp -d /tmp/authz-loadtest-trust.XXXXXX)
db="$work/authz.sqlite3"
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

export AUTHZ__DATABASE__URL="sqlite://$db" AUTHZ__LOGGING__LEVEL=warn
AUTHZ__SERVER__BIND=127.0.0.1:0 AUTHZ__SERVER__WORKERS="$WORKERS" \
  target/release/authz-server >"$work/stdout" 2>"$work/stderr" &
server_pid=$!
for _ in $(seq 100); do grep -q listening "$work/stdout" 2>/dev/null && break; sleep 0.1; done
base=$(grep -o 'http://[0-9.:]*' "$work/stdout" | head -1)
[ -n "$base" ] || { cat "$work/stderr" >&2; exit 1; }

iat=$(target/release/authz-server initial-access-token create --expires-in 1h --description loadtest 2>/dev/null)
admin=$(target/release/authz-server admin-token create --name loadtest --scope client:admin 2>/dev/null)

cat >"$work/public.json" <<'JSON'
{"client_name":"Claude Code","redirect_uris":["http://localhost:53682/callback"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none"}
JSON

# run NAME [env...] -> prints "rps p50 p99 non2xx"
run() {
  local name=$1; shift
  local out="$work/$name.wrk"
  env BODY_FILE="$work/public.json" "$@" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency \
    -s scripts/wrk/register_trust.lua "$base/register" >"$out"
  local rps p50 p99 non2xx
  rps=$(awk '/^Requests\/sec/ {print $2}' "$out")
  p50=$(awk '$1=="50%" {print $2}' "$out")
  p99=$(awk '$1=="99%" {print $2}' "$out")
  non2xx=$(awk '/Non-2xx/ {print $5}' "$out"); non2xx=${non2xx:-0}
  echo "$rps $p50 $p99 $non2xx"
}

echo "machine: $(nproc) cores; wrk -t$THREADS -c$CONNECTIONS -d$DURATION; server workers $WORKERS; SQLite WAL synchronous=NORMAL"
read -r b1_rps b1_p50 b1_p99 b1_bad < <(run baseline1)
read -r ku_rps ku_p50 ku_p99 ku_bad < <(run unique KEY_MODE=unique)
read -r ks_rps ks_p50 ks_p99 ks_bad < <(run same KEY_MODE=same)
read -r ia_rps ia_p50 ia_p99 ia_bad < <(run iat IAT="$iat")
read -r ik_rps ik_p50 ik_p99 ik_bad < <(run iatkey IAT="$iat" KEY_MODE=unique)
read -r b2_rps b2_p50 b2_p99 b2_bad < <(run baseline2)

# The admin page of a flooded client.
client=$(curl -sS -X POST "$base/register" -H 'Content-Type: application/json' --data @"$work/public.json" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])')
cat >"$work/admin_get.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $admin"
LUA
admin_read() {
  wrk -t1 -c1 -d5s --latency -s "$work/admin_get.lua" "$base/admin/clients/$client" >"$work/admin.wrk"
  awk '$1=="50%" {p50=$2} $1=="99%" {p99=$2} /^Requests\/sec/ {rps=$2} END {print rps, p50, p99}' "$work/admin.wrk"
}
read -r a0_rps a0_p50 a0_p99 < <(admin_read)
python3 - "$base" "$client" "$FLOOD" <<'PY'
import http.client, sys, urllib.parse
base, client, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
u = urllib.parse.urlparse(base)
c = http.client.HTTPConnection(u.hostname, u.port)
for i in range(n):
    c.request("GET", f"/register/{client}", headers={"Authorization": f"Bearer rat_guess{i}"})
    r = c.getresponse(); r.read()
    assert r.status == 401, r.status
PY
sleep 1
rows=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from audit_events where client_id = ?', (sys.argv[2],)).fetchone()[0])" "$db" "$client")
read -r a1_rps a1_p50 a1_p99 < <(admin_read)

pct() { python3 -c "print(f'{($1 / (($2 + $3) / 2) - 1) * 100:+.1f}%')"; }
cat <<TABLE

| POST /register (public client) | requests/s | vs baseline | p50 | p99 | non-2xx |
|---|---|---|---|---|---|
| open, no key (baseline, first) | $b1_rps | – | $b1_p50 | $b1_p99 | $b1_bad |
| open, new Idempotency-Key each | $ku_rps | $(pct "$ku_rps" "$b1_rps" "$b2_rps") | $ku_p50 | $ku_p99 | $ku_bad |
| open, one Idempotency-Key (replays) | $ks_rps | $(pct "$ks_rps" "$b1_rps" "$b2_rps") | $ks_p50 | $ks_p99 | $ks_bad |
| initial access token | $ia_rps | $(pct "$ia_rps" "$b1_rps" "$b2_rps") | $ia_p50 | $ia_p99 | $ia_bad |
| initial access token + new key each | $ik_rps | $(pct "$ik_rps" "$b1_rps" "$b2_rps") | $ik_p50 | $ik_p99 | $ik_bad |
| open, no key (baseline, last) | $b2_rps | – | $b2_p50 | $b2_p99 | $b2_bad |

GET /admin/clients/{id} (one connection): before the flood p50 $a0_p50 p99 $a0_p99 ($a0_rps/s);
after $FLOOD failed guesses ($rows audit rows name the client) p50 $a1_p50 p99 $a1_p99 ($a1_rps/s)
TABLE
