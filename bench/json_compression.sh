#!/usr/bin/env bash
# Stored-JSON compression (sqlite.compress_after): ingest rate, CPU and database growth with the
# resource JSON compressed with the database's dictionary and stored plain, same binary, same data.
#
# usage: bench/json_compression.sh [REPEATS=3]
# env:   BENHAN, SYNTHEA (see lib.sh); PATIENTS=140 (replicated patients loaded in each measured run)
#
# 1. Seeds, once per setting: `benhan import` of the Synthea bundles into a fresh data dir, with the
#    default (compress_after 1000: the dictionary is trained there, from those resources) and with
#    `sqlite.compress_after: 0` (plain JSON, no dictionary: the baseline).
# 2. bench/synthea_scale.py writes PATIENTS patients' bundles (new UUIDs, names, shifted dates).
# 3. Each repeat, alternated: the seed copied, then `benhan import --jobs 16` of those bundles into it:
#    a database that already has its dictionary (no training during the run), against plain JSON.
# Prints per run: resources/s, user+sys CPU s, bytes the database file grew, stored JSON bytes of
# the new versions; then medians and the ratios compressed/plain.
source "$(dirname "$0")/lib.sh"
REPEATS="${1:-3}"
PATIENTS="${PATIENTS:-140}"

machine_line
printf 'sqlite.compress_after: 0\n' >"$WORK/plain.conf"
: >"$WORK/default.conf"
for mode in compressed plain; do
  conf="$WORK/default.conf"; [[ $mode == plain ]] && conf="$WORK/plain.conf"
  out=$(timeout 600 "$BENHAN" import --config "$conf" --data "$WORK/seed-$mode" --jobs 16 "$SYNTHEA" 2>&1 | grep -E '^imported')
  echo "# seed $mode: $out"
done
timeout 600 "$PY" "$ROOT/bench/synthea_scale.py" --src "$SYNTHEA" --patients "$PATIENTS" --out "$WORK/gen" | sed 's/^/# /'

json_bytes() {  # stored JSON bytes of versions after seq $2 in database $1
  "$PY" -c 'import sqlite3,sys; db=sqlite3.connect(sys.argv[1]); print(db.execute("SELECT COALESCE(SUM(length(json)),0) FROM resource_version WHERE seq > ?", (int(sys.argv[2]),)).fetchone()[0])' "$1" "$2"
}
max_seq() { "$PY" -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT MAX(seq) FROM resource_version").fetchone()[0])' "$1"; }

declare -A RATE CPU GROW JSON
for ((rep = 1; rep <= REPEATS; rep++)); do
  for mode in compressed plain; do
    conf="$WORK/default.conf"; [[ $mode == plain ]] && conf="$WORK/plain.conf"
    d="$WORK/run"
    rm -rf "$d"; cp -a "$WORK/seed-$mode" "$d"
    size0=$(stat -c %s "$d/benhan.db"); seq0=$(max_seq "$d/benhan.db")
    out=$( { TIMEFORMAT='cpu %U %S'; time timeout 600 "$BENHAN" import --config "$conf" --data "$d" --jobs 16 "$WORK/gen" 2>&1 | grep -E '^imported'; } 2>&1 )
    rate=$(sed -nE 's/.*\(([0-9.]+) resources\/s\).*/\1/p' <<<"$out")
    cpu=$(awk '/^cpu/ {printf "%.2f", $2 + $3}' <<<"$out")
    grow=$(( $(stat -c %s "$d/benhan.db") + $(stat -c %s "$d/benhan.db-wal" 2>/dev/null || echo 0) - size0 ))
    json=$(json_bytes "$d/benhan.db" "$seq0")
    echo "run $rep $mode: $(grep -E '^imported' <<<"$out") cpu_s=$cpu db_growth_bytes=$grow json_bytes=$json"
    RATE[$mode]+="$rate "; CPU[$mode]+="$cpu "; GROW[$mode]+="$grow "; JSON[$mode]+="$json "
  done
done
rm -rf "$WORK/run"
echo
echo "| JSON stored (median of $REPEATS) | resources/s | CPU s | database growth MB | JSON MB | runs (resources/s) |"
echo "|---|---:|---:|---:|---:|---|"
for mode in compressed plain; do
  # shellcheck disable=SC2086
  printf '| %s | %.0f | %.2f | %.1f | %.1f | %s|\n' "$mode" "$(median ${RATE[$mode]})" "$(median ${CPU[$mode]})" \
    "$(awk -v b="$(median ${GROW[$mode]})" 'BEGIN{print b/1048576}')" \
    "$(awk -v b="$(median ${JSON[$mode]})" 'BEGIN{print b/1048576}')" "${RATE[$mode]}"
done
# shellcheck disable=SC2086
awk -v rc="$(median ${RATE[compressed]})" -v rp="$(median ${RATE[plain]})" -v gc="$(median ${GROW[compressed]})" \
    -v gp="$(median ${GROW[plain]})" -v jc="$(median ${JSON[compressed]})" -v jp="$(median ${JSON[plain]})" \
  'BEGIN{printf "# compressed / plain: rate %.3f, database growth %.3f, JSON %.3f (%.1fx smaller)\n", rc/rp, gc/gp, jc/jp, jp/jc}'
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
