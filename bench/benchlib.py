"""Shared helpers of the Python benchmark scripts (bench/*.py)."""
import os
import sqlite3


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
