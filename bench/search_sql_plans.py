#!/usr/bin/env python3
"""The SQL of two slow searches of bench/search_latency.sh, as benhan compiles it today and rewritten,
timed on a copy of a benhan database with Python's sqlite3 (SQLite only: no HTTP, no JSON). Evidence
for the causes and fixes in docs/benchmarks.md, "Search latency".

usage: search_sql_plans.py --db DATA/benhan.db --targets DIR [--n 40] [--tmp DIR]

DIR is the targets dir search_latency.sh wrote (DATA_CACHE=... keeps it: xSCALE/targets). The
database is copied to --tmp first (the rewrites need extra indexes; the original is not touched).
For each variant: CPU ms per search (the COUNT(*) for `total` plus the first page, as the server
runs them), mean over the first --n paths, best of 3, and SQLite's EXPLAIN QUERY PLAN.

  Observation?patient=&code=&date=geA&date=leB
    A  as compiled: one `rid IN (SELECT ...)` list per condition; `date=geA` is `high > A`, which
       the key (pid, low, high, rid) cannot seek, so both date lists hold every Observation date
    B  both date bounds in one list: a seek on low < B, filter high > A
    C  driven by the patient's reference rows; code and date probed per row by rid (needs indexes
       idx_token(rid, ...) and idx_date(rid, ...), or the row's resource.index_keys)
  Patient?_has:Observation:patient:code=C&_count=10
    H0 as compiled: every Observation.patient reference row, joined to resource, then the code list
    H1 the code's token rows, their reference found by rid (index idx_reference(rid, ...)), no join
       to resource (index rows exist only for live versions)
"""
import argparse
import datetime as dt
import os
import shutil
import sqlite3
import tempfile
import time
import urllib.parse


