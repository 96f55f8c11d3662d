"""Shared helpers of the Python benchmark scripts (bench/*.py)."""
import http.client
import os
import sqlite3
import sys


def json_files(paths):
    """The .json files named by `paths` (files as given, directories' files sorted by name)."""
    files = []
    for p in paths:
        if os.path.isdir(p):
            files += sorted(os.path.join(p, f) for f in os.listdir(p) if f.endswith(".json"))
        else:
            files.append(p)
    return files


def remove_sqlite(path):
    """Removes database `path` and its WAL files, if any."""
    for suffix in ("", "-wal", "-shm"):
        try:
            os.unlink(path + suffix)
        except FileNotFoundError:
            pass


def open_sqlite(path, sync):
    """Opens `path` as benhan does: WAL, synchronous=`sync`, 64 MiB page cache, autocommit
    (explicit BEGIN/COMMIT)."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={sync}")
    db.execute("PRAGMA cache_size=-65536")
    return db


def server_getter(port, token_file=None, timeout=60):
    """GET of `benhan serve` on 127.0.0.1:port (keep-alive, bearer token from token_file):
    returns get(path) -> the body bytes; exits the script on any status but 200."""
    headers = {"Accept": "application/fhir+json"}
    if token_file:
        with open(token_file) as fh:
            headers["Authorization"] = "Bearer " + fh.read().strip()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def get(path):
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        body = r.read()
        if r.status != 200:
            sys.exit(f"GET {path}: HTTP {r.status} {body[:300]!r}")
        return body

    return get
