#!/usr/bin/env python3
"""Seeds N clients straight into a migrated database, for load tests.

Client i has id seed%08d and registration access token rat_seed<i> (stored as its SHA-256, as the
server stores tokens). The rows look like what the server writes, so the administration API's
listing and search see realistic data:
  - client_name cycles over real MCP client names, most of them with a number ("Cursor 456"),
    and the metadata document's client_name is the same as the column;
  - search_text is what the server computes: lower-cased client_id, a newline, lower-cased name
    (Python's str.lower() is the same Unicode lower case as Rust's to_lowercase for these names);
  - issued_at (and updated_at) is now - (N - i): a higher i is a newer client, and no two clients
    share a second, as in a real registration history. With --shuffle-issued, issued_at is
    now - (N - p(i)) for a fixed permutation p instead: the server's client ids are random, so in
    a real database the order of issued_at has nothing to do with the order of client_id (the
    key SQLite stores the clients table by), and walking clients_issued_at visits the table in
    random order rather than sequentially as with seed ids;
  - revision 0, settings and previous_secret_* NULL (what a dynamic registration stores).
Each of the 7 names is 1/7 of the rows, so a search for "cursor" matches about 14 %.

Rows go in through INSERT (SQLite) or COPY (PostgreSQL), so the triggers that keep client_counts
fire for every row; afterwards the script checks that sum(client_counts.n) equals count(*), then
runs ANALYZE (SQLite) or VACUUM ANALYZE (PostgreSQL, so index-only scans find pages all-visible;
client_counts is first rewritten with VACUUM FULL, see seed_postgres).

usage: seed_clients.py sqlite PATH N [--shuffle-issued]
       seed_clients.py postgres URL N [--shuffle-issued]     (uses psql)
"""
import hashlib
import json
import sqlite3
import subprocess
import sys
import time

NAMES = ["Claude Code", "Cursor", "Visual Studio Code", "MCP Inspector", "Goose", "Windsurf", "Zed"]

COLUMNS = ("client_id, client_name, token_endpoint_auth_method, secret_hash, secret_expires_at,"
           " metadata, origin, issued_at, updated_at, is_locked, revision, settings,"
           " previous_secret_hash, previous_secret_valid_until, search_text")


def client_name(i):
    base = NAMES[i % len(NAMES)]
    cycle = i // len(NAMES)
    # Three clients in four carry a number (0-996), as when one user registers several
    # installations; 997 is coprime to 4, so every number 0-996 occurs.
    return base if cycle % 4 == 3 else f"{base} {cycle % 997}"


