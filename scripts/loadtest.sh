#!/usr/bin/env bash
# Load test of the release server on a fresh SQLite database, with wrk on this machine.
#   1. GET /health                      the server's cheapest endpoint (baseline)
#   2. POST /register, public client    no secret: JSON + randomness + one SQLite transaction
#   3. POST /register, confidential     bounded by one Argon2id hash per request
# Before and after (3) it times one Argon2id hash on one thread, so (3) is reported as a fraction
# of cores / hash time measured in the same run. After each registration run it checks that the
# database holds at least as many clients as wrk counted 201s (every acknowledged one is stored).
# Environment: DURATION (15s), CONNECTIONS (64), THREADS (2), WORKERS (server workers, 2).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-15s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
WORKERS=${WORKERS:-2}
command -v wrk >/dev/null || { echo "loadtest: wrk is not installed (apt-get install wrk)" >&2; exit 1; }

cargo build --release -q -p authz-server
cargo build --release -q -p authz-domain --example hash_time

work=$(mktemp -d /tmp/authz-loadtest.XXXXXX)
db="$work/authz.sqlite3"
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

AUTHZ__DATABASE__URL="sqlite://$db" AUTHZ__SERVER__BIND=127.0.0.1:0 AUTHZ__SERVER__WORKERS="$WORKERS" \
  AUTHZ__RATE_LIMITS__ENABLED=false \
  AUTHZ__LOGGING__LEVEL=warn target/release/authz-server >"$work/stdout" 2>"$work/stderr" &
server_pid=$!
for _ in $(seq 100); do grep -q listening "$work/stdout" 2>/dev/null && break; sleep 0.1; done
base=$(grep -o 'http://[0-9.:]*' "$work/stdout" | head -1)
[ -n "$base" ] || { cat "$work/stderr" >&2; exit 1; }

count_clients() { python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from clients').fetchone()[0])" "$db"; }

cat >"$work/public.json" <<'JSON'
{"client_name":"Claude Code","redirect_uris":["http://localhost:53682/callback"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none"}
JSON
cat >"$work/confidential.json" <<'JSON'
{"client_name":"Claude","redirect_uris":["https://claude.ai/api/mcp/auth_callback"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"client_secret_post"}
JSON

# run NAME METHOD PATH [BODY_FILE] -> prints "rps p50 p99 ok non2xx"
run() {
  local name=$1 path=$2 body=${3:-}
  local out="$work/$name.wrk"
  if [ -n "$body" ]; then
    BODY_FILE="$body" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s scripts/wrk/register.lua "$base$path" >"$out"
  else
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$base$path" >"$out"
  fi
  local rps p50 p99 total non2xx
  rps=$(awk '/^Requests\/sec/ {print $2}' "$out")
  p50=$(awk '$1=="50%" {print $2}' "$out")
  p99=$(awk '$1=="99%" {print $2}' "$out")
  total=$(awk '/requests in/ {print $1}' "$out")
  non2xx=$(awk '/Non-2xx/ {print $5}' "$out"); non2xx=${non2xx:-0}
  echo "$rps $p50 $p99 $((total - non2xx)) $non2xx"
}

cores=$(nproc)
echo "machine: $cores cores; wrk -t$THREADS -c$CONNECTIONS -d$DURATION; server workers $WORKERS; SQLite WAL synchronous=NORMAL"
read -r h_rps h_p50 h_p99 _ _ < <(run health /health)

before=$(count_clients)
read -r p_rps p_p50 p_p99 p_ok p_bad < <(run public /register "$work/public.json")
sleep 1
after=$(count_clients)
p_stored=$((after - before))

hash_ms_before=$(target/release/examples/hash_time 30)
before=$after
read -r c_rps c_p50 c_p99 c_ok c_bad < <(run confidential /register "$work/confidential.json")
sleep 3
after=$(count_clients)
c_stored=$((after - before))
sleep 3 # let the server finish the hashes still queued when wrk stopped
hash_ms_after=$(target/release/examples/hash_time 30)
hash_ms=$(python3 -c "print(round(($hash_ms_before + $hash_ms_after) / 2, 3))")
ceiling=$(python3 -c "print(round($cores / ($hash_ms / 1000), 1))")
fraction=$(python3 -c "print(round($c_rps / $ceiling, 3))")

cat <<TABLE

| run | requests/s | p50 | p99 | 201s | stored | non-2xx |
|---|---|---|---|---|---|---|
| GET /health (baseline) | $h_rps | $h_p50 | $h_p99 | – | – | – |
| POST /register, public client | $p_rps | $p_p50 | $p_p99 | $p_ok | $p_stored | $p_bad |
| POST /register, confidential client | $c_rps | $c_p50 | $c_p99 | $c_ok | $c_stored | $c_bad |

public registration / health: $(python3 -c "print(round($p_rps / $h_rps, 3))")
one Argon2id hash (default cost, one thread): ${hash_ms} ms (before ${hash_ms_before}, after ${hash_ms_after})
confidential ceiling = cores / hash time = $ceiling requests/s; measured fraction of it: $fraction
TABLE

fail=0
[ "$p_stored" -ge "$p_ok" ] || { echo "LOST: $p_ok public 201s but only $p_stored stored" >&2; fail=1; }
[ "$c_stored" -ge "$c_ok" ] || { echo "LOST: $c_ok confidential 201s but only $c_stored stored" >&2; fail=1; }
[ "$p_bad" -eq 0 ] && [ "$c_bad" -eq 0 ] || { echo "non-2xx responses under load" >&2; fail=1; }
exit $fail
