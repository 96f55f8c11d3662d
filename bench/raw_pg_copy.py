#!/usr/bin/env python3
"""Baseline for bench/postgres.sh: the same resources as raw JSON into one plain PostgreSQL table
with COPY (psql's \\copy), one transaction.

usage: raw_pg_copy.py --psql-url URL --work DIR FILE|DIR...

Untimed: read the transaction bundles and write every entry's resource (compact JSON, a fresh UUID
as its id, as a POST gets) to a CSV file. Timed: CREATE TABLE raw_resource(type text, id text, json
text, PRIMARY KEY(type, id)) and COPY the file into it (psql -c "\\copy ..."), with the server's
durable defaults (fsync, synchronous_commit on). No validation, no index rows: PostgreSQL's floor
for these blobs. Prints: resources=N seconds=S rate=R
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import time
import uuid

from benchlib import json_files


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--psql-url", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("paths", nargs="+")
    a = ap.parse_args()
    path = os.path.join(a.work, "raw.csv")
    n = 0
    with open(path, "w", newline="", encoding="utf-8") as out:
        w = csv.writer(out)
        for f in json_files(a.paths):
            with open(f, "rb") as fh:
                b = json.load(fh)
            for e in b.get("entry", []):
                r = e["resource"]
                w.writerow([r["resourceType"], str(uuid.uuid4()),
                            json.dumps(r, separators=(",", ":"), ensure_ascii=False)])
                n += 1
    psql = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", a.psql_url]
    subprocess.run(psql + ["-c", "DROP TABLE IF EXISTS raw_resource"], check=True)
    t0 = time.perf_counter()
    subprocess.run(psql + ["-c", "CREATE TABLE raw_resource(type text NOT NULL, id text NOT NULL, "
                           "json text NOT NULL, PRIMARY KEY(type, id))",
                           "-c", f"\\copy raw_resource(type, id, json) FROM '{path}' CSV"], check=True)
    secs = time.perf_counter() - t0
    got = subprocess.run(psql + ["-t", "-A", "-c", "SELECT COUNT(*) FROM raw_resource"],
                         check=True, capture_output=True, text=True).stdout.strip()
    if int(got) != n:
        sys.exit(f"raw_pg_copy: {got} rows, expected {n}")
    os.remove(path)
    print(f"resources={n} seconds={secs:.3f} rate={n / secs:.0f}")


if __name__ == "__main__":
    main()
