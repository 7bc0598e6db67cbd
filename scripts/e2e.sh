#!/usr/bin/env bash
# End-to-end tests: the MCP TypeScript SDK, the MCP Python SDK (through an MCP resource server that
# introspects tokens), the official MCP conformance suite and a headless Chromium, each going through
# /authorize, sign-in, consent and /token of a running authorization server. See tests/e2e/*.
#
#   scripts/e2e.sh                 start the server (SQLite in a temporary folder), make a user and
#                                  the clients, run the four scripts, stop the server
#   E2E_ISSUER=http://127.0.0.1:9400 E2E_USERNAME=alice E2E_PASSWORD=wonderland \
#   E2E_RS_CLIENT_ID=rs E2E_RS_CLIENT_SECRET=rs-secret scripts/e2e.sh
#                                  against a server that is already running (no start, no fixtures:
#                                  the user and the introspection client must exist; the public
#                                  clients are registered by DCR)
#
# Environment (all optional unless said):
#   AUTHZ_SERVER_BIN   the server binary (default: `cargo build -p authz-server --locked`, debug)
#   E2E_ONLY           which scripts, space separated: "ts py conformance browser" (default: all)
#   E2E_USERNAME, E2E_PASSWORD          the user (default e2e and a random password when the
#                                       script starts the server; required with E2E_ISSUER)
#   E2E_RS_CLIENT_ID, E2E_RS_CLIENT_SECRET  the introspection client (required with E2E_ISSUER)
#   E2E_CONFORMANCE_CLIENT_ID  a public client with redirect http://127.0.0.1:PORT/callback (default:
#                              registered with POST /register)
#   E2E_CONFORMANCE_PORT  the suite's callback port (default 3000)
#   E2E_RESOURCE       the RFC 8707 resource the conformance suite asks for (default http://127.0.0.1:8765/mcp)
#   E2E_SCOPES         scopes the Python test's MCP server requires (default: none)
#   E2E_SERVER_ENV     extra KEY=VALUE settings for the server, space separated (AUTHZ__…=…)
#   E2E_SKIP_INSTALL=1 do not install anything (fail instead when something is missing)
# Logs and screenshots: tests/e2e/output/. Exit 0 when every script passed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
E2E=$ROOT/tests/e2e
OUT=$E2E/output
mkdir -p "$OUT/logs"

log() { echo "e2e: $*" >&2; }
die() { echo "e2e: FAILED: $*" >&2; exit 1; }
# After the run has started steps: the summary (with its "N passed, N failed" line), then stop.
fail_run() { STEP_NAMES+=("setup") STEP_RESULTS+=("failed") STEP_TIMES+=("-"); summary; die "$@"; }
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# ------------------------------------------------------------------------------------- steps
# step NAME LIMIT_SECONDS COMMAND...: runs it under `timeout`, output to the terminal and to
# output/logs/NAME.log, and records the result and the time taken for the summary.
STEP_NAMES=() STEP_RESULTS=() STEP_TIMES=()
step() {
  local name=$1 limit=$2 start rc result
  shift 2
  log "── $name (at most ${limit}s): $*"
  start=$(now)
  set +e
  timeout --kill-after=10 "$limit" "$@" 2>&1 | tee "$OUT/logs/$name.log"
  rc=${PIPESTATUS[0]}
  set -e
  case $rc in
    0) result=passed ;;
    124|137) result="failed (timed out after ${limit}s)" ;;
    *) result="failed (exit $rc)" ;;
  esac
  STEP_NAMES+=("$name") STEP_RESULTS+=("$result") STEP_TIMES+=("$(secs "$start" "$(now)")")
  log "── $name: $result in ${STEP_TIMES[-1]}s"
  return "$rc"
}
# A preparation step: its failure stops the run.
must() { step "$@" || { summary; die "$1 failed (log: $OUT/logs/$1.log)"; }; }

