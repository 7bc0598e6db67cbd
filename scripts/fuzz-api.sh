#!/usr/bin/env bash
# Schemathesis against the server's own /openapi.json, for a bounded time: every operation is
# called with examples, boundary values (coverage phase) and generated data; the run fails on any
# 5xx answer or any response that does not match its documented schema.
#   - schemathesis is pinned (SCHEMATHESIS_VERSION) and installed into a virtualenv under
#     target/fuzz-venv (PyPI) the first time;
#   - the server is the debug build on a fresh SQLite file, loopback only, port 0;
#   - requests carry an administrator token with every scope, so /admin is exercised beyond 401
#     (the management endpoints then answer 401: their token is another one).
# Environment: FUZZ_SECONDS (120, the time budget of the run), FUZZ_WORKERS (2).
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
FUZZ_SECONDS=${FUZZ_SECONDS:-120}
FUZZ_WORKERS=${FUZZ_WORKERS:-2}
target_dir=${CARGO_TARGET_DIR:-target}
venv=$target_dir/fuzz-venv

if ! "$venv/bin/st" --version 2>/dev/null | grep -qx "st, version $SCHEMATHESIS_VERSION"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi

cargo build -q -p authz-server
binary=$target_dir/debug/authz-server

work=$(mktemp -d /tmp/authz-fuzz-api.XXXXXX)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

export AUTHZ__DATABASE__URL="sqlite://$work/authz.sqlite3" AUTHZ__LOGGING__LEVEL=warn
# The fuzzer sends everything from one address: rate limits would answer most of it 429 and hide
# the handlers from it (they have their own tests, tests/api/rate_limits.rs).
export AUTHZ__RATE_LIMITS__ENABLED=false
# Admin commands refuse a SQLite file that does not exist yet: create it first.
"$binary" migrate >/dev/null 2>&1
admin_token=$("$binary" admin-token create --name fuzz --scope "client:admin user:admin" 2>/dev/null)
AUTHZ__SERVER__BIND=127.0.0.1:0 AUTHZ__SERVER__WORKERS=2 "$binary" >"$work/stdout" 2>"$work/stderr" &
server_pid=$!
for _ in $(seq 100); do grep -q listening "$work/stdout" 2>/dev/null && break; sleep 0.1; done
base=$(grep -o 'http://[0-9.:]*' "$work/stdout" | head -1)
[ -n "$base" ] || { cat "$work/stderr" >&2; exit 1; }

status=0
"$venv/bin/st" run "$base/openapi.json" \
  --checks not_a_server_error,response_schema_conformance \
  --phases examples,coverage,fuzzing \
  --max-time "$FUZZ_SECONDS" \
  --workers "$FUZZ_WORKERS" \
  --request-timeout 10 \
  --header "Authorization: Bearer $admin_token" \
  --no-color || status=$?
# A failure the server itself logged (a 5xx cause) fails the run too; actix-http's own lines
# about requests that are not valid HTTP (it answers those 400) do not.
if grep '"level":"ERROR"' "$work/stderr" | grep -q '"target":"authz_'; then
  echo "fuzz-api: the server logged errors:" >&2
  grep '"level":"ERROR"' "$work/stderr" | grep '"target":"authz_' | head -20 >&2
  status=1
fi
exit "$status"
