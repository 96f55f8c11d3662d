#!/usr/bin/env python3
"""Baseline for bench/ingest.sh: the same resources written as raw JSON blobs to SQLite.

usage: raw_sqlite.py --db FILE --sync FULL|OFF [--per-bundle] FILE|DIR...

Untimed: read the transaction bundles, serialise each entry's resource to compact JSON.
Timed: open FILE, journal_mode=WAL, synchronous=FULL|OFF, cache_size 64 MiB (benhan's default),
create one table resource(type, id, json) (ids: fresh UUIDs, as a POST gets) with PRIMARY KEY(type, id), insert every resource in ONE
transaction (or one transaction per bundle with --per-bundle), commit, close.
No validation, no search index: the upper bound for any SQLite-backed store of these blobs.
Prints: resources=N seconds=S rate=R sqlite=VERSION
"""
import argparse
import json
import sqlite3
import sys
import time

import uuid

from benchlib import json_files, open_sqlite, remove_sqlite


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--sync", choices=["FULL", "OFF"], default="FULL")
    ap.add_argument("--per-bundle", action="store_true")
    ap.add_argument("paths", nargs="+")
    a = ap.parse_args()
    files = json_files(a.paths)
    bundles = []
    for f in files:
        with open(f, "rb") as fh:
            b = json.load(fh)
        rows = []
        for e in b.get("entry", []):
            r = e["resource"]
            rid = str(uuid.uuid4())  # POST: the server assigns ids (the bundles repeat some)
            rows.append((r["resourceType"], rid, json.dumps(r, separators=(",", ":"), ensure_ascii=False).encode()))
        bundles.append(rows)
    n = sum(len(b) for b in bundles)
    remove_sqlite(a.db)

    t0 = time.perf_counter()
    db = open_sqlite(a.db, a.sync)
    db.execute("CREATE TABLE resource(type TEXT NOT NULL, id TEXT NOT NULL, json BLOB NOT NULL, PRIMARY KEY(type, id))")
    sql = "INSERT INTO resource(type, id, json) VALUES (?, ?, ?)"
    if a.per_bundle:
        for rows in bundles:
            db.execute("BEGIN")
            db.executemany(sql, rows)
            db.execute("COMMIT")
    else:
        db.execute("BEGIN")
        for rows in bundles:
            db.executemany(sql, rows)
        db.execute("COMMIT")
    db.close()
    secs = time.perf_counter() - t0
    print(f"resources={n} seconds={secs:.4f} rate={n / secs:.0f} sqlite={sqlite3.sqlite_version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
