#!/usr/bin/env python3
"""Query plans of the SQL the server runs for one GET /admin/clients request.

The statements are written by hand after ClientAdministration::search in
crates/authz-storage/src/client_registration/admin.rs (keep them in step with it):
  1. total: unfiltered, the trigger-kept slots of client_counts; with a search, COUNT(*) of the
     rows whose search_text is LIKE the escaped pattern;
  2. ids:   the page's client_ids, ordered by (issued_at DESC, client_id DESC), LIMIT/OFFSET;
  3. rows:  those clients' columns (SQLite: client_id IN (?, ...); PostgreSQL: = ANY($1)).
The search term is folded like the server does (trimmed, Unicode lower case) and escaped like
contains_pattern (\\, % and _ preceded by \\, the whole wrapped in %...%).

SQLite: EXPLAIN QUERY PLAN through Python's sqlite3 on the database file, and each statement's
time when Python runs it (Python's SQLite, not the server's bundled one: the plans are the same
kind, the times only indicative). PostgreSQL: EXPLAIN (ANALYZE, BUFFERS) through psql. diesel
runs these as prepared statements that each connection caches, and after five executions
PostgreSQL may switch a cached statement to a generic plan (one that ignores the parameter
values), so each statement is PREPAREd and EXECUTEd five times before the EXPLAIN EXECUTE: the
plan shown is the one a connection settles on when it runs the same request over and over.

usage: admin_query_plans.py sqlite PATH     [--q TERM] [--page N] [--per-page N]
       admin_query_plans.py postgres URL    [--q TERM] [--page N] [--per-page N]
"""
import argparse
import subprocess
import sys
import time

ROW_COLUMNS = ("client_id, secret_hash, secret_expires_at, metadata, origin, issued_at, updated_at,"
               " is_locked, revision, settings, previous_secret_hash, previous_secret_valid_until")
ORDER = "ORDER BY issued_at DESC, client_id DESC"


def contains_pattern(term):
    return "%" + "".join("\\" + c if c in "\\%_" else c for c in term) + "%"


def sqlite_plans(path, pattern, limit, offset):
    import sqlite3
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    where = " WHERE search_text LIKE ? ESCAPE ?" if pattern else ""
    like = (pattern, "\\") if pattern else ()
    total_sql = (f"SELECT COUNT(*) FROM clients{where}" if pattern
                 else "SELECT n FROM client_counts")
    ids_sql = f"SELECT client_id FROM clients{where} {ORDER} LIMIT ? OFFSET ?"

    def show(label, sql, params):
        plan = db.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
        db.execute(sql, params).fetchall()  # warm the page cache like a repeated request
        started = time.perf_counter()
        rows = db.execute(sql, params).fetchall()
        ms = (time.perf_counter() - started) * 1000
        print(f"-- {label} ({ms:.1f} ms in python sqlite3 {sqlite3.sqlite_version}, {len(rows)} rows)")
        print("   " + sql.replace(", ".join("?" * len(params)), f"?, ... ({len(params)} ids)")
              if " IN (" in sql else "   " + sql)
        for _, parent, _, detail in plan:
            print(f"   {'  ' if parent else ''}{detail}")
        return rows

    show("total", total_sql, like)
    ids = [r[0] for r in show("ids", ids_sql, like + (limit, offset))]
    if ids:
        marks = ", ".join("?" * len(ids))
        show("rows", f"SELECT {ROW_COLUMNS} FROM clients WHERE client_id IN ({marks})", tuple(ids))
    else:
        print("-- rows: not run (no ids)")


def postgres_plans(url, pattern, limit, offset):
    explain = "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)"
    where = " WHERE search_text LIKE $1 ESCAPE $2" if pattern else ""
    if pattern:
        script = [
            "PREPARE total(text, text) AS SELECT COUNT(*) FROM clients" + where + ";",
            f"PREPARE ids(text, text, bigint, bigint) AS SELECT client_id FROM clients{where}"
            f" {ORDER} LIMIT $3 OFFSET $4;",
        ]
        total_args = "(:'pat', E'\\\\')"
        ids_args = f"(:'pat', E'\\\\', {limit}, {offset})"
    else:
        script = [
            "PREPARE total AS SELECT n FROM client_counts;",
            f"PREPARE ids(bigint, bigint) AS SELECT client_id FROM clients {ORDER} LIMIT $1 OFFSET $2;",
        ]
        total_args = ""
        ids_args = f"({limit}, {offset})"
    script.append(f"PREPARE page(text[]) AS SELECT {ROW_COLUMNS} FROM clients WHERE client_id = ANY($1);")
    script.append(f"CREATE TEMP TABLE page_ids AS EXECUTE ids{ids_args};")
    script.append("SELECT coalesce(array_agg(client_id), '{}')::text AS ids FROM page_ids \\gset")
    script.append("\\o /dev/null")
    for _ in range(5):
        script += [f"EXECUTE total{total_args};", f"EXECUTE ids{ids_args};", "EXECUTE page(:'ids');"]
    script.append("\\o")
    for label, stmt in (("total", f"total{total_args}"), ("ids", f"ids{ids_args}"),
                        ("rows", "page(:'ids')")):
        script.append(f"\\echo '-- {label}'")
        script.append(f"{explain} EXECUTE {stmt};")
    args = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-P", "pager=off", "-P", "footer=off",
            "-At", url]
    if pattern:
        args += ["-v", f"pat={pattern}"]
    print("-- statements (PREPAREd like diesel's cached statements):")
    for line in script[:3]:
        print("   " + line)
    out = subprocess.run(args, input="\n".join(script) + "\n", text=True, capture_output=True)
    if out.returncode != 0:
        sys.exit(f"admin_query_plans: psql failed:\n{out.stderr}")
    for line in out.stdout.splitlines():
        print(line if line.startswith("--") else "   " + line)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("backend", choices=["sqlite", "postgres"])
    parser.add_argument("target")
    parser.add_argument("--q", default="")
    parser.add_argument("--page", type=int, default=1)
    parser.add_argument("--per-page", type=int, default=20)
    a = parser.parse_args()
    term = a.q.strip().lower()
    pattern = contains_pattern(term) if term else None
    offset = (a.page - 1) * a.per_page
    (sqlite_plans if a.backend == "sqlite" else postgres_plans)(a.target, pattern, a.per_page, offset)


if __name__ == "__main__":
    main()
