#!/usr/bin/env bash
# Read and search throughput of `benhan serve` with wrk over keep-alive, with HTTP baselines.
#
# usage: bench/read.sh [DURATION_S=10]
# env:   BENHAN, SYNTHEA (see lib.sh), CONNS=64 (wrk connections), THREADS=2 (wrk threads),
#        SERVER_THREADS (benhan serve --threads; default: the server's own, 2 x cores)
#
# Loads the Synthea bundles with `benhan import` into a fresh data dir, starts the server in token
# mode (every request carries 'Authorization: Bearer ...'), lists targets with bench/read_targets.py,
# then runs wrk (bench/latency.lua cycling over the listed paths) for DURATION_S each:
#   healthz   GET /healthz                  (HTTP stack only: the floor of any request)
#   metadata  GET /fhir/metadata            (CapabilityStatement, a cached ~370 KB body)
#   read      GET /fhir/TYPE/ID             (~6,000 ids over 13 resource types)
#   search    GET /fhir/Patient?name=FAMILY (every family name of the data)
#   search    GET /fhir/Observation?patient=ID&code=loinc|29463-7
# wrk and the server share the machine's cores: the figures include wrk's own CPU use.
source "$(dirname "$0")/lib.sh"
DURATION="${1:-10}"
CONNS="${CONNS:-64}"
THREADS="${THREADS:-2}"
command -v wrk >/dev/null || { echo "wrk not found (scripts/install-deps.sh installs it)" >&2; exit 1; }

machine_line
D="$WORK/data"
timeout 600 "$BENHAN" import --data "$D" --jobs 2 "$SYNTHEA" 2>&1 | grep -E "^imported"
extra=()
[[ -n "${SERVER_THREADS:-}" ]] && extra=(--threads "$SERVER_THREADS")
start_server "$D" "${extra[@]}"
TOKEN="$D/secrets/admin.token"
echo "# server pid $SERVER_PID port $PORT; wrk: $THREADS threads, $CONNS connections, ${DURATION}s each"
timeout 120 "$PY" "$ROOT/bench/read_targets.py" --port "$PORT" --token-file "$TOKEN" --out "$WORK/t"
echo /healthz >"$WORK/t/healthz.txt"
echo /fhir/metadata >"$WORK/t/metadata.txt"

echo
echo "| request | requests/s | p50 ms | p99 ms | requests | errors | non-2xx |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for b in healthz metadata read search_name search_obs; do
  out=$(timeout $((DURATION + 30)) wrk -t "$THREADS" -c "$CONNS" -d "${DURATION}s" --timeout 10s \
        -s "$ROOT/bench/latency.lua" "http://127.0.0.1:$PORT" -- "$WORK/t/$b.txt" "$TOKEN" | grep '^result')
  # result rps=.. p50_ms=.. p95_ms=.. p99_ms=.. max_ms=.. requests=.. errors=.. non2xx=..
  read -r rps p50 _p95 p99 _max n err non2xx < <(sed -E 's/[a-z0-9_]+=//g; s/^result //' <<<"$out")
  case $b in
    healthz) name="GET /healthz (baseline)";;
    metadata) name="GET /fhir/metadata (baseline)";;
    read) name="GET /fhir/TYPE/ID ($(wc -l <"$WORK/t/read.txt") ids)";;
    search_name) name="GET /fhir/Patient?name=FAMILY ($(wc -l <"$WORK/t/search_name.txt") names)";;
    search_obs) name="GET /fhir/Observation?patient=ID&code=29463-7 ($(wc -l <"$WORK/t/search_obs.txt") patients)";;
  esac
  echo "| $name | $rps | $p50 | $p99 | $n | $err | $non2xx |"
done
echo
st="/proc/$SERVER_PID/status"
echo "# server after the runs: VmRSS $(( $(rss_kib "$SERVER_PID") / 1024 )) MiB (RssAnon $(( $(awk '/^RssAnon:/ {print $2}' "$st") / 1024 )) MiB, RssFile $(( $(awk '/^RssFile:/ {print $2}' "$st") / 1024 )) MiB: the mapped database), $(awk '/^Threads:/ {print $2}' "$st") threads; load average $(cut -d' ' -f1-3 /proc/loadavg)"
stop_server