summary() {
  local i passed=0 failed=0
  echo
  echo "e2e summary:"
  for i in "${!STEP_NAMES[@]}"; do
    printf '  %-22s %-32s %7ss\n' "${STEP_NAMES[$i]}" "${STEP_RESULTS[$i]}" "${STEP_TIMES[$i]}"
    # Counted: the four scripts, and any preparation step that failed (it stopped the run).
    if [ "${STEP_RESULTS[$i]}" != passed ]; then failed=$((failed + 1))
    else case ${STEP_NAMES[$i]} in ts-sdk-flow|py-sdk-flow|conformance|browser) passed=$((passed + 1)) ;; esac; fi
  done
  echo "e2e: $passed passed, $failed failed"
}

# ------------------------------------------------------------------------------------- install
# Only what is missing; Node 22 for the conformance suite comes from the npm registry through npx.
apt_install() {
  [ -z "${E2E_SKIP_INSTALL:-}" ] || die "missing $* and E2E_SKIP_INSTALL is set"
  log "installing $* with apt-get"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

install_deps() {
  local missing=()
  command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
  command -v python3 >/dev/null 2>&1 || missing+=(python3)
  python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  [ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi

  # The Node scripts need Node >= 20.11 (fetch, getSetCookie, import.meta.dirname); an older one
  # (Debian bookworm has 18) runs them through npx's Node 22 instead.
  if node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=11)?0:1)' 2>/dev/null; then
    NODE=(node)
  else
    log "node $(node --version 2>/dev/null || echo missing) is older than 20.11: the Node scripts run on npx's node@22"
    NODE=(npx -y -p node@22 -- node)
  fi

  local lock_sum
  lock_sum=$(sha256sum "$E2E/package-lock.json" | cut -d' ' -f1)
  if [ "$(cat "$E2E/node_modules/.e2e-lock.sha256" 2>/dev/null)" != "$lock_sum" ]; then
    [ -z "${E2E_SKIP_INSTALL:-}" ] || die "tests/e2e/node_modules is missing or stale and E2E_SKIP_INSTALL is set"
    must npm-ci 300 npm ci --prefix "$E2E" --no-audit --no-fund --prefer-offline
    echo "$lock_sum" >"$E2E/node_modules/.e2e-lock.sha256"
  fi

  local req_sum
  req_sum=$(sha256sum "$E2E/requirements.txt" | cut -d' ' -f1)
  if [ "$(cat "$E2E/.venv/.e2e-requirements.sha256" 2>/dev/null)" != "$req_sum" ]; then
    [ -z "${E2E_SKIP_INSTALL:-}" ] || die "tests/e2e/.venv is missing or stale and E2E_SKIP_INSTALL is set"
    rm -rf "$E2E/.venv"
    must venv 60 python3 -m venv "$E2E/.venv"
    must pip-install 600 "$E2E/.venv/bin/pip" install -q --disable-pip-version-check -r "$E2E/requirements.txt"
    echo "$req_sum" >"$E2E/.venv/.e2e-requirements.sha256"
  fi
  PY=$E2E/.venv/bin/python
}

