#!/usr/bin/env python3
"""Second baseline for bench/ingest.sh: benhan's own rows replayed into its own schema.

usage: replay_sqlite.py --from BENHAN_DB --db FILE --sync FULL|OFF

Untimed: read BENHAN_DB's schema (a data dir's benhan.db after an ingest) and all its rows once,
so the OS has them cached.
Timed: create the same tables and indexes in FILE (WAL, synchronous=FULL|OFF, cache 64 MiB), ATTACH
BENHAN_DB and copy every row of every table (resources, versions, every search-index row, audit
events) with INSERT ... SELECT (in C, no per-row Python) in ONE transaction, commit, close.
This is what SQLite alone costs for exactly what benhan writes, with no validation, no FHIRPath, no
JSON work: the gap between it and the raw-blob baseline is the price of the schema (index rows and
secondary indexes); the gap between it and benhan is benhan's own work.
Prints: rows=R resources=N seconds=S rate=N/S (resources/s)
"""
import argparse
import sqlite3
import sys
import time

from benchlib import open_sqlite, remove_sqlite


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--from", dest="src", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--sync", choices=["FULL", "OFF"], default="FULL")
    a = ap.parse_args()
    src = sqlite3.connect(f"file:{a.src}?mode=ro", uri=True)
    schema = [r for r in src.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' "
        "ORDER BY CASE type WHEN 'table' THEN 0 ELSE 1 END, rowid")]
    tables = [n for t, n, _ in schema if t == "table"]
    sqls = {n: sql for t, n, sql in schema if t == "table"}
    counts = {t: src.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
    for t in tables:  # warm the OS page cache: the timed part reads the source from memory
        src.execute(f'SELECT * FROM "{t}"').fetchall()
    n_res = counts["resource"]
    src.close()
    rows = sum(counts.values())
    remove_sqlite(a.db)

    t0 = time.perf_counter()
    db = open_sqlite(a.db, a.sync)
    db.execute("BEGIN")
    for t, n, sql in schema:  # tables first, then indexes (kept, as benhan has them while writing)
        db.execute(sql)
    db.execute("COMMIT")  # ATTACH needs no open transaction
    db.execute("ATTACH DATABASE ? AS src", (f"file:{a.src}?mode=ro",))
    db.execute("BEGIN")
    for t in tables:  # in C, row by row, rowid tables in the source's rowid (= insertion) order
        order = "" if "WITHOUT ROWID" in sqls[t].upper() else " ORDER BY rowid"
        db.execute(f'INSERT INTO main."{t}" SELECT * FROM src."{t}"{order}')
    db.execute("COMMIT")
    db.close()
    secs = time.perf_counter() - t0
    print(f"rows={rows} resources={n_res} seconds={secs:.4f} rate={n_res / secs:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
