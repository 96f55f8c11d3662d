#!/usr/bin/env bash
# benhan on PostgreSQL next to benhan on SQLite and next to a raw COPY of the same JSON, in one run:
# ingest, the search query mix, and concurrent-client throughput at 1, 8 and 64 connections.
#
# usage: bench/postgres.sh
# env:   BENHAN=path/to/benhan (default build-pg/src/app/benhan, as built by the PostgreSQL work),
#        SYNTHEA=DIR (default ../shared/data/synthea/r4-bundles), DURATION=5 (seconds per wrk run),
#        CONNS=2 (ingest POST connections), IMPORT_JOBS=2, PGBIN=/usr/lib/postgresql/15/bin,
#        PATIENTS=300 (the Synthea bundles replicated to this many patients by synthea_scale.py,
#        30% with Vietnamese names, as bench/search_latency.sh does; 0: the 71 bundles as they are)
#
# Starts its own PostgreSQL 15 (initdb in the temp dir, 127.0.0.1 and a free port, socket in the
# temp dir; as the postgres user when run as root) with the server's durable defaults (fsync and
# synchronous_commit on: like SQLite's synchronous=FULL), stops it by PID at the end.
#   ingest   per backend: the Synthea transaction bundles POSTed to `benhan serve` (CONNS
#            keep-alive connections, post_bundles.py), and `benhan import --jobs IMPORT_JOBS`;
#            baselines: raw COPY of the same JSON into a plain PostgreSQL table (raw_pg_copy.py)
#            and raw SQLite blobs in one transaction, synchronous=FULL (raw_sqlite.py)
#   search   per backend, on the data the server POST loaded: each kind of bench/search_targets.py's
#            mix by one sequential client (wrk -c1, latency.lua): p50/p95 ms
#   clients  per backend: requests/s of the whole search mix and of single-Patient POSTs
#            (post_patient.lua) at 1, 8 and 64 connections (wrk -t2)
# Bounded: every step runs under `timeout`.
ROOT_GUESS="$(cd "$(dirname "$0")/.." && pwd)"
BENHAN="${BENHAN:-$ROOT_GUESS/build-pg/src/app/benhan}"
source "$(dirname "$0")/lib.sh"
DURATION="${DURATION:-5}"
CONNS="${CONNS:-2}"
IMPORT_JOBS="${IMPORT_JOBS:-2}"
PGBIN="${PGBIN:-/usr/lib/postgresql/15/bin}"
[[ -x "$PGBIN/postgres" ]] || { echo "no PostgreSQL 15 server binaries in $PGBIN" >&2; exit 1; }

# --- our PostgreSQL ---------------------------------------------------------------------------
PG_PID=""
as_pg() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
stop_pg() {
  if [[ -n "$PG_PID" ]]; then
    kill -INT "$PG_PID" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$PG_PID" 2>/dev/null || break; sleep 0.1; done
    PG_PID=""
  fi
}
trap 'stop_server; stop_pg; cleanup' EXIT
PGDIR="$WORK/pg"
mkdir -p "$PGDIR"
chmod 755 "$WORK"
[[ $(id -u) == 0 ]] && chown postgres "$PGDIR"
as_pg "$PGBIN/initdb" -D "$PGDIR/data" -U postgres --auth=trust -E UTF8 --locale=C >"$WORK/initdb.log" 2>&1
PGPORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >>"$PGDIR/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PGDIR'
shared_buffers = 256MB
max_connections = 200
CONF
if [[ $(id -u) == 0 ]]; then
  runuser -u postgres -- "$PGBIN/postgres" -D "$PGDIR/data" -p "$PGPORT" >"$WORK/pg.log" 2>&1 &
else
  "$PGBIN/postgres" -D "$PGDIR/data" -p "$PGPORT" >"$WORK/pg.log" 2>&1 &
fi
PG_PID=$!  # runuser execs nothing itself: this is runuser's PID; postgres is its child (see stop)
for _ in $(seq 1 300); do
  "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PGPORT" && break
  sleep 0.1
done
# The postmaster's own PID (stopped by PID, whatever started it).
PG_PID=$(head -1 "$PGDIR/data/postmaster.pid")
PGURL="postgresql://postgres@127.0.0.1:$PGPORT"
newdb() { psql -X -q "$PGURL/postgres" -c "CREATE DATABASE $1"; echo "$PGURL/$1"; }

PATIENTS="${PATIENTS:-300}"
if ((PATIENTS > 0)); then
  timeout 1200 "$PY" "$ROOT/bench/synthea_scale.py" --src "$SYNTHEA" --patients "$PATIENTS" \
    --out "$WORK/data" >"$WORK/scale.log"
  SYNTHEA="$WORK/data"
fi
machine_line
echo "# data: $PATIENTS patients: $(cat "$WORK/scale.log" 2>/dev/null || echo "$SYNTHEA"); PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on port $PGPORT (fsync on, synchronous_commit on, shared_buffers 256MB)"

rate_of() { sed -nE 's/.*rate=([0-9.]+).*/\1/p' <<<"$1"; }
declare -A ING
# --- ingest -----------------------------------------------------------------------------------
for backend in sqlite postgresql; do
  d="$WORK/serve-$backend"
  args=()
  [[ $backend == postgresql ]] && args=(--storage "$(newdb serve)")
  start_server "$d" "${args[@]}"
  out=$(timeout 600 "$PY" "$ROOT/bench/post_bundles.py" --port "$PORT" --token-file "$d/secrets/admin.token" \
        --conns "$CONNS" "$SYNTHEA")
  stop_server
  echo "ingest $backend server POST: $out"; ING[$backend-server]=$(rate_of "$out")
  args=()
  [[ $backend == postgresql ]] && args=(--storage "$(newdb import)")
  out=$(timeout 600 "$BENHAN" import --data "$WORK/import-$backend" --jobs "$IMPORT_JOBS" "${args[@]}" "$SYNTHEA" 2>/dev/null | grep -E '^imported')
  echo "ingest $backend import: $out"
  ING[$backend-import]=$(sed -nE 's/.*\(([0-9.]+) resources\/s\).*/\1/p' <<<"$out")
