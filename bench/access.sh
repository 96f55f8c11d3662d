#!/usr/bin/env bash
# The cost of authentication + access policy + audit per read, same run, same data, same paths.
#
# usage: bench/access.sh [DURATION_S=10]
# env:   BENHAN, SYNTHEA (see lib.sh), CONNS=64, THREADS=2 (wrk), ROUNDS=3 (alternating runs;
#        the median is reported)
#
# Loads the Synthea bundles, picks the patient with the most resources and lists every resource
# of their record ($everything) as GET /fhir/TYPE/ID paths. Then, alternating ROUNDS times:
#   demo     `serve --demo`: no authentication, no policy (all_access); reads are still audited
#            (the audit trail cannot be switched off)
#   admin    bearer token (hash lookup), administrator: policy bypassed; audited
#   patient  bearer token of role "patient" with that patient's SMART context: scope/role/hours
#            check, the resource parsed and its patient compared, audited with the patient id
#   doctor   bearer token of role "doctor" whose Practitioner is a participant of the patient's
#            Encounter: role check, care set (cached), resource parsed, audited (skipped when the
#            data's Encounters name no Practitioner by id)
# The audit trail is checked with `benhan audit verify` at the end.
source "$(dirname "$0")/lib.sh"
DURATION="${1:-10}"
CONNS="${CONNS:-64}"
THREADS="${THREADS:-2}"
ROUNDS="${ROUNDS:-3}"
command -v wrk >/dev/null || { echo "wrk not found (scripts/install-deps.sh installs it)" >&2; exit 1; }

machine_line
D="$WORK/data"
timeout 600 "$BENHAN" import --data "$D" --jobs 2 "$SYNTHEA" 2>&1 | grep -E "^imported"
start_server "$D"
ADMIN="$(cat "$D/secrets/admin.token")"
URL="http://127.0.0.1:$PORT/fhir"
# The patient with the most Encounters, their record, and a practitioner of theirs.
read -r PID PRAC < <(curl -s -H "Authorization: Bearer $ADMIN" "$URL/Encounter?_count=1000&_elements=subject,participant" |
  "$PY" -c '
import json, sys, collections
b = json.load(sys.stdin)
n = collections.Counter(); prac = {}
for e in b.get("entry", []):
    r = e["resource"]; s = r.get("subject", {}).get("reference", "")
    if not s.startswith("Patient/"): continue
    n[s[8:]] += 1
    for p in r.get("participant", []):
        ref = p.get("individual", {}).get("reference", "")
        if ref.startswith("Practitioner/"): prac.setdefault(s[8:], ref)
cands = [p for p in n if p in prac] or list(n)
pid = max(cands, key=lambda p: n[p])
print(pid, prac.get(pid, "-"))')
curl -s -H "Authorization: Bearer $ADMIN" "$URL/Patient/$PID/\$everything?_count=5000" |
  "$PY" -c '
import json, sys
for e in json.load(sys.stdin).get("entry", []):
    r = e["resource"]; print("/fhir/%s/%s" % (r["resourceType"], r["id"]))' >"$WORK/paths.txt"
stop_server
"$BENHAN" token add --data "$D" --id bench-patient --role patient --patient "Patient/$PID" \
  >"$WORK/patient.token" 2>/dev/null
if [[ "$PRAC" != "-" ]]; then
  "$BENHAN" token add --data "$D" --id bench-doctor --role doctor --practitioner "$PRAC" \
    >"$WORK/doctor.token" 2>/dev/null
fi
echo "$ADMIN" >"$WORK/admin.token"
echo "# patient $PID: $(wc -l <"$WORK/paths.txt") resources ($(cut -d/ -f3 "$WORK/paths.txt" | sort | uniq -c | sort -rn | head -4 | awk '{printf "%s %s, ", $1, $2}')...); doctor $PRAC"
echo "# wrk: $THREADS threads, $CONNS connections, ${DURATION}s per run, $ROUNDS rounds (median)"

declare -A RPS P50 P99 ERR
run() {  # run NAME TOKEN_FILE
  local out rps p50 p99 n err non2xx
  out=$(timeout $((DURATION + 30)) wrk -t "$THREADS" -c "$CONNS" -d "${DURATION}s" --timeout 10s \
        -s "$ROOT/bench/latency.lua" "http://127.0.0.1:$PORT" -- "$WORK/paths.txt" "$2" | grep '^result')
  read -r rps p50 _p95 p99 _max n err non2xx < <(sed -E 's/[a-z0-9_]+=//g; s/^result //' <<<"$out")
  RPS[$1]+="$rps "; P50[$1]+="$p50 "; P99[$1]+="$p99 "; ERR[$1]+="$((err + non2xx)) "
}
for ((round = 1; round <= ROUNDS; round++)); do
  start_server "$D" --demo
  # Demo mode's warning also says "listening on": wait for the real line and take its port.
  for ((i = 0; i < 6000; i++)); do
    grep -q 'listening on http://127\.0\.0\.1:' "$SERVER_LOG" && break
    sleep 0.01
  done
  PORT=$(grep -m1 -oE 'listening on http://127\.0\.0\.1:[0-9]+' "$SERVER_LOG" | sed -E 's/.*://')
  run demo "$WORK/admin.token"
  stop_server
  start_server "$D"
  run admin "$WORK/admin.token"
  run patient "$WORK/patient.token"
  [[ "$PRAC" != "-" ]] && run doctor "$WORK/doctor.token"
  stop_server
done
base=$(median ${RPS[demo]})
echo
echo "| reads of one patient's record | requests/s (median) | vs demo | p50 ms | p99 ms | errors + non-2xx |"
echo "|---|---:|---:|---:|---:|---:|"
for v in demo admin patient doctor; do
  [[ -z "${RPS[$v]:-}" ]] && continue
  case $v in
    demo) name="demo mode: no authentication, no policy (audited)";;
    admin) name="administrator token: authentication + audit";;
    patient) name="patient-context token: authentication + policy + audit";;
    doctor) name="doctor token (care set): authentication + policy + audit";;
  esac
  r=$(median ${RPS[$v]})
  echo "| $name | $r | $(awk -v a="$r" -v b="$base" 'BEGIN {printf "%+.1f%%", (a / b - 1) * 100}') | $(median ${P50[$v]}) | $(median ${P99[$v]}) | ${ERR[$v]}|"
done
echo
"$BENHAN" audit verify --data "$D"
echo "# load average after the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
