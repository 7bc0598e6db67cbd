#!/usr/bin/env bash
# Outage test: a real PostgreSQL is stopped and started again under bounded load (POST /register
# from CONCURRENCY clients). Checks that every request is answered within the bound
# (database.connect_timeout_secs + 1 s): 201, or 503 JSON `temporarily_unavailable` with
# Retry-After; that every acknowledged (201) client is in the database afterwards; and it counts
# orphans (clients stored whose 201 never reached a client). Run it through with-postgres.sh, which
# provides the cluster and how to stop it:
#   scripts/with-postgres.sh scripts/outage-test.sh          (make outage-test)
# Environment: CONNECT_TIMEOUT (2 s), CONCURRENCY (16), BEFORE (3 s), DOWN (6 s), AFTER (5 s),
# GIVE_UP (seconds a client waits before giving up; default 3 × the bound). With GIVE_UP below the
# bound the run measures orphans left by clients that gave up (and fails the "answered" check).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${TEST_PG_CTL:?run through scripts/with-postgres.sh (it exports TEST_PG_CTL, TEST_PG_DATA and TEST_PG_OPTS)}"
CONNECT_TIMEOUT=${CONNECT_TIMEOUT:-2}
CONCURRENCY=${CONCURRENCY:-16}
BEFORE=${BEFORE:-3} DOWN=${DOWN:-6} AFTER=${AFTER:-5}
bin=${AUTHZ_BIN:-${CARGO_TARGET_DIR:-target}/debug/authz-server}
[ -x "$bin" ] || cargo build -q -p authz-server

pg() { if [ "${TEST_PG_AS_POSTGRES:-0}" != 0 ]; then runuser -u postgres -- "$TEST_PG_CTL" "$@"; else "$TEST_PG_CTL" "$@"; fi; }

work=$(mktemp -d /tmp/authz-outage.XXXXXX)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  pg -D "$TEST_PG_DATA" status >/dev/null 2>&1 || pg -D "$TEST_PG_DATA" -l "$TEST_PG_DATA/../server.log" -o "$TEST_PG_OPTS" -w start >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

db=authz_outage_$$
psql -q "$TEST_DATABASE_URL" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
url="${TEST_DATABASE_URL%/*}/$db"
# Rate limits off: 16 clients register from one address as fast as they can, which the
# per-address limit would answer 429 (the limits have their own tests).
export AUTHZ__DATABASE__URL="$url" AUTHZ__DATABASE__CONNECT_TIMEOUT_SECS="$CONNECT_TIMEOUT" \
  AUTHZ__SERVER__BIND=127.0.0.1:0 AUTHZ__LOGGING__LEVEL=error AUTHZ__RATE_LIMITS__ENABLED=false \
  AUTHZ__KEYS__KEY_ENCRYPTION_KEY="$(head -c 32 /dev/urandom | basenc --base64url)"
"$bin" >"$work/stdout" 2>"$work/stderr" &
server_pid=$!
for _ in $(seq 100); do grep -q listening "$work/stdout" 2>/dev/null && break; sleep 0.1; done
base=$(grep -o 'http://[0-9.:]*' "$work/stdout" | head -1)
[ -n "$base" ] || { cat "$work/stderr" >&2; exit 1; }

# A public client, for the sign-in page (HTML) during the outage.
page_client=$(curl -s -X POST "$base/register" -H 'content-type: application/json' \
  -d '{"redirect_uris":["http://127.0.0.1:53682/callback"],"token_endpoint_auth_method":"none"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])')
authorize="$base/authorize?response_type=code&client_id=$page_client&redirect_uri=http%3A%2F%2F127.0.0.1%3A53682%2Fcallback&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&state=s"
bound=$((CONNECT_TIMEOUT + 1))
total=$((BEFORE + DOWN + AFTER))
python3 scripts/outage_load.py "$base" "$total" "$CONCURRENCY" "${GIVE_UP:-$((bound * 3))}" "$work/requests.jsonl" &
load_pid=$!
sleep "$BEFORE"
pg -D "$TEST_PG_DATA" -m fast -w stop >/dev/null
echo "outage-test: PostgreSQL stopped at ${BEFORE} s" >&2
ready_down=$(curl -s -o /dev/null -w '%{http_code}' "$base/health/ready")
page_down=$(curl -s -o /dev/null -D - --max-time "$bound" "$authorize" | tr -d '\r' |
  awk 'NR==1 {s=$2} tolower($1)=="content-type:" {t=$2} tolower($1)=="retry-after:" {r=$2} END {print s "," t "," r}')
sleep "$DOWN"
pg -D "$TEST_PG_DATA" -l "$TEST_PG_DATA/../server.log" -o "$TEST_PG_OPTS" -w start >/dev/null
echo "outage-test: PostgreSQL started at $((BEFORE + DOWN)) s" >&2
wait "$load_pid"
ready_after=$(curl -s -o /dev/null -w '%{http_code}' "$base/health/ready")
psql -qAt "$url" -c "SELECT client_id FROM clients WHERE client_id <> '$page_client'" >"$work/stored.txt"

python3 - "$work/requests.jsonl" "$work/stored.txt" "$bound" "$BEFORE" "$DOWN" "$ready_down" "$ready_after" "$page_down" <<'PY'
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
stored = set(open(sys.argv[2]).read().split())
bound, before, down = float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
acked = [r["client_id"] for r in reqs if r["status"] == 201]
page = sys.argv[8]
by = {}
for r in reqs:
    by[r["status"]] = by.get(r["status"], 0) + 1
late = [r for r in reqs if r["status"] == 0 or r["secs"] > bound]
bad = [r for r in reqs if r["status"] not in (201, 503) or (r["status"] == 503 and (r.get("retry_after") is None or r.get("error") != "temporarily_unavailable"))]
lost = [c for c in acked if c not in stored]
orphans = len(stored) - len(set(acked) & stored)
during = sorted(r["secs"] for r in reqs if before <= r["at"] < before + down)
first_ok_after = min((r["at"] for r in reqs if r["status"] == 201 and r["at"] >= before + down), default=None)
pct = lambda xs, p: xs[min(len(xs) - 1, int(p * len(xs)))] if xs else None
print(f"requests: {len(reqs)}; by status: {dict(sorted(by.items()))}")
print(f"answered within {bound:.0f} s: {len(reqs) - len(late)}/{len(reqs)}; slowest: {max(r['secs'] for r in reqs):.3f} s")
print(f"while down: {len(during)} requests, p50 {pct(during, .5)} s, p99 {pct(during, .99)} s, max {during[-1] if during else None} s")
print(f"/health/ready while down: {sys.argv[6]}; after: {sys.argv[7]}")
print(f"sign-in page (GET /authorize) while down: status, content type, Retry-After = {page}")
print(f"first 201 after the restart: {first_ok_after - before - down:.2f} s after it" if first_ok_after else "no 201 after the restart")
print(f"acknowledged clients: {len(acked)}, lost: {len(lost)}; orphans (stored, never acknowledged): {orphans}")
page_ok = page.startswith("503,text/html") and page.endswith(",1")
ok = not late and not bad and not lost and sys.argv[6] == "503" and sys.argv[7] == "200" and first_ok_after is not None and page_ok
if bad:
    print("unexpected answers:", bad[:5])
print("outage-test:", "PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
PY
