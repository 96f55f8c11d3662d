#!/usr/bin/env bash
# Start-up time and idle memory of `benhan serve`, on an empty data dir and with the Synthea data.
#
# usage: bench/startup_memory.sh [REPEATS=3]
# env:   BENHAN, SYNTHEA (see lib.sh)
#
# start-up: wall = this script's clock from exec to seeing the "listening on" line in the log
#           (polled every 10 ms, so it includes up to ~10 ms of polling); server = the server's own
#           "started in N ms" (from main() to the socket bound; excludes exec and dynamic loading).
# memory:   VmRSS from /proc/PID/status after 2 s idle ("idle"), then again after one warm-up
#           request of each kind (metadata, a validated create, a read, a search) and 2 s idle ("warm").
# Token mode (no --demo); each row is the median of REPEATS starts.
source "$(dirname "$0")/lib.sh"
REPEATS="${1:-3}"
machine_line

warm() {  # one request of each kind: metadata, create (validation + indexing), read, search
  "$PY" - "$PORT" "$1/secrets/admin.token" <<'PYEOF'
import http.client, json, sys
port, tok = int(sys.argv[1]), open(sys.argv[2]).read().strip()
h = {"Authorization": "Bearer " + tok, "Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
def req(m, p, body=None):
    c.request(m, p, body=body, headers=h); r = c.getresponse(); r.read()
    if r.status >= 300: sys.exit(f"{m} {p}: HTTP {r.status}")
    return r
req("GET", "/fhir/metadata")
r = req("POST", "/fhir/Patient", json.dumps({"resourceType": "Patient", "name": [{"family": "Nguyen", "given": ["An"]}], "birthDate": "1980-01-01"}))
loc = r.getheader("Location") or ""
pid = loc.split("/Patient/")[1].split("/")[0] if "/Patient/" in loc else None
if pid: req("GET", "/fhir/Patient/" + pid)
req("GET", "/fhir/Patient?name=Nguyen")
PYEOF
}

measure() {  # measure LABEL DATA_DIR_MAKER
  local label="$1" mk="$2" i
  local -a wall srv idle warmr
  for ((i = 1; i <= REPEATS; i++)); do
    local d
    d=$($mk "$i")
    start_server "$d"
    wall+=("$WALL_MS"); srv+=("$START_MS")
    sleep 2; idle+=("$(rss_kib "$SERVER_PID")")
    warm "$d"; sleep 2; warmr+=("$(rss_kib "$SERVER_PID")")
    stop_server
  done
  printf '| %s | %s | %s | %.1f | %.1f | wall %s; server %s; idle KiB %s; warm KiB %s |\n' "$label" \
    "$(median "${wall[@]}")" "$(median "${srv[@]}")" \
    "$(awk -v k="$(median "${idle[@]}")" 'BEGIN{print k/1024}')" \
    "$(awk -v k="$(median "${warmr[@]}")" 'BEGIN{print k/1024}')" \
    "${wall[*]}" "${srv[*]}" "${idle[*]}" "${warmr[*]}"
}

empty_dir() { echo "$WORK/empty$1"; }  # a new dir each start: creates the database
empty_again() { echo "$WORK/empty1"; }  # the same (already created) empty database
timeout 600 "$BENHAN" import --data "$WORK/synthea" --jobs 2 "$SYNTHEA" 2>&1 | grep -E "^imported"
loaded_dir() { echo "$WORK/synthea"; }

echo
echo "| data dir | start-up wall ms | start-up server ms | idle RSS MiB | warm RSS MiB | runs |"
echo "|---|---:|---:|---:|---:|---|"
measure "new, empty (creates the database)" empty_dir
measure "existing, empty" empty_again
measure "Synthea loaded ($(du -sh "$WORK/synthea/benhan.db" | cut -f1) database)" loaded_dir
echo
echo "# targets: start-up < 1000 ms; idle RSS < 100 MiB. load average $(cut -d' ' -f1-3 /proc/loadavg)"
