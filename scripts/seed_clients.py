#!/usr/bin/env python3
"""Seeds N clients straight into a migrated database, for load tests.

Client i has id seed%08d and registration access token rat_seed<i> (stored as its SHA-256, as the
server stores tokens). Every client carries the same real registered metadata document.

usage: seed_clients.py sqlite PATH N
       seed_clients.py postgres URL N      (uses psql)
"""
import hashlib
import json
import sqlite3
import subprocess
import sys
import time

METADATA = json.dumps({
    "redirect_uris": ["http://localhost:53682/callback"],
    "grant_types": ["authorization_code", "refresh_token"],
    "response_types": ["code"],
    "token_endpoint_auth_method": "none",
    "code_challenge_method": "S256",
    "client_name": "Claude Code",
}, separators=(",", ":"))


def seed_sqlite(path, n):
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    now = int(time.time())
    chunk = 50_000
    for start in range(0, n, chunk):
        ids = range(start, min(n, start + chunk))
        db.executemany(
            "INSERT INTO clients (client_id, client_name, token_endpoint_auth_method, secret_hash,"
            " secret_expires_at, metadata, origin, issued_at, updated_at, is_locked)"
            " VALUES (?, 'Claude Code', 'none', NULL, 0, ?, 'dynamic', ?, ?, 0)",
            ((f"seed{i:08d}", METADATA, now, now) for i in ids))
        db.executemany(
            "INSERT INTO registration_access_tokens (token_digest, client_id, issued_at, expires_at, revoked_at)"
            " VALUES (?, ?, ?, NULL, NULL)",
            ((hashlib.sha256(f"rat_seed{i}".encode()).digest(), f"seed{i:08d}", now) for i in ids))
        db.commit()
    db.execute("ANALYZE")
    db.close()


def seed_postgres(url, n):
    now = int(time.time())
    metadata = METADATA.replace("'", "''")
    sql = f"""
    INSERT INTO clients (client_id, client_name, token_endpoint_auth_method, secret_hash,
        secret_expires_at, metadata, origin, issued_at, updated_at, is_locked)
      SELECT 'seed' || lpad(i::text, 8, '0'), 'Claude Code', 'none', NULL, 0, '{metadata}',
        'dynamic', {now}, {now}, false FROM generate_series(0, {n - 1}) AS i;
    INSERT INTO registration_access_tokens (token_digest, client_id, issued_at, expires_at, revoked_at)
      SELECT sha256(convert_to('rat_seed' || i, 'UTF8')), 'seed' || lpad(i::text, 8, '0'), {now}, NULL, NULL
        FROM generate_series(0, {n - 1}) AS i;
    ANALYZE;
    """
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql], check=True)


if __name__ == "__main__":
    kind, target, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    started = time.time()
    (seed_sqlite if kind == "sqlite" else seed_postgres)(target, count)
    print(f"seeded {count} clients in {time.time() - started:.1f} s", file=sys.stderr)