# ------------------------------------------------------------------------------------- HTTP
# http METHOD URL [JSON_BODY] [BEARER]: prints the body; fails on a status outside 2xx.
http() {
  local method=$1 url=$2 body=${3:-} bearer=${4:-} args=(-sS --max-time 10 -X "$1" -w '\n%{http_code}')
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
  [ -n "$bearer" ] && args+=(-H "Authorization: Bearer $bearer")
  local res status
  res=$(curl "${args[@]}" "$url") || { echo "$method $url: no answer" >&2; return 1; }
  status=${res##*$'\n'}
  res=${res%$'\n'*}
  if [ "${status:0:1}" != 2 ]; then echo "$method $url answered $status: $res" >&2; return 1; fi
  printf '%s' "$res"
}
json() { python3 -c 'import json,sys; v=json.load(sys.stdin)
for k in sys.argv[1].split("."): v=v[k]
print(v)' "$1"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# ------------------------------------------------------------------------------------- server
SERVER_PID= TMP=
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  [ -n "$TMP" ] && [ -f "$TMP/server.log" ] && cp "$TMP/server.log" "$OUT/logs/server.log"
  [ -n "$TMP" ] && rm -rf "$TMP"
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

server_bin() {
  if [ -n "${AUTHZ_SERVER_BIN:-}" ]; then
    [ -x "$AUTHZ_SERVER_BIN" ] || die "AUTHZ_SERVER_BIN=$AUTHZ_SERVER_BIN is not an executable"
    BIN=$AUTHZ_SERVER_BIN
    return
  fi
  must cargo-build 1800 cargo build -p authz-server --locked
  local target
  target=$(cargo metadata --format-version 1 --no-deps | json target_directory)
  BIN=$target/debug/authz-server
}

start_server() {
  server_bin
  TMP=$(mktemp -d /tmp/authz-e2e.XXXXXX)
  local port
  port=$(free_port)
  E2E_ISSUER=http://127.0.0.1:$port
  export AUTHZ__SERVER__BIND=127.0.0.1:$port
  export AUTHZ__SERVER__PUBLIC_BASE_URL=$E2E_ISSUER
  export AUTHZ__DATABASE__URL=sqlite://$TMP/authz.sqlite3
  export AUTHZ__SERVER__WORKERS=2
  export AUTHZ__LOGGING__FORMAT=pretty
  export AUTHZ__LOGGING__LEVEL=${E2E_SERVER_LOG_LEVEL:-info}
  # The server runs on its defaults (any scope, any resource); E2E_SERVER_ENV="KEY=VALUE …" adds
  # settings, e.g. AUTHZ__AUTHORIZATION__RESOURCES=… to try a restricted server.
  local kv
  for kv in ${E2E_SERVER_ENV:-}; do export "${kv?}"; done

  # Migrations first (bounded), so the CLI commands below and the server see the same schema.
  must migrate 60 "$BIN" migrate
  log "starting $BIN on $E2E_ISSUER (database $AUTHZ__DATABASE__URL, log $OUT/logs/server.log)"
  NO_COLOR=1 "$BIN" serve >"$TMP/server.log" 2>&1 &
  SERVER_PID=$!
  must server-ready 30 bash -c 'until curl -sf --max-time 2 "$1/health" >/dev/null; do
      kill -0 "$2" 2>/dev/null || { echo "the server exited:"; tail -n 30 "$3"; exit 1; }; sleep 0.2; done' _ \
    "$E2E_ISSUER" "$SERVER_PID" "$TMP/server.log"
}

# The fixtures a fresh server needs: a user, an introspection client, the conformance suite's client.
make_fixtures() {
  E2E_USERNAME=${E2E_USERNAME:-e2e}
  E2E_PASSWORD=${E2E_PASSWORD:-$(python3 -c 'import secrets; print("pw-" + secrets.token_urlsafe(18))')}

  # `user create` reads the password from standard input (one line).
  must user-create 30 bash -c 'printf "%s\n" "$3" | "$1" user create --username "$2"' _ "$BIN" "$E2E_USERNAME" "$E2E_PASSWORD"

  local admin_token
  admin_token=$("$BIN" admin-token create --name e2e --scope client:admin 2>/dev/null) \
    || fail_run "authz-server admin-token create failed"

  # The resource server of py_sdk_flow.py: a confidential client an administrator allowed to
  # introspect (contract §7), created through the admin API (POST /admin/clients, docs/api.md).
  # Only an administrator can set `allow_introspection`; without it /introspect answers 401.
  local rs rs_settings='{"allow_introspection": true}'
  [ -z "${E2E_RS_SETTINGS:-}" ] || rs_settings=$E2E_RS_SETTINGS
  rs=$(http POST "$E2E_ISSUER/admin/clients" "$(python3 -c 'import json,sys; print(json.dumps({
      "client_id": "e2e-resource-server", "client_name": "e2e: MCP resource server (introspection)",
      "grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_basic",
      "settings": json.loads(sys.argv[1])}))' "$rs_settings")" "$admin_token") \
    || fail_run "could not create the introspection client with POST /admin/clients"
  E2E_RS_CLIENT_ID=$(json client.client_id <<<"$rs")
  E2E_RS_CLIENT_SECRET=$(json client_secret <<<"$rs")
  log "introspection client $E2E_RS_CLIENT_ID created"

  # The conformance suite's public client, registered as any MCP client would (POST /register).
  if [ -z "${E2E_CONFORMANCE_CLIENT_ID:-}" ]; then
    local reg
    reg=$(http POST "$E2E_ISSUER/register" "{\"client_name\":\"e2e: MCP conformance suite\",\"redirect_uris\":[\"http://127.0.0.1:$CONFORMANCE_PORT/callback\"],\"token_endpoint_auth_method\":\"none\",\"grant_types\":[\"authorization_code\",\"refresh_token\"],\"response_types\":[\"code\"]}") \
      || fail_run "could not register the conformance client with POST /register"
    E2E_CONFORMANCE_CLIENT_ID=$(json client_id <<<"$reg")
    log "conformance client $E2E_CONFORMANCE_CLIENT_ID registered"
  fi
}

