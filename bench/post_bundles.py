#!/usr/bin/env python3
"""POSTs FHIR transaction bundles to a benhan server over keep-alive HTTP/1.1 connections.

usage: post_bundles.py --port PORT [--token-file F] [--conns 2] [--timeout 300] FILE|DIR...

Reads every bundle into memory first (not timed), then C threads each hold one keep-alive
connection to 127.0.0.1:PORT and POST the bundles from a shared queue to /fhir. The time is from
the first request to the last response. Prints one line:
  resources=N bundles=B errors=E seconds=S rate=R
where N counts entries of bundles answered 200 whose every entry status is 2xx.
Only loopback: the host is fixed to 127.0.0.1.
"""
import argparse
import http.client
import json
import os
import queue
import sys
import threading
import time

from benchlib import json_files


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--token-file")
    ap.add_argument("--conns", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=300.0, help="stop after this many seconds")
    ap.add_argument("paths", nargs="+")
    a = ap.parse_args()

    files = json_files(a.paths)
    # Synthea's shared Practitioner/Organization bundles first, as their documentation says.
    files.sort(key=lambda f: (not os.path.basename(f).startswith(("hospitalInformation", "practitionerInformation")), f))
    bundles = []
    for f in files:
        with open(f, "rb") as fh:
            body = fh.read()
        n = len(json.loads(body).get("entry", []))
        bundles.append((f, body, n))

    headers = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json",
               "Connection": "keep-alive"}
    if a.token_file:
        with open(a.token_file) as fh:
            headers["Authorization"] = "Bearer " + fh.read().strip()

    q = queue.Queue()
    for b in bundles:
        q.put(b)
    lock = threading.Lock()
    stats = {"resources": 0, "bundles": 0, "errors": 0}
    messages = []
    deadline = time.monotonic() + a.timeout

    def post(conn, f, body, n):
        conn.request("POST", "/fhir", body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        ok = 0
        err = None
        if r.status == 200:
            try:
                resp = json.loads(data)
                ents = resp.get("entry", [])
                ok = sum(1 for e in ents if str(e.get("response", {}).get("status", "")).startswith("2"))
                if len(ents) != n or ok != n:
                    err = f"{f}: {ok}/{n} entries 2xx"
            except ValueError as e:
                err = f"{f}: bad JSON response ({e})"
        else:
            err = f"{f}: HTTP {r.status} {data[:300]!r}"
        with lock:
            stats["bundles"] += 1
            if err:
                stats["errors"] += 1
                messages.append(err)
            else:
                stats["resources"] += ok

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=120)
        try:
            while time.monotonic() < deadline:
                try:
                    f, body, n = q.get_nowait()
                except queue.Empty:
                    return
                post(conn, f, body, n)
        finally:
            conn.close()

    t0 = time.perf_counter()
    # The shared practitioner/organization bundles go first, one at a time on one connection, so no
    # patient bundle can reference them before they exist (counted in the time).
    first = http.client.HTTPConnection("127.0.0.1", a.port, timeout=120)
    while not q.empty():
        f, body, n = q.queue[0]
        if not os.path.basename(f).startswith(("hospitalInformation", "practitionerInformation")):
            break
        q.get_nowait()
        post(first, f, body, n)
    first.close()
    threads = [threading.Thread(target=worker) for _ in range(a.conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.perf_counter() - t0
    for m in messages[:10]:
        print("error:", m, file=sys.stderr)
    if not q.empty():
        print(f"error: timed out after {a.timeout} s with {q.qsize()} bundles left", file=sys.stderr)
        stats["errors"] += q.qsize()
    print(f"resources={stats['resources']} bundles={stats['bundles']} errors={stats['errors']} "
          f"seconds={secs:.3f} rate={stats['resources'] / secs:.0f}")
    return 1 if stats["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
