#!/usr/bin/env bash
# Slow clients against a server limited to 256 file descriptors (ulimit -n 256), twice:
#   before: no body deadline and no connection cap in effect (body_read_timeout_secs = 3600,
#           max_connections = 1000000: what the server did before these settings existed)
#   after:  the defaults (body_read_timeout_secs = 10, max_connections derived from the limit)
# In each, scripts/slow_clients.py opens SLOW connections (300) that send a head and no body, and
# probes GET /health once a second; it prints how many probes were served (while the slow clients
# are there) and how fast. Then the same with RECONNECT slow clients, which open a new connection
# as soon as the server closes one. The
# server's "Too many open files" errors are counted from its log. Bounded: DURATION seconds (30)
# per run, loopback only. Environment: SLOW (300), DURATION (30), NOFILE (256), TRICKLE (set: the
# slow clients send one byte a second instead of nothing).
set -euo pipefail
cd "$(dirname "$0")/.."

SLOW=${SLOW:-300}
RECONNECT=
DURATION=${DURATION:-30}
NOFILE=${NOFILE:-256}

# The debug build: these figures are about availability, not speed.
cargo build -q -p authz-server
binary=${CARGO_TARGET_DIR:-target}/debug/authz-server

work=$(mktemp -d /tmp/authz-loadtest-slow.XXXXXX)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

run() {
  local name=$1; shift
  rm -f "$work"/authz.sqlite3* "$work/stdout" "$work/stderr"
  # The server alone gets the low limit; the load generator keeps the shell's.
  (ulimit -n "$NOFILE" && exec env "$@" AUTHZ__DATABASE__URL="sqlite://$work/authz.sqlite3" \
    AUTHZ__SERVER__BIND=127.0.0.1:0 AUTHZ__SERVER__WORKERS=2 AUTHZ__LOGGING__LEVEL=warn \
    "$binary" >"$work/stdout" 2>"$work/stderr") &
  server_pid=$!
  for _ in $(seq 100); do grep -q listening "$work/stdout" 2>/dev/null && break; sleep 0.1; done
  local base
  base=$(grep -o 'http://[0-9.:]*' "$work/stdout" | head -1)
  [ -n "$base" ] || { cat "$work/stderr" >&2; exit 1; }
  local figures
  figures=$(python3 scripts/slow_clients.py "$base" --slow "$SLOW" --duration "$DURATION" ${TRICKLE:+--trickle} ${RECONNECT:+--reconnect})
  local emfile
  emfile=$(cat "$work/stdout" "$work/stderr" | grep -c 'Too many open files' || true)
  kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true; server_pid=
  printf '%-18s %s emfile_errors=%s\n' "$name" "$figures" "$emfile"
}

echo "ulimit -n $NOFILE on the server, $SLOW slow clients${TRICKLE:+ (trickling)}, ${DURATION}s each"
before=(AUTHZ__SERVER__BODY_READ_TIMEOUT_SECS=3600 AUTHZ__SERVER__MAX_CONNECTIONS=1000000)
RECONNECT= run before "${before[@]}"
RECONNECT= run after
RECONNECT=1 run "before, reconnect" "${before[@]}"
RECONNECT=1 run "after, reconnect"