# ------------------------------------------------------------------------------------- run
RUN_START=$(now)
ONLY=" ${E2E_ONLY:-ts py conformance browser} "
CONFORMANCE_PORT=${E2E_CONFORMANCE_PORT:-3000}
install_deps

if [ -n "${E2E_ISSUER:-}" ]; then
  log "E2E_ISSUER=$E2E_ISSUER: using a running server (no start, no fixtures)"
  for v in E2E_USERNAME E2E_PASSWORD; do [ -n "${!v:-}" ] || die "$v is needed with E2E_ISSUER"; done
  if [[ $ONLY == *" py "* ]]; then
    for v in E2E_RS_CLIENT_ID E2E_RS_CLIENT_SECRET; do [ -n "${!v:-}" ] || die "$v is needed with E2E_ISSUER (the introspection client)"; done
  fi
else
  start_server
  make_fixtures
fi

# The server must speak the authorization contract before anything else is worth running.
metadata=$(http GET "$E2E_ISSUER/.well-known/oauth-authorization-server") || fail_run "no metadata at $E2E_ISSUER"
json authorization_endpoint <<<"$metadata" >/dev/null 2>&1 \
  || fail_run "the metadata at $E2E_ISSUER has no authorization_endpoint: this server has no authorization endpoints yet"

export E2E_USERNAME E2E_PASSWORD E2E_RS_CLIENT_ID E2E_RS_CLIENT_SECRET E2E_SCOPES
failed=0
if [[ $ONLY == *" ts "* ]]; then
  step ts-sdk-flow 90 "${NODE[@]}" "$E2E/ts-sdk-flow.mjs" "$E2E_ISSUER" || failed=1
fi
if [[ $ONLY == *" py "* ]]; then
  step py-sdk-flow 120 "$PY" "$E2E/py_sdk_flow.py" --issuer "$E2E_ISSUER" || failed=1
fi
if [[ $ONLY == *" conformance "* ]]; then
  step conformance 300 "${NODE[@]}" "$E2E/conformance.mjs" "$E2E_ISSUER" --port "$CONFORMANCE_PORT" \
    --resource "${E2E_RESOURCE:-http://127.0.0.1:8765/mcp}" --out "$OUT/conformance" \
    ${E2E_CONFORMANCE_CLIENT_ID:+--client-id "$E2E_CONFORMANCE_CLIENT_ID"} || failed=1
fi
if [[ $ONLY == *" browser "* ]]; then
  step browser 120 "$PY" "$E2E/browser.py" --issuer "$E2E_ISSUER" --out "$OUT/browser" || failed=1
fi

summary
log "total $(secs "$RUN_START" "$(now)")s; logs in $OUT/logs"
if [ -n "$SERVER_PID" ] && ! kill -0 "$SERVER_PID" 2>/dev/null; then log "the server died during the run: see $OUT/logs/server.log"; failed=1; fi
exit "$failed"