def metadata(name):
    return json.dumps({
        "redirect_uris": ["http://localhost:53682/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "code_challenge_method": "S256",
        "client_name": name,
    }, separators=(",", ":"))


SHUFFLE = False
# The permutation of --shuffle-issued: i -> i * STRIDE mod N, a bijection while gcd(STRIDE, N) = 1.
STRIDE = 1_000_003


def issued_at(i, n, now):
    if SHUFFLE:
        return now - (n - (i * STRIDE) % n)
    return now - (n - i)


def client_rows(ids, n, now):
    """(client_id, name, metadata, issued_at, search_text) for each i in ids."""
    for i in ids:
        client_id = f"seed{i:08d}"
        name = client_name(i)
        issued = issued_at(i, n, now)
        yield client_id, name, metadata(name), issued, client_id.lower() + "\n" + name.lower()


def seed_sqlite(path, n):
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    now = int(time.time())
    chunk = 50_000
    for start in range(0, n, chunk):
        ids = range(start, min(n, start + chunk))
        db.executemany(
            f"INSERT INTO clients ({COLUMNS})"
            " VALUES (?, ?, 'none', NULL, 0, ?, 'dynamic', ?, ?, 0, 0, NULL, NULL, NULL, ?)",
            ((cid, name, meta, issued, issued, text)
             for cid, name, meta, issued, text in client_rows(ids, n, now)))
        db.executemany(
            "INSERT INTO registration_access_tokens (token_digest, client_id, issued_at, expires_at, revoked_at)"
            " VALUES (?, ?, ?, NULL, NULL)",
            ((hashlib.sha256(f"rat_seed{i}".encode()).digest(), f"seed{i:08d}", issued_at(i, n, now))
             for i in ids))
        db.commit()
    counted, total = db.execute(
        "SELECT (SELECT sum(n) FROM client_counts), (SELECT count(*) FROM clients)").fetchone()
    check_counts(counted, total)
    db.execute("ANALYZE")
    db.close()


def copy_text(value):
    """One field of PostgreSQL's COPY text format."""
    if value is None:
        return "\\N"
    return (str(value).replace("\\", "\\\\").replace("\n", "\\n")
            .replace("\r", "\\r").replace("\t", "\\t"))


def psql(url, *args, **kwargs):
    return subprocess.run(["psql", "-q", "-X", "-v", "ON_ERROR_STOP=1", url, *args],
                          check=True, **kwargs)


def seed_postgres(url, n):
    now = int(time.time())
    # COPY fires the row triggers like INSERT does. One COPY (one transaction) per chunk: the
    # count trigger updates the same 16 client_counts rows once per client, and the row versions
    # a transaction leaves behind can only be pruned once it has committed: the bigger the
    # transaction, the longer the version chains every update walks (100,000 clients took 10.5 s
    # in transactions of 5,000 and 16.6 s in transactions of 50,000).
    chunk = 10_000
    for start in range(0, n, chunk):
        ids = range(start, min(n, start + chunk))
        data = "".join(
            "\t".join(copy_text(v) for v in (
                cid, name, "none", None, 0, meta, "dynamic", issued, issued, "f", 0, None, None,
                None, text)) + "\n"
            for cid, name, meta, issued, text in client_rows(ids, n, now))
        psql(url, "-c", f"COPY clients ({COLUMNS}) FROM STDIN", input=data.encode())
    psql(url, "-c", f"""
    INSERT INTO registration_access_tokens (token_digest, client_id, issued_at, expires_at, revoked_at)
      SELECT sha256(convert_to('rat_seed' || i, 'UTF8')), 'seed' || lpad(i::text, 8, '0'),
        {now} - ({n} - {f"(i * {STRIDE}::bigint) % {n}" if SHUFFLE else "i"}), NULL, NULL
        FROM generate_series(0, {n - 1}) AS i""")
    out = psql(url, "-tA", "-F", " ", "-c",
               "SELECT (SELECT sum(n) FROM client_counts), (SELECT count(*) FROM clients)",
               capture_output=True, text=True).stdout.split()
    check_counts(int(out[0]), int(out[1]))
    # Every trigger update left a dead version of a client_counts row behind; VACUUM frees them
    # but cannot shrink the table below its last live row, so an unfiltered listing would scan
    # hundreds of pages for 16 rows (538 after 100,000 clients). A server registering clients
    # one transaction at a time prunes those versions as it goes (2 pages after 20,000 single
    # inserts), so rewrite the table to what it would look like.
    psql(url, "-c", "VACUUM FULL client_counts")
    psql(url, "-c", "VACUUM ANALYZE")
    # Write the seed's dirty pages out now rather than in a checkpoint during the measurements.
    psql(url, "-c", "CHECKPOINT")


def check_counts(counted, total):
    if counted != total:
        sys.exit(f"seed_clients: client_counts says {counted} clients, the table has {total}")
    print(f"client_counts: {counted} = count(*)", file=sys.stderr)


if __name__ == "__main__":
    kind, target, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    SHUFFLE = "--shuffle-issued" in sys.argv[4:]
    if SHUFFLE and count % STRIDE == 0:
        sys.exit(f"seed_clients: --shuffle-issued needs N not a multiple of {STRIDE}")
    started = time.time()
    (seed_sqlite if kind == "sqlite" else seed_postgres)(target, count)
    print(f"seeded {count} clients in {time.time() - started:.1f} s", file=sys.stderr)
