#!/usr/bin/env bash
# Search latency of `benhan serve` for a fixed mix of realistic queries, at 1,000 x SCALE patients.
#
# usage: bench/search_latency.sh [SCALE...]        (default: 1 10, i.e. 1,000 and 10,000 patients)
# env:   BENHAN, SYNTHEA (see lib.sh); DURATION=10 (s of each single-client latency run);
#        TP_DURATION=10 (s of each throughput run); CONNS=8, THREADS=2 (wrk, throughput runs);
#        WARMUP=2 (s of wrk before each latency run); SAMPLE=200 (patients the targets are drawn from);
#        CHECK=50 (paths of each kind requested once for the hits / total columns);
#        IMPORT_BATCH=1000 (bundle files per `benhan import` process); TARGET_MS=10 (p95 target);
#        DATA_CACHE=DIR: keep the imported data dir of each scale in DIR/xSCALE and reuse it when
#        present (the import figures printed are then those of the run that made it).
#
# For each scale:
#  1. bench/synthea_scale.py writes 1,000 x SCALE patients' Synthea transaction bundles (the 71 bundles
#     of $SYNTHEA replicated with fresh UUIDs, shifted dates, new names; see that file) to a temp dir;
#  2. `benhan import` loads them into a fresh data dir, IMPORT_BATCH files per process (one process
#     for all of them lets the WAL grow without bound: see docs/benchmarks.md, "Search latency");
#  3. `benhan serve` starts in token mode (every request carries the bearer header);
#     bench/search_targets.py picks the query targets from the served data (real names, birthdates,
#     patient ids, codes; hits and misses), requests the first CHECK paths of each kind once (check
#     and warm-up) and counts their hits and result sizes. The data is the same every
#     run (seeded) but ids are assigned by the server, so the sampled targets differ between runs;
#  4. per query kind: wrk -t1 -c1 for WARMUP s (warm-up), then wrk -t1 -c1 for DURATION s: one
#     client, one request at a time, keep-alive (p50/p95/p99 of these); then wrk -tTHREADS -cCONNS
#     for TP_DURATION s (requests/s with several clients). bench/latency.lua cycles the paths.
# Baselines in the same run: GET /healthz (the HTTP floor) and GET /fhir/Patient/ID (read by id).
# wrk and the server share the machine's cores.
source "$(dirname "$0")/lib.sh"
SCALES=("$@")
[[ ${#SCALES[@]} -eq 0 ]] && SCALES=(1 10)
DURATION="${DURATION:-10}"
TP_DURATION="${TP_DURATION:-10}"
CONNS="${CONNS:-8}"
THREADS="${THREADS:-2}"
WARMUP="${WARMUP:-2}"
SAMPLE="${SAMPLE:-200}"
CHECK="${CHECK:-50}"
IMPORT_BATCH="${IMPORT_BATCH:-1000}"
TARGET_MS="${TARGET_MS:-10}"
command -v wrk >/dev/null || { echo "wrk not found (scripts/install-deps.sh installs it)" >&2; exit 1; }

KINDS=(healthz read name_birthdate name_vi obs_code_date condition_code encounter_include has_obs_code)
label() {
  case $1 in
    healthz) echo "GET /healthz (baseline: HTTP floor)";;
    read) echo "Patient/ID (baseline: read by id)";;
    name_birthdate) echo "Patient?name=FAMILY&birthdate=DATE";;
    name_vi) echo "Patient?name=nguyen&name=huong (no diacritics)";;
    obs_code_date) echo "Observation?patient=ID&code=loinc\\|C&date=geA&date=leB";;
    condition_code) echo "Condition?code=snomed\\|C";;
    encounter_include) echo "Encounter?patient=ID&_include=Encounter:practitioner";;
    has_obs_code) echo "Patient?_has:Observation:patient:code=loinc\\|C&_count=10";;
  esac
}

# wrk_run THREADS CONNS SECONDS PATHS_FILE -> "rps p50 p95 p99 max requests errors non2xx"
wrk_run() {
  local out
  out=$(timeout $(($3 + 60)) wrk -t "$1" -c "$2" -d "${3}s" --timeout 30s -s "$ROOT/bench/latency.lua" \
        "http://127.0.0.1:$PORT" -- "$4" "$TOKEN" | grep '^result')
  sed -E 's/[a-z0-9_]+=//g; s/^result //' <<<"$out"
}

