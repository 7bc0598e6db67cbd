#!/usr/bin/env bash
# Load test of the token endpoint and introspection against the release server, on SQLite or
# PostgreSQL, each figure next to GET /health measured in the same run (and introspection next to
# GET /register/{id}, the RFC 7592 read, as in scripts/loadtest-read.sh).
#   scripts/loadtest-tokens.sh sqlite|postgres
# PostgreSQL comes from TEST_DATABASE_URL, or a throwaway cluster (scripts/with-postgres.sh).
#
# Everything the server is asked for is obtained the real way: a user (`authz-server user create`),
# clients (POST /register, POST /admin/clients with a token from `authz-server admin-token create`),
# codes through /authorize → /signin → /consent (scripts/token_flow.py), refresh tokens by
# exchanging them at /token. Runs, each wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency:
#   1. GET /health, then GET /register/{id} (10,000 clients seeded by scripts/seed_clients.py)
#   2. refresh_token grant, public client, rotation: each chain follows its own rotated token
#      (scripts/wrk/refresh_chain.lua, one seeded refresh token per connection)
#   3. authorization_code grant: one fresh code per request (scripts/wrk/exchange_code.lua, CODES
#      codes made beforehand), for EXCHANGE_DURATION: the codes must outlast it (checked)
#   4. POST /introspect of a JWT by a confidential client (client_secret_basic)
#   5. refresh_token grant, confidential client (client_secret_post, rotation on), with the
#      verified-secret cache (default 60 s), then after a restart with
#      AUTHZ__TOKENS__VERIFIED_SECRET_CACHE_SECS=0 (GET /health measured again on that server)
#   6. FLOWS whole flows in sequence (new browser each: authorize, sign-in with its Argon2id
#      verification, consent, token): p50 / p99 latency
# Environment: DURATION (15s), CONNECTIONS (64), THREADS (2), WORKERS (2), CODES (30000),
# EXCHANGE_DURATION (5s),
# FLOWS (200), CLIENTS (10000). PROFILE=DIR: record each wrk run's server with `perf record`
# (PERF_ARGS, default "-F 999 --call-graph dwarf,16384") into DIR/NN-name.data.
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
CODES=${CODES:-30000}
EXCHANGE_DURATION=${EXCHANGE_DURATION:-5s}
FLOWS=${FLOWS:-200}
CLIENTS=${CLIENTS:-10000}
export THREADS
target=${CARGO_TARGET_DIR:-target}
command -v wrk >/dev/null || { echo "loadtest-tokens: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
cargo build --release -q -p authz-server
bin="$target/release/authz-server"

work=$(mktemp -d /tmp/authz-loadtokens.XXXXXX)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

if [ "$backend" = sqlite ]; then
  db="$work/authz.sqlite3"; url="sqlite://$db"; seed_target="$db"
else
  name="authz_load_tokens"
  psql -q "$TEST_DATABASE_URL" -c "DROP DATABASE IF EXISTS $name" -c "CREATE DATABASE $name" >/dev/null
  url="${TEST_DATABASE_URL%/*}/$name"; seed_target="$url"
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
export AUTHZ__DATABASE__URL="$url" AUTHZ__LOGGING__LEVEL=warn AUTHZ__SERVER__WORKERS="$WORKERS" \
  AUTHZ__RATE_LIMITS__ENABLED=false \
  AUTHZ__SERVER__BIND="127.0.0.1:$port" AUTHZ__SERVER__PUBLIC_BASE_URL="$base" \
  AUTHZ__KEYS__KEY_ENCRYPTION_KEY_FILE="$work/authz.kek" \
  AUTHZ__AUTHORIZATION__CODE_LIFETIME_SECS=600 # the longest allowed: CODES are made before the run
export PERF_USERNAME=perf-user PERF_PASSWORD="perf user password"

"$bin" migrate >/dev/null
python3 scripts/seed_clients.py "$backend" "$seed_target" "$CLIENTS" >/dev/null
echo "$PERF_PASSWORD" | "$bin" user create --username "$PERF_USERNAME" >/dev/null
admin_token=$("$bin" admin-token create --name loadtest --scope client:admin 2>/dev/null)

start_server() { # [VAR=value ...]
  env "$@" "$bin" >"$work/stdout" 2>"$work/stderr" &
  server_pid=$!
  for _ in $(seq 150); do curl -fs "$base/health" >/dev/null 2>&1 && return 0; sleep 0.1; done
  cat "$work/stderr" >&2; exit 1
}
stop_server() { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=; }
server_cpu_ticks() { awk '{print $14 + $15}' "/proc/$server_pid/stat"; } # user + system, 1/100 s

wrk_run() { # URL [lua] -> "rps p50 p99 non2xx requests server-CPU-µs-per-request"
  local out="$work/wrk.txt" before after perf_pid=
  local runs; runs=$(( $(cat "$work/runs" 2>/dev/null || echo 0) + 1 )); echo "$runs" >"$work/runs" # (runs in a subshell)
  if [ -n "${PROFILE:-}" ]; then
    mkdir -p "$PROFILE"
    # shellcheck disable=SC2086
    perf record ${PERF_ARGS:--F 999 --call-graph dwarf,16384} -p "$server_pid" \
      -o "$PROFILE/$(printf %02d $runs)-$(basename "${2:-health}" .lua).data" 2>/dev/null &
    perf_pid=$!
    sleep 1
  fi
  before=$(server_cpu_ticks)
  if [ -n "${2:-}" ]; then wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$2" "$1" >"$out";
  else wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$1" >"$out"; fi
  after=$(server_cpu_ticks)
  if [ -n "$perf_pid" ]; then kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true; fi
  cat "$out" >>"$work/wrk-all.txt"
  local non2xx; non2xx=$(awk '/Non-2xx/ {print $5}' "$out")
  local errors; errors=$(awk '/Socket errors/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$out")
  local requests; requests=$(awk '/requests in/ {print $1}' "$out")
  echo "$(awk '/^Requests\/sec/ {print $2}' "$out") $(awk '$1=="50%" {print $2}' "$out") $(awk '$1=="99%" {print $2}' "$out") $(( ${non2xx:-0} + ${errors:-0} )) $requests $(( (after - before) * 10000 / requests ))"
}

sql() { # one row, fields separated by spaces
  if [ "$backend" = sqlite ]; then python3 -c "import sqlite3,sys; print(*sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone())" "$db" "$1";
  else psql -At -F ' ' "$url" -c "$1"; fi
}
json_field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d' + sys.argv[1]))" "$1"; }

rows=()
row() { # label rps p50 p99 bad cpu health_rps
  rows+=("| $1 | $2 | $3 | $4 | $5 | $(python3 -c "print(round($2 / $7, 3))") | $6 µs |")
}

start_server
# The clients: a public one (an MCP client registering itself), a confidential one registering
# itself with client_secret_post, and a resource server an administrator allowed to introspect.
public_id=$(curl -fsS -X POST "$base/register" -H 'Content-Type: application/json' -d '{"client_name":"Claude Code","redirect_uris":["http://127.0.0.1:53682/callback"],"token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"],"response_types":["code"]}' | json_field '["client_id"]')
conf=$(curl -fsS -X POST "$base/register" -H 'Content-Type: application/json' -d '{"client_name":"A web app","redirect_uris":["http://127.0.0.1:53682/callback"],"token_endpoint_auth_method":"client_secret_post","grant_types":["authorization_code","refresh_token"],"response_types":["code"]}')
conf_id=$(echo "$conf" | json_field '["client_id"]'); conf_secret=$(echo "$conf" | json_field '["client_secret"]')
rs=$(curl -fsS -X POST "$base/admin/clients" -H "Authorization: Bearer $admin_token" -H 'Content-Type: application/json' -d '{"client_name":"files MCP server","redirect_uris":["https://mcp.example.com/unused"],"token_endpoint_auth_method":"client_secret_basic","grant_types":["client_credentials"],"settings":{"allow_introspection":true}}')
rs_id=$(echo "$rs" | json_field '["client"]["client_id"]'); rs_secret=$(echo "$rs" | json_field '["client_secret"]')
access_token=$(python3 scripts/token_flow.py access-token "$base" "$public_id")
active=$(curl -fsS -u "$rs_id:$rs_secret" -d "token=$access_token" "$base/introspect" | json_field '["active"]')
[ "$active" = True ] || { echo "loadtest-tokens: the introspected token is not active" >&2; exit 1; }

echo "machine: $(nproc) cores; wrk -t$THREADS -c$CONNECTIONS -d$DURATION; server workers $WORKERS; backend $backend; $CLIENTS clients"
read -r h_rps h_p50 h_p99 h_bad _ h_cpu < <(wrk_run "$base/health")
rows+=("| GET /health (baseline) | $h_rps | $h_p50 | $h_p99 | $h_bad | 1 | $h_cpu µs |")
read -r rd_rps rd_p50 rd_p99 rd_bad _ rd_cpu < <(CLIENTS=$CLIENTS wrk_run "$base" scripts/wrk/read_client.lua)
row "GET /register/{id}" "$rd_rps" "$rd_p50" "$rd_p99" "$rd_bad" "$rd_cpu" "$h_rps"

python3 scripts/token_flow.py refresh-tokens "$base" "$public_id" "$CONNECTIONS" >"$work/public.rt"
read -r p_rps p_p50 p_p99 p_bad p_n p_cpu < <(TOKENS_FILE="$work/public.rt" CLIENT_ID="$public_id" wrk_run "$base/token" scripts/wrk/refresh_chain.lua)
row "refresh, public client, rotation ($p_n requests)" "$p_rps" "$p_p50" "$p_p99" "$p_bad" "$p_cpu" "$h_rps"
# Each chain must have stayed one chain: per family of the public client exactly one token not
# rotated out (a token presented twice within tokens.refresh_reuse_grace_secs would get a second
# live successor, still answered 200), no family revoked, and as many rotations as 200s (plus
# the few still in flight when wrk stopped).
chains=$(sql "SELECT count(*), coalesce(sum(CASE WHEN live = 1 THEN 1 ELSE 0 END), 0), coalesce(sum(n) - count(*), 0), coalesce(sum(revoked), 0) FROM (SELECT f.family_id, sum(CASE WHEN t.rotated_at IS NULL THEN 1 ELSE 0 END) AS live, count(*) AS n, max(CASE WHEN f.revoked_at IS NULL THEN 0 ELSE 1 END) AS revoked FROM refresh_families f JOIN refresh_tokens t ON t.family_id = f.family_id WHERE f.client_id = '$public_id' GROUP BY f.family_id) AS x")
read -r ch_families ch_single ch_rotations ch_revoked <<<"$chains"
if [ "$ch_families" -ne $((CONNECTIONS + 1)) ] || [ "$ch_single" -ne "$ch_families" ] || [ "$ch_revoked" -ne 0 ] \
   || [ "$ch_rotations" -lt "$p_n" ] || [ "$ch_rotations" -gt $((p_n + CONNECTIONS)) ]; then
  echo "loadtest-tokens: chains broken: families, single-chain families, rotations, revoked = $chains; wrk answered $p_n" >&2; exit 1
fi

python3 scripts/token_flow.py codes "$base" "$public_id" "$CODES" >"$work/codes"
read -r c_rps c_p50 c_p99 c_bad c_n c_cpu < <(DURATION=$EXCHANGE_DURATION CODES_FILE="$work/codes" CLIENT_ID="$public_id" wrk_run "$base/token" scripts/wrk/exchange_code.lua)
if [ "$c_n" -ge $((CODES - CONNECTIONS)) ]; then
  echo "loadtest-tokens: the $CODES codes ran out before $EXCHANGE_DURATION; raise CODES or shorten EXCHANGE_DURATION" >&2; exit 1
fi
row "authorization_code exchange ($c_n of $CODES codes, $EXCHANGE_DURATION)" "$c_rps" "$c_p50" "$c_p99" "$c_bad" "$c_cpu" "$h_rps"

read -r i_rps i_p50 i_p99 i_bad _ i_cpu < <(TOKEN="$access_token" CLIENT_ID="$rs_id" CLIENT_SECRET="$rs_secret" wrk_run "$base/introspect" scripts/wrk/introspect.lua)
row "POST /introspect (JWT, client_secret_basic)" "$i_rps" "$i_p50" "$i_p99" "$i_bad" "$i_cpu" "$h_rps"

python3 scripts/token_flow.py refresh-tokens "$base" "$conf_id" "$CONNECTIONS" --secret "$conf_secret" >"$work/conf.rt"
read -r k_rps k_p50 k_p99 k_bad k_n k_cpu < <(TOKENS_FILE="$work/conf.rt" CLIENT_ID="$conf_id" CLIENT_SECRET="$conf_secret" wrk_run "$base/token" scripts/wrk/refresh_chain.lua)
row "refresh, confidential (client_secret_post), secret cache 60 s" "$k_rps" "$k_p50" "$k_p99" "$k_bad" "$k_cpu" "$h_rps"

read -r f_p50 f_p99 f_mean f_max < <(python3 scripts/token_flow.py flows "$base" "$public_id" "$FLOWS")
stop_server

start_server AUTHZ__TOKENS__VERIFIED_SECRET_CACHE_SECS=0
read -r h2_rps h2_p50 h2_p99 h2_bad _ h2_cpu < <(wrk_run "$base/health")
rows+=("| GET /health (baseline, server restarted with the cache off) | $h2_rps | $h2_p50 | $h2_p99 | $h2_bad | 1 | $h2_cpu µs |")
python3 scripts/token_flow.py refresh-tokens "$base" "$conf_id" "$CONNECTIONS" --secret "$conf_secret" >"$work/conf0.rt"
read -r z_rps z_p50 z_p99 z_bad z_n z_cpu < <(TOKENS_FILE="$work/conf0.rt" CLIENT_ID="$conf_id" CLIENT_SECRET="$conf_secret" wrk_run "$base/token" scripts/wrk/refresh_chain.lua)
row "refresh, confidential, VERIFIED_SECRET_CACHE_SECS=0 ($z_n requests)" "$z_rps" "$z_p50" "$z_p99" "$z_bad" "$z_cpu" "$h2_rps"
stop_server

echo
echo "| run | requests/s | p50 | p99 | non-2xx + socket errors | / health | server CPU per request |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
echo "public refresh chains: $ch_families families (64 + the introspected token's), each one chain, none revoked; $ch_rotations rotations for $p_n answers"
echo "introspection / GET /register/{id}: $(python3 -c "print(round($i_rps / $rd_rps, 3))")"
echo "whole flow ($FLOWS in sequence, authorize → sign-in → consent → token): p50 $f_p50 ms, p99 $f_p99 ms, mean $f_mean ms, max $f_max ms"
bad=$((rd_bad + p_bad + c_bad + i_bad + k_bad + z_bad))
[ "$bad" -eq 0 ] || { echo "loadtest-tokens: $bad failed requests (see above); a failed rotation breaks its chain" >&2; exit 1; }