def us(day):
    return int(dt.datetime.fromisoformat(day + "T00:00:00+00:00").timestamp() * 1e6)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--targets", required=True)
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--tmp", default=tempfile.gettempdir())
    a = ap.parse_args()
    tmpdir = tempfile.mkdtemp(prefix="benhan-plans.", dir=a.tmp)
    path = os.path.join(tmpdir, "copy.db")
    try:
        src = sqlite3.connect(f"file:{a.db}?mode=ro", uri=True)
        dst = sqlite3.connect(path)
        src.backup(dst)  # consistent copy, WAL included
        src.close()
        dst.close()
        run(path, a)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def run(path, a):
    db = sqlite3.connect(path)
    db.execute("PRAGMA cache_size=-65536")
    db.execute("PRAGMA mmap_size=268435456")
    pid = {(t, c): p for p, t, c in db.execute("SELECT pid, rtype, code FROM search_param")}
    o_pat, o_code, o_date = pid[("Observation", "patient")], pid[("Observation", "code")], pid[("Observation", "date")]

    def bench(name, count_sql, page_sql, argsets):
        best = None
        for _ in range(3):
            t0 = time.process_time()
            hits = 0
            for args in argsets:
                hits += db.execute(count_sql, args).fetchone()[0] > 0
                db.execute(page_sql, args).fetchall()
            t = (time.process_time() - t0) / len(argsets) * 1000
            best = t if best is None else min(best, t)
        print(f"{name}: {best:.3f} ms CPU per search (COUNT + page), {hits}/{len(argsets)} with matches")
        for row in db.execute("EXPLAIN QUERY PLAN " + count_sql, argsets[0]):
            print("      " + row[3])

    obs = []
    with open(os.path.join(a.targets, "obs_code_date.txt")) as fh:
        for line in fh.read().split()[: a.n]:
            q = urllib.parse.parse_qs(urllib.parse.urlsplit(line).query)
            system, code = q["code"][0].split("|")
            ge = next(d[2:] for d in q["date"] if d.startswith("ge"))
            le = next(d[2:] for d in q["date"] if d.startswith("le"))
            obs.append((q["patient"][0], code, system, us(ge), us(le) + 86400 * 10**6))
    has = []
    with open(os.path.join(a.targets, "has_obs_code.txt")) as fh:
        for line in fh.read().split()[: a.n]:
            q = urllib.parse.parse_qs(urllib.parse.urlsplit(line).query)
            system, code = q["_has:Observation:patient:code"][0].split("|")
            has.append((code, system))

    base = ("FROM resource r JOIN resource_version v ON v.seq = r.seq WHERE r.rtype = 'Observation' AND "
            f"r.deleted = 0 AND r.rid IN (SELECT rid FROM idx_reference WHERE pid = {o_pat} AND "
            "target_id = ? AND target_type = 'Patient') AND ")
    page = " ORDER BY r.rid ASC LIMIT 51"
    variants = [
        ("A obs as compiled", f"r.rid IN (SELECT rid FROM idx_token WHERE pid = {o_code} AND code = ? AND system = ?) "
         f"AND r.rid IN (SELECT rid FROM idx_date WHERE pid = {o_date} AND high > ?) "
         f"AND r.rid IN (SELECT rid FROM idx_date WHERE pid = {o_date} AND low < ?)"),
        ("B obs, one date list", f"r.rid IN (SELECT rid FROM idx_token WHERE pid = {o_code} AND code = ? AND system = ?) "
         f"AND r.rid IN (SELECT rid FROM idx_date WHERE pid = {o_date} AND high > ? AND low < ?)"),
    ]
    for name, cond in variants:
        bench(name, "SELECT COUNT(*) " + base + cond, "SELECT r.rid, v.json " + base + cond + page, obs)
    t0 = time.time()
    db.execute("CREATE INDEX idx_token_rid ON idx_token (rid, pid, code, system)")
    db.execute("CREATE INDEX idx_date_rid ON idx_date (rid, pid, low, high)")
    db.execute("CREATE INDEX idx_reference_rid ON idx_reference (rid, pid, target_type, target_id)")
    db.commit()
    print(f"(built rid indexes on idx_token, idx_date, idx_reference of the copy in {time.time() - t0:.1f} s)")
    cond = (f"EXISTS (SELECT 1 FROM idx_token t WHERE t.rid = r.rid AND t.pid = {o_code} AND t.code = ? AND t.system = ?) "
            f"AND EXISTS (SELECT 1 FROM idx_date d WHERE d.rid = r.rid AND d.pid = {o_date} AND d.high > ? AND d.low < ?)")
    bench("C obs, driven by the patient, probes by rid", "SELECT COUNT(*) " + base + cond,
          "SELECT r.rid, v.json " + base + cond + page, obs)

    pbase = "FROM resource r JOIN resource_version v ON v.seq = r.seq WHERE r.rtype = 'Patient' AND r.deleted = 0 AND "
    ppage = " ORDER BY r.rid ASC LIMIT 11"
    h0 = (f"r.id IN (SELECT ir.target_id FROM idx_reference ir JOIN resource b1 ON b1.rid = ir.rid WHERE ir.pid = {o_pat} "
          "AND ir.target_type = 'Patient' AND b1.deleted = 0 AND 1=1 AND b1.rid IN (SELECT rid FROM idx_token WHERE "
          f"pid = {o_code} AND ((code = ? AND system = ?))))")
    h1 = (f"r.id IN (SELECT ir.target_id FROM idx_token t JOIN idx_reference ir ON ir.rid = t.rid AND ir.pid = {o_pat} "
          f"AND ir.target_type = 'Patient' WHERE t.pid = {o_code} AND t.code = ? AND t.system = ?)")
    db.execute("DROP INDEX idx_reference_rid")
    bench("H0 _has as compiled", "SELECT COUNT(*) " + pbase + h0, "SELECT r.rid, v.json " + pbase + h0 + ppage, has)
    db.execute("CREATE INDEX idx_reference_rid ON idx_reference (rid, pid, target_type, target_id)")
    bench("H1 _has from the code's rows, reference by rid", "SELECT COUNT(*) " + pbase + h1,
          "SELECT r.rid, v.json " + pbase + h1 + ppage, has)
    t0 = time.process_time()
    for args in has:
        db.execute("SELECT r.rid, v.json " + pbase + h1 + ppage, args).fetchall()
    print(f"H1 page alone (no COUNT for total): {(time.process_time() - t0) / len(has) * 1000:.3f} ms CPU per search")


if __name__ == "__main__":
    main()
