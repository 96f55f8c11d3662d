#!/usr/bin/env bash
# Ingest throughput of the Synthea R4 transaction bundles, next to a raw-SQLite baseline, in one run.
#
# usage: bench/ingest.sh [REPEATS=3]
# env:   BENHAN=path/to/benhan (default build-bench/src/app/benhan, built if missing),
#        SYNTHEA=DIR (default ../shared/data/synthea/r4-bundles next to the checkout), CONNS=2, IMPORT_JOBS=2
#
# Each repeat, on a fresh data dir each time, interleaved so machine noise hits every path alike:
#   server  POST every bundle to `benhan serve` (token auth) over CONNS keep-alive connections
#           (bench/post_bundles.py); validation + every search index + one transaction per bundle
#   import  `benhan import --jobs IMPORT_JOBS` of the same files (server not running)
#   raw     the same resources as JSON blobs into one SQLite table (type, id, json), one
#           transaction, WAL, synchronous=FULL and =OFF (bench/raw_sqlite.py); plus one
#           transaction per bundle (synchronous=FULL) for reference
#   schema  benhan's own rows from the server run (resources, versions, every index row, audit)
#           copied by SQLite alone into benhan's schema, one transaction, synchronous=FULL
#           (bench/replay_sqlite.py): SQLite's floor for exactly what benhan writes
# Each run also shows the CPU time used (server: the server process during the POSTs; import: user
# and sys): wall time well above CPU time is time spent waiting, mostly for fsync.
# Prints every run, then the median of each path and its ratio to the raw FULL baseline.
# Bounded: every step runs under `timeout`.
source "$(dirname "$0")/lib.sh"
REPEATS="${1:-3}"
CONNS="${CONNS:-2}"
IMPORT_JOBS="${IMPORT_JOBS:-2}"
NFILES=$(ls "$SYNTHEA"/*.json | wc -l)

machine_line
echo "# data: $SYNTHEA ($NFILES files); binary: $BENHAN; repeats: $REPEATS"

declare -a R_SERVER R_IMPORT R_FULL R_OFF R_BUNDLE R_SCHEMA
HZ=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # utime + stime of a process, in ticks
rate_of() { sed -nE 's/.*rate=([0-9.]+).*/\1/p' <<<"$1"; }

for ((rep = 1; rep <= REPEATS; rep++)); do
  # (a) through the server
  d="$WORK/server$rep"
  start_server "$d"
  c0=$(cpu_ticks "$SERVER_PID")
  out=$(timeout 600 "$PY" "$ROOT/bench/post_bundles.py" --port "$PORT" --token-file "$d/secrets/admin.token" \
        --conns "$CONNS" "$SYNTHEA")
  c1=$(cpu_ticks "$SERVER_PID")
  stop_server
  echo "run $rep server  : $out server_cpu_s=$(awk -v t=$((c1 - c0)) -v hz="$HZ" 'BEGIN{printf "%.2f", t/hz}')"
  R_SERVER+=("$(rate_of "$out")")
  if [[ $rep == 1 ]]; then
    # Show that the search index was written: rows per index table.
    "$PY" - "$d/benhan.db" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
t = [r[0] for r in db.execute("select name from sqlite_master where type='table' and name like 'idx\\_%' escape '\\' order by name")]
parts = [f"{x}={db.execute(f'select count(*) from {x}').fetchone()[0]}" for x in t]
res = db.execute("select count(*) from resource").fetchone()[0]
print(f"# after run 1 (server): resource={res} " + " ".join(parts))
EOF
  fi

  out=$(timeout 300 "$PY" "$ROOT/bench/replay_sqlite.py" --from "$d/benhan.db" --db "$WORK/replay.db" --sync FULL)
  echo "run $rep schema  : $out"; R_SCHEMA+=("$(rate_of "$out")")

  # (b) benhan import
  d="$WORK/import$rep"
  ( TIMEFORMAT='wall_s=%R user_s=%U sys_s=%S'; time timeout 600 "$BENHAN" import --data "$d" --jobs "$IMPORT_JOBS" \
      "$SYNTHEA" >"$WORK/import.out" 2>&1 ) 2>"$WORK/import.time"
  out=$(grep -E "^imported" "$WORK/import.out" || true)
  echo "run $rep import  : $out; $(cat "$WORK/import.time")"
  [[ "$out" =~ ,\ 0\ errors ]] || echo "# WARNING: import reported errors" >&2
  R_IMPORT+=("$(sed -nE 's/.*\(([0-9.]+) resources\/s\).*/\1/p' <<<"$out")")

  # (c) raw SQLite baselines
  out=$(timeout 300 "$PY" "$ROOT/bench/raw_sqlite.py" --db "$WORK/raw.db" --sync FULL "$SYNTHEA")
  echo "run $rep raw FULL: $out"; R_FULL+=("$(rate_of "$out")")
  out=$(timeout 300 "$PY" "$ROOT/bench/raw_sqlite.py" --db "$WORK/raw.db" --sync OFF "$SYNTHEA")
  echo "run $rep raw OFF : $out"; R_OFF+=("$(rate_of "$out")")
  out=$(timeout 300 "$PY" "$ROOT/bench/raw_sqlite.py" --db "$WORK/raw.db" --sync FULL --per-bundle "$SYNTHEA")
  echo "run $rep raw FULL, txn per bundle: $out"; R_BUNDLE+=("$(rate_of "$out")")
  rm -rf "$WORK/server$rep" "$WORK/import$rep" "$WORK"/raw.db* "$WORK"/replay.db*
done

m_server=$(median "${R_SERVER[@]}"); m_import=$(median "${R_IMPORT[@]}")
m_full=$(median "${R_FULL[@]}"); m_off=$(median "${R_OFF[@]}"); m_bundle=$(median "${R_BUNDLE[@]}")
m_schema=$(median "${R_SCHEMA[@]}")
echo
echo "| path (median of $REPEATS, resources/s) | resources/s | ratio to raw FULL | runs |"
echo "|---|---:|---:|---|"
row() { printf '| %s | %.0f | %.3f | %s |\n' "$1" "$2" "$(awk -v a="$2" -v b="$m_full" 'BEGIN{print a/b}')" "$3"; }
row "benhan serve, POST transaction bundles, $CONNS connections" "$m_server" "${R_SERVER[*]}"
row "benhan import --jobs $IMPORT_JOBS" "$m_import" "${R_IMPORT[*]}"
row "raw SQLite, 1 transaction, synchronous=FULL (baseline)" "$m_full" "${R_FULL[*]}"
row "raw SQLite, 1 transaction, synchronous=OFF" "$m_off" "${R_OFF[*]}"
row "raw SQLite, 1 transaction per bundle, synchronous=FULL" "$m_bundle" "${R_BUNDLE[*]}"
row "SQLite alone, benhan's schema + all its rows, 1 transaction, FULL" "$m_schema" "${R_SCHEMA[*]}"
echo
echo "# targets: >= 25000 resources/s and >= 0.25 x raw FULL"
for p in server:$m_server import:$m_import; do
  awk -v n="${p%%:*}" -v r="${p#*:}" -v b="$m_full" 'BEGIN{printf "# %s: %.0f/s (%s 25000/s), %.3f x raw (%s 0.25)\n", n, r, (r>=25000?"meets":"MISSES"), r/b, (r/b>=0.25?"meets":"MISSES")}'
done
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
