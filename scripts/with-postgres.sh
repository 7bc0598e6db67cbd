#!/usr/bin/env bash
# Runs a command with TEST_DATABASE_URL pointing at a PostgreSQL server.
# When TEST_DATABASE_URL is already set, it is used as is. Otherwise a throwaway cluster is created
# in a temporary folder, started on a free loopback port, and removed when the command ends.
# PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` user.
set -euo pipefail

if [ -n "${TEST_DATABASE_URL:-}" ]; then
  exec "$@"
fi

find_pg_bin() {
  local name=$1 candidate
  for candidate in /usr/lib/postgresql/*/bin/"$name"; do
    [ -x "$candidate" ] && { echo "$candidate"; return 0; }
  done
  command -v "$name" 2>/dev/null && return 0
  return 1
}

if ! find_pg_bin initdb >/dev/null; then
  echo "with-postgres: no PostgreSQL server binaries; installing the postgresql package" >&2
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi
INITDB=$(find_pg_bin initdb)
PG_CTL=$(find_pg_bin pg_ctl)

dir=$(mktemp -d /tmp/authz-pg.XXXXXX)
chmod 755 "$dir"
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir "$dir" postgres
  chown postgres "$dir"
  if command -v runuser >/dev/null; then as_pg=(runuser -u postgres --); else as_pg=(su postgres -s /bin/sh -c); fi
fi
run_pg() {
  if [ ${#as_pg[@]} -eq 0 ]; then "$@";
  elif [ "${as_pg[0]}" = runuser ]; then "${as_pg[@]}" "$@";
  else "${as_pg[@]}" "$(printf '%q ' "$@")"; fi
}

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo $((20000 + RANDOM % 20000)))

cleanup() {
  run_pg "$PG_CTL" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

# Password (SCRAM) authentication, as in production: libpq then does SCRAM through OpenSSL, which
# is what exposed a crash at exit (docs/operations.md). The password needs percent-encoding in
# the URL, so URL handling is exercised too.
password='s3cr&t/p@ss:w%rd'
password_url='s3cr%26t%2Fp%40ss%3Aw%25rd'
printf '%s\n' "$password" >"$dir/pwfile"
[ ${#as_pg[@]} -eq 0 ] || chown postgres "$dir/pwfile"
run_pg "$INITDB" -D "$dir/data" -U postgres --auth=scram-sha-256 --pwfile="$dir/pwfile" -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
pg_opts="-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400"
run_pg "$PG_CTL" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "$pg_opts" \
  start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }

rm -f "$dir/pwfile"
export TEST_DATABASE_URL="postgres://postgres:$password_url@127.0.0.1:$port/postgres"
# For scripts that stop and start this cluster (scripts/outage-test.sh).
export TEST_PG_CTL="$PG_CTL" TEST_PG_DATA="$dir/data" TEST_PG_OPTS="$pg_opts" TEST_PG_AS_POSTGRES=${#as_pg[@]}
echo "with-postgres: throwaway PostgreSQL on 127.0.0.1:$port" >&2
"$@"