machine_line
echo "# wrk: latency -t1 -c1 ${DURATION}s after ${WARMUP}s warm-up; throughput -t$THREADS -c$CONNS ${TP_DURATION}s"
for scale in "${SCALES[@]}"; do
  patients=$((scale * 1000))
  echo
  echo "## ${patients} patients (scale ${scale}x)"
  if [[ -n "${DATA_CACHE:-}" ]]; then base="$DATA_CACHE/x$scale"; else base="$WORK/x$scale"; fi
  D="$base/data"
  if [[ -n "${DATA_CACHE:-}" && -f "$D/benhan.db" && -f "$base/import.txt" ]]; then
    echo "# reusing $D"
    [[ -f "$base/generate.txt" ]] && cat "$base/generate.txt"
  else
    rm -rf "$base"
    mkdir -p "$base"
    G="$WORK/gen$scale"
    timeout 1800 "$PY" "$ROOT/bench/synthea_scale.py" --src "$SYNTHEA" --patients "$patients" --out "$G" \
      | tee "$base/generate.txt"
    (cd "$G" && ls) | sort >"$WORK/files$scale"
    split -l "$IMPORT_BATCH" -d -a 4 "$WORK/files$scale" "$WORK/batch$scale."
    t0=$(date +%s%N)
    resources=0 errors=0
    for b in "$WORK/batch$scale".*; do
      line=$(cd "$G" && timeout 3600 "$BENHAN" import --data "$D" $(cat "$b") 2>&1 | grep -E "^imported") \
        || { echo "import failed" >&2; exit 1; }
      # imported N resources from F files in S s (R resources/s), E errors
      resources=$((resources + $(awk '{print $2}' <<<"$line")))
      errors=$((errors + $(sed -E 's/.*, ([0-9]+) errors.*/\1/' <<<"$line")))
    done
    t1=$(date +%s%N)
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", (b - a) / 1e9}')
    echo "imported $resources resources in $secs s ($(awk -v n="$resources" -v s="$secs" 'BEGIN {printf "%.0f", n / s}') resources/s; $(ls "$WORK/batch$scale".* | wc -l) benhan import processes of ≤ $IMPORT_BATCH files), $errors errors; load average after: $(cut -d' ' -f1-3 /proc/loadavg)" \
      >"$base/import.txt"
    rm -rf "$G" "$WORK/batch$scale".*
  fi
  cat "$base/import.txt"
  echo "# database: $(du -m "$D/benhan.db" | cut -f1) MB (benhan.db)"
  start_server "$D"
  TOKEN="$D/secrets/admin.token"
  T="$base/targets"
  timeout 1800 "$PY" "$ROOT/bench/search_targets.py" --port "$PORT" --token-file "$TOKEN" --out "$T" \
    --sample "$SAMPLE" --check "$CHECK"
  echo "# data: $(cat "$T/counts.txt")"
  echo /healthz >"$T/healthz.txt"
  echo -e "healthz\t1\t100\t-\t-\t-" >>"$T/summary.tsv"
  echo "# load average before the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "| query ($patients patients) | paths | hits | median total | p50 ms | p95 ms | p99 ms | p95 < $TARGET_MS ms | requests (1 client) | requests/s ($CONNS conns) | p50 / p99 ms ($CONNS conns) |"
  echo "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|"
  for k in "${KINDS[@]}"; do
    wrk_run 1 1 "$WARMUP" "$T/$k.txt" >/dev/null
    read -r _ p50 p95 p99 _ n err non2xx < <(wrk_run 1 1 "$DURATION" "$T/$k.txt")
    read -r trps tp50 _ tp99 _ _ terr tnon2xx < <(wrk_run "$THREADS" "$CONNS" "$TP_DURATION" "$T/$k.txt")
    read -r _ npaths hits total _ < <(grep -P "^$k\t" "$T/summary.tsv")
    ok=$(awk -v p="$p95" -v t="$TARGET_MS" 'BEGIN {print (p < t) ? "yes" : "**no**"}')
    [[ "$err$non2xx$terr$tnon2xx" == 0000 ]] || ok="$ok (errors $err/$non2xx/$terr/$tnon2xx)"
    echo "| $(label "$k") | $npaths | ${hits}% | $total | $p50 | $p95 | $p99 | $ok | $n | $trps | $tp50 / $tp99 |"
  done
  echo
  echo "# after the runs: load average $(cut -d' ' -f1-3 /proc/loadavg); server VmRSS $(( $(rss_kib "$SERVER_PID") / 1024 )) MiB"
  stop_server
done
