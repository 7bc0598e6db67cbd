#!/usr/bin/env bash
# Runs each short-lived command (migrate, admin-token create|list|revoke) N times against
# PostgreSQL and counts abnormal exits (a signal such as SIGSEGV, or any non-zero status).
# Usage: scripts/with-postgres.sh scripts/exit-crash-test.sh [N]   (default 200; needs a built binary,
# AUTHZ_BIN overrides target/debug/authz-server).
set -euo pipefail
n=${1:-200}
bin=${AUTHZ_BIN:-${CARGO_TARGET_DIR:-target}/debug/authz-server}
: "${TEST_DATABASE_URL:?run through scripts/with-postgres.sh or set TEST_DATABASE_URL}"
db="authz_exit_$$"
psql -q "$TEST_DATABASE_URL" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
trap 'psql -q "$TEST_DATABASE_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
export AUTHZ__DATABASE__URL="${TEST_DATABASE_URL%/*}/$db"
export AUTHZ__LOGGING__LEVEL=error
export AUTHZ__KEYS__KEY_ENCRYPTION_KEY=${AUTHZ__KEYS__KEY_ENCRYPTION_KEY:-$(head -c 32 /dev/urandom | basenc --base64url)}
crashes=0 runs=0
run() {
  local status=0
  "$bin" "$@" >/dev/null 2>/tmp/exit-crash-test.$$ || status=$?
  runs=$((runs + 1))
  if [ "$status" -ne 0 ]; then
    crashes=$((crashes + 1))
    echo "run $runs: \`$*\` exited with status $status$([ "$status" -gt 128 ] && echo " (signal $((status - 128)))")" >&2
    tail -3 /tmp/exit-crash-test.$$ >&2
  fi
}
start=$(date +%s)
for i in $(seq 1 "$n"); do
  run migrate
  run admin-token create --name "exit-test-$i" --scope client:read
  run admin-token list
  run admin-token revoke "exit-test-$i"
done
rm -f /tmp/exit-crash-test.$$
echo "exit-crash-test: $runs runs ($n of each of 4 commands) in $(( $(date +%s) - start )) s, $crashes abnormal exits"
[ "$crashes" -eq 0 ]