done
out=$(timeout 300 "$PY" "$ROOT/bench/raw_pg_copy.py" --psql-url "$(newdb rawcopy)" --work "$WORK" "$SYNTHEA")
echo "ingest raw PostgreSQL COPY: $out"; ING[raw-copy]=$(rate_of "$out")
out=$(timeout 300 "$PY" "$ROOT/bench/raw_sqlite.py" --db "$WORK/raw.db" --sync FULL "$SYNTHEA")
echo "ingest raw SQLite FULL: $out"; ING[raw-sqlite]=$(rate_of "$out")
rm -f "$WORK"/raw.db*
echo
echo "| ingest path | resources/s |"
echo "|---|---:|"
printf '| benhan serve on SQLite, POST bundles, %s connections | %.0f |\n' "$CONNS" "${ING[sqlite-server]}"
printf '| benhan serve on PostgreSQL, POST bundles, %s connections | %.0f |\n' "$CONNS" "${ING[postgresql-server]}"
printf '| benhan import --jobs %s, SQLite | %.0f |\n' "$IMPORT_JOBS" "${ING[sqlite-import]}"
printf '| benhan import --jobs %s, PostgreSQL | %.0f |\n' "$IMPORT_JOBS" "${ING[postgresql-import]}"
printf '| raw COPY of the JSON into one PostgreSQL table | %.0f |\n' "${ING[raw-copy]}"
printf '| raw SQLite blobs, 1 transaction, synchronous=FULL | %.0f |\n' "${ING[raw-sqlite]}"

# --- search mix and concurrent clients (on the data the server POSTs loaded) ---------------------
declare -A LAT TP
KINDS=(read name_birthdate name_vi obs_code_date condition_code encounter_include has_obs_code)
for backend in sqlite postgresql; do
  d="$WORK/serve-$backend"
  args=()
  [[ $backend == postgresql ]] && args=(--storage "$PGURL/serve")
  start_server "$d" "${args[@]}"
  tok="$d/secrets/admin.token"
  timeout 300 "$PY" "$ROOT/bench/search_targets.py" --port "$PORT" --token-file "$tok" \
    --out "$WORK/paths-$backend" --sample 50 --check 50 >"$WORK/targets-$backend.log"
  : >"$WORK/mix-$backend.txt"
  for k in "${KINDS[@]}"; do
    f="$WORK/paths-$backend/$k.txt"
    [[ -s "$f" ]] || continue
    head -200 "$f" >>"$WORK/mix-$backend.txt"
    out=$(timeout $((DURATION + 30)) wrk -t1 -c1 -d"${DURATION}s" -s "$ROOT/bench/latency.lua" \
          "http://127.0.0.1:$PORT" -- "$f" "$tok" | grep '^result')
    LAT[$backend-$k]="$(sed -nE 's/.*p50_ms=([0-9.]+) p95_ms=([0-9.]+).*/\1 \2/p' <<<"$out")"
    echo "search $backend $k: $out"
  done
  shuf --random-source=<(yes) "$WORK/mix-$backend.txt" -o "$WORK/mix-$backend.txt"
  for c in 1 8 64; do
    t=$((c < 2 ? 1 : 2))
    out=$(timeout $((DURATION + 30)) wrk -t$t -c$c -d"${DURATION}s" -s "$ROOT/bench/latency.lua" \
          "http://127.0.0.1:$PORT" -- "$WORK/mix-$backend.txt" "$tok" | grep '^result')
    echo "clients $backend search-mix c=$c: $out"; TP[$backend-read-$c]=$(sed -nE 's/.*rps=([0-9.]+).*/\1/p' <<<"$out")
    out=$(timeout $((DURATION + 30)) wrk -t$t -c$c -d"${DURATION}s" -s "$ROOT/bench/post_patient.lua" \
          "http://127.0.0.1:$PORT/fhir/Patient" -- "$tok" | grep '^result')
    echo "clients $backend POST Patient c=$c: $out"; TP[$backend-write-$c]=$(sed -nE 's/.*rps=([0-9.]+).*/\1/p' <<<"$out")
  done
  stop_server
done
echo
echo "| search kind (1 client) | SQLite p50 / p95 ms | PostgreSQL p50 / p95 ms |"
echo "|---|---:|---:|"
for k in "${KINDS[@]}"; do
  read -r s50 s95 <<<"${LAT[sqlite-$k]:-- -}"; read -r p50 p95 <<<"${LAT[postgresql-$k]:-- -}"
  echo "| $k | $s50 / $s95 | $p50 / $p95 |"
done
echo
echo "| requests/s at N connections | SQLite 1 | SQLite 8 | SQLite 64 | PostgreSQL 1 | PostgreSQL 8 | PostgreSQL 64 |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for w in read write; do
  label=$([[ $w == read ]] && echo "search mix (GET)" || echo "POST Patient")
  echo "| $label | ${TP[sqlite-$w-1]} | ${TP[sqlite-$w-8]} | ${TP[sqlite-$w-64]} | ${TP[postgresql-$w-1]} | ${TP[postgresql-$w-8]} | ${TP[postgresql-$w-64]} |"
done
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
