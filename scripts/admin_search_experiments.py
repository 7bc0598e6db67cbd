#!/usr/bin/env python3
"""What would make the administration search (search_text LIKE '%term%' ESCAPE '\\') faster, tried
on a database seeded by scripts/seed_clients.py (best of 3 runs after a warm-up per statement).
Nothing here changes the server or the migrations; every object it creates is dropped again.

SQLite (through Python's sqlite3, so another SQLite version than the server's bundled one):
  baseline; ORDER BY +issued_at (sort instead of walking clients_issued_at); mmap_size 1 GB;
  cache_size 600 MB; a covering index (issued_at, client_id, search_text); an FTS5 trigram table.
PostgreSQL (through psql and scripts/admin_query_plans.py, i.e. EXPLAIN ANALYZE of the prepared
  statements as the server's connections settle on them): a pg_trgm GIN index on search_text.

usage: admin_search_experiments.py sqlite PATH
       admin_search_experiments.py postgres URL
"""
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ORDER = "ORDER BY issued_at DESC, client_id DESC"
# term -> LIKE pattern as contains_pattern builds it
TERMS = {"cursor": "%cursor%", "zzzz-no-match": "%zzzz-no-match%", "50%": "%50\\%%"}


def sqlite_experiments(path):
    import sqlite3
    db = sqlite3.connect(path)
    last_page_offset = None

    def t(label, sql, params=()):
        plan = " | ".join(r[3] for r in db.execute("EXPLAIN QUERY PLAN " + sql, params))
        db.execute(sql, params).fetchall()
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            rows = db.execute(sql, params).fetchall()
            best = min(best, time.perf_counter() - started)
        print(f"{label:58s} {best * 1000:8.1f} ms  rows={len(rows):<6} {plan}")
        return rows

    matches = db.execute("SELECT COUNT(*) FROM clients WHERE search_text LIKE ? ESCAPE ?",
                         (TERMS["cursor"], "\\")).fetchone()[0]
    last_page_offset = max(0, (matches - 1) // 50 * 50)

    def suite(tag, order=ORDER):
        for term, pattern in TERMS.items():
            t(f"[{tag}] count {term}",
              "SELECT COUNT(*) FROM clients WHERE search_text LIKE ? ESCAPE ?", (pattern, "\\"))
        ids = f"SELECT client_id FROM clients WHERE search_text LIKE ? ESCAPE ? {order} LIMIT 50 OFFSET ?"
        t(f"[{tag}] ids cursor, first page", ids, (TERMS["cursor"], "\\", 0))
        t(f"[{tag}] ids cursor, last page", ids, (TERMS["cursor"], "\\", last_page_offset))
        t(f"[{tag}] ids zzzz-no-match", ids, (TERMS["zzzz-no-match"], "\\", 0))

    print(f"sqlite {sqlite3.sqlite_version}; 'cursor' matches {matches}, last page offset {last_page_offset}")
    suite("baseline")
    suite("ORDER BY +issued_at", "ORDER BY +issued_at DESC, client_id DESC")
    db.execute("PRAGMA mmap_size = 1073741824")
    suite("mmap_size 1 GB")
    db.execute("PRAGMA mmap_size = 0")
    db.execute("PRAGMA cache_size = -600000")
    suite("cache_size 600 MB")
    db.execute("PRAGMA cache_size = -2000")

    size = os.path.getsize(path)
    started = time.perf_counter()
    db.execute("CREATE INDEX exp_issued_search ON clients (issued_at, client_id, search_text)")
    db.execute("ANALYZE")
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    print(f"covering index (issued_at, client_id, search_text): {time.perf_counter() - started:.1f} s,"
          f" file +{(os.path.getsize(path) - size) / 2**20:.0f} MiB")
    try:
        suite("covering index")
    finally:
        db.execute("DROP INDEX exp_issued_search")
        db.commit()

    started = time.perf_counter()
    db.execute("CREATE VIRTUAL TABLE exp_fts USING fts5(search_text, client_id UNINDEXED,"
               " issued_at UNINDEXED, tokenize='trigram')")
    db.execute("INSERT INTO exp_fts (search_text, client_id, issued_at)"
               " SELECT search_text, client_id, issued_at FROM clients")
    db.commit()
    print(f"FTS5 trigram table: {time.perf_counter() - started:.1f} s")
    try:
        for term, pattern in TERMS.items():
            # FTS5 answers LIKE from its index only without ESCAPE (and for 3+ characters).
            t(f"[fts5] count {term}, LIKE without ESCAPE",
              "SELECT COUNT(*) FROM exp_fts WHERE search_text LIKE ?", (pattern.replace("\\", ""),))
            t(f"[fts5] count {term}, LIKE ... ESCAPE",
              "SELECT COUNT(*) FROM exp_fts WHERE search_text LIKE ? ESCAPE ?", (pattern, "\\"))
        ids = f"SELECT client_id FROM exp_fts WHERE search_text LIKE ? {ORDER} LIMIT 50 OFFSET ?"
        t("[fts5] ids cursor, first page", ids, (TERMS["cursor"], 0))
        t("[fts5] ids cursor, last page", ids, (TERMS["cursor"], last_page_offset))
        t("[fts5] ids zzzz-no-match", ids, (TERMS["zzzz-no-match"], 0))
    finally:
        db.execute("DROP TABLE exp_fts")
        db.commit()


def postgres_experiments(url):
    def psql(sql):
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql], check=True)

    def plans(title):
        matches = subprocess.run(
            ["psql", "-X", "-At", url, "-c",
             "SELECT COUNT(*) FROM clients WHERE search_text LIKE '%cursor%'"],
            check=True, capture_output=True, text=True).stdout.strip()
        last = (int(matches) + 49) // 50
        for q, page in (("cursor", 1), ("cursor", last), ("zzzz-no-match", 1), ("50%", 1),
                        ("seed00123", 1), ("Claude Code 123", 1)):
            print(f"\n### {title}: q={q!r} page {page}")
            subprocess.run([sys.executable, os.path.join(HERE, "admin_query_plans.py"), "postgres",
                            url, "--q", q, "--page", str(page), "--per-page", "50"], check=True)

    plans("without pg_trgm")
    started = time.perf_counter()
    psql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    psql("CREATE INDEX exp_clients_search_trgm ON clients USING gin (search_text gin_trgm_ops)")
    psql("ANALYZE clients")
    print(f"\npg_trgm GIN index built in {time.perf_counter() - started:.1f} s")
    subprocess.run(["psql", "-X", url, "-c",
                    "SELECT pg_size_pretty(pg_relation_size('exp_clients_search_trgm')) AS trgm_index,"
                    " pg_size_pretty(pg_relation_size('clients')) AS clients_table"], check=True)
    try:
        plans("with pg_trgm")
    finally:
        psql("DROP INDEX exp_clients_search_trgm")


if __name__ == "__main__":
    kind, target = sys.argv[1], sys.argv[2]
    (sqlite_experiments if kind == "sqlite" else postgres_experiments)(target)
