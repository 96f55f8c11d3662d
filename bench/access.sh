#!/usr/bin/env bash
# The cost of authentication + access policy + audit per read, same run, same data, same paths.
#
# usage: bench/access.sh [DURATION_S=10]
# env:   BENHAN, SYNTHEA (see lib.sh), CONNS=64, THREADS=2 (wrk), ROUNDS=3 (alternating runs;
#        the median is reported), PERF_RECORD=1 (also `perf record` the server during each run;
#        reports kept in $WORK/perf.VARIANT.txt, use with BENCH_KEEP=1)
#
# Loads the Synthea bundles, picks the patient with the most resources and lists every resource
# of their record ($everything) as GET /fhir/TYPE/ID paths. Then, alternating ROUNDS times:
#   nothing  `serve --demo --bench-unaudited`: no authentication, no policy, no audit (the flag is
#            refused without --demo, which only listens on loopback: it cannot be turned on in
#            production); the baseline the issue's "with and without" asks for
#   demo     `serve --demo`: no authentication, no policy (all_access); reads are still audited
#            (the audit trail cannot be switched off)
#   admin    bearer token (hash lookup), administrator: policy bypassed; audited
#   patient  bearer token of role "patient" with that patient's SMART context: scope/role/hours
#            check, the resource parsed and its patient compared, audited with the patient id
#   doctor   bearer token of role "doctor" whose Practitioner is a participant of the patient's
#            Encounter: role check, care set (cached), resource parsed, audited (skipped when the
#            data's Encounters name no Practitioner by id)
#   oauth    the same doctor as a local user account, through an OAuth2 access token (scope
#            user/*.rs) obtained by authorization code + PKCE (bench/oauth_token.py): the token
#            looked up in security_kv (cached 2 s), SMART scopes checked, then as doctor
# Besides requests/s (wall rate: noisy on a shared machine) it reports the server's CPU time per
# request (user + system of every server thread, audit writer included, from /proc/PID/stat,
# divided by the requests wrk completed): stable under load, the figure to judge changes by.
# The audit trail is checked with `benhan audit verify` at the end.
#
# CALLGRIND=1 (with ROUNDS=1; REQUESTS=3000): instead of wrk, each server runs under
# `valgrind --tool=callgrind` and one keep-alive connection reads the record's paths REQUESTS times
# after 300 warm-up reads; the counters are zeroed before and dumped after (the audit writer's
# batches flushed), giving the server's instructions per request: deterministic, unlike CPU time
# on a shared machine. Slow (~1 min per variant).
#
# PAIRED=1 (ROUNDS=9, a DURATION of 3 s is enough): the three servers (nothing and demo on copies
# of the data dir, and the authenticated one) run at the same time and every round measures all
# six variants back to back; each variant is reported as the median over rounds of its ratio to
# the same round's "nothing", so a machine whose speed drifts between rounds (this VM's does, by
# up to 2x) cancels out of the comparison.
source "$(dirname "$0")/lib.sh"
DURATION="${1:-10}"
CONNS="${CONNS:-64}"
THREADS="${THREADS:-2}"
ROUNDS="${ROUNDS:-3}"
CALLGRIND="${CALLGRIND:-0}"
PAIRED="${PAIRED:-0}"
REQUESTS="${REQUESTS:-3000}"
if [[ "$CALLGRIND" == 1 ]]; then
  command -v valgrind >/dev/null || { echo "valgrind not found" >&2; exit 1; }
  SERVER_WRAP="valgrind --tool=callgrind --callgrind-out-file=$WORK/cg.%p"
  START_WAIT_TICKS=60000  # start-up under valgrind takes tens of seconds
  export BENHAN_MALLOC_TUNED=1  # no re-exec for the allocator's settings (valgrind cannot follow it)
fi
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
  OAUTH_PASSWORD="Bench-mat-khau-2026"
  printf '%s\n' "$OAUTH_PASSWORD" | "$BENHAN" user add bench.doctor --data "$D" --role doctor \
    --practitioner "$PRAC" --password-stdin >/dev/null
  "$BENHAN" client add bench-app --data "$D" --name bench --redirect http://127.0.0.1/cb \
    --scope "user/*.rs" >/dev/null
fi
echo "$ADMIN" >"$WORK/admin.token"
echo "# patient $PID: $(wc -l <"$WORK/paths.txt") resources ($(cut -d/ -f3 "$WORK/paths.txt" | sort | uniq -c | sort -rn | head -4 | awk '{printf "%s %s, ", $1, $2}')...); doctor $PRAC"
echo "# wrk: $THREADS threads, $CONNS connections, ${DURATION}s per run, $ROUNDS rounds (median)"

declare -A RPS P50 P99 ERR CPU INSTR HANDLE WRITER
names() {
  case $1 in
    nothing) echo "nothing: demo mode with --bench-unaudited (no authentication, policy or audit)";;
    demo) echo "demo mode: no authentication, no policy (audited)";;
    admin) echo "administrator token: authentication + audit";;
    patient) echo "patient-context token: authentication + policy + audit";;
    doctor) echo "doctor token (care set): authentication + policy + audit";;
    oauth) echo "doctor through an OAuth2 access token: authentication + scopes + policy + audit";;
  esac
}
pct() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%+.1f%%", (a / b - 1) * 100}'; }
TICK=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }  # utime + stime, all threads
# reads PORT TOKEN_FILE N: N sequential keep-alive GETs over the record's paths (all must be 200).
reads() {
  "$PY" - "$1" "$2" "$3" "$WORK/paths.txt" <<'PYEOF'
import http.client, sys
port, token, n, paths = int(sys.argv[1]), open(sys.argv[2]).read().strip(), int(sys.argv[3]), open(sys.argv[4]).read().split()
c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
for i in range(n):
    c.request("GET", paths[i % len(paths)], headers={"Authorization": "Bearer " + token})
    r = c.getresponse(); r.read()
    if r.status != 200: sys.exit("HTTP %d for %s" % (r.status, paths[i % len(paths)]))
PYEOF
}
run_callgrind() {  # run_callgrind NAME TOKEN_FILE: instructions per request under callgrind
  local dump total
  reads "$PORT" "$2" 300
  sleep 0.5  # the audit writer's warm-up batch committed
  callgrind_control -z "$SERVER_PID" >/dev/null
  reads "$PORT" "$2" "$REQUESTS"
  sleep 3  # its 200 ms batches of these reads committed (slower under valgrind)
  callgrind_control -d "$SERVER_PID" >/dev/null
  dump=$(ls -t "$WORK"/cg."$SERVER_PID".* | head -1)
  total=$(grep -m1 -E '^(summary|totals):' "$dump" | awk '{print $2}')
  INSTR[$1]+="$(awk -v t="$total" -v n="$REQUESTS" 'BEGIN {printf "%.1f", t / n / 1000}') "
  # The request thread's FHIR handling and the audit writer, inclusive (the writer's share per
  # read depends on how many rows each of its 200 ms batches holds: few under valgrind).
  local incl
  incl=$(callgrind_annotate --inclusive=yes --threshold=100 "$dump" 2>/dev/null)
  HANDLE[$1]+="$(grep -m1 'FhirApi::Handle(' <<<"$incl" | awk -v n="$REQUESTS" '{gsub(",", "", $1); printf "%.1f", $1 / n / 1000}') "
  WRITER[$1]+="$(grep -m1 'AuditLog::Run()' <<<"$incl" | awk -v n="$REQUESTS" '{gsub(",", "", $1); printf "%.1f", $1 / n / 1000}') "
}
run() {  # run NAME TOKEN_FILE
  if [[ "$CALLGRIND" == 1 ]]; then
    run_callgrind "$@"
    return
  fi
  local out rps p50 p99 n err non2xx c0 c1 perf_pid=""
  if [[ "${PERF_RECORD:-0}" == 1 ]]; then
    perf record -F 499 -g -p "$SERVER_PID" -o "$WORK/perf.$1.data" -- sleep "$DURATION" \
      >/dev/null 2>&1 &
    perf_pid=$!
  fi
  c0=$(cpu_ticks)
  out=$(timeout $((DURATION + 30)) wrk -t "$THREADS" -c "$CONNS" -d "${DURATION}s" --timeout 10s \
        -s "$ROOT/bench/latency.lua" "http://127.0.0.1:$PORT" -- "$WORK/paths.txt" "$2" | grep '^result')
  c1=$(cpu_ticks)
  read -r rps p50 _p95 p99 _max n err non2xx < <(sed -E 's/[a-z0-9_]+=//g; s/^result //' <<<"$out")
  RPS[$1]+="$rps "; P50[$1]+="$p50 "; P99[$1]+="$p99 "; ERR[$1]+="$((err + non2xx)) "
  CPU[$1]+="$(awk -v c="$((c1 - c0))" -v t="$TICK" -v n="$n" 'BEGIN {printf "%.1f", c / t * 1e6 / n}') "
  if [[ -n "$perf_pid" ]]; then
    wait "$perf_pid" || true
    perf report -i "$WORK/perf.$1.data" --no-children --percent-limit 0.5 --stdio \
      >"$WORK/perf.$1.txt" 2>/dev/null || true
  fi
}
demo_server() {  # demo_server [extra serve args]; DEMO_DATA: its data dir (default $D)
  start_server "${DEMO_DATA:-$D}" --demo "$@"
  # Demo mode's warning also says "listening on": wait for the real line and take its port.
  for ((i = 0; i < ${START_WAIT_TICKS:-6000}; i++)); do
    grep -q 'listening on http://127\.0\.0\.1:' "$SERVER_LOG" && break
    sleep 0.01
  done
  PORT=$(grep -m1 -oE 'listening on http://127\.0\.0\.1:[0-9]+' "$SERVER_LOG" | sed -E 's/.*://')
}
if [[ "$PAIRED" == 1 ]]; then
  cp -a "$D" "$WORK/data-nothing"
  cp -a "$D" "$WORK/data-demo"
  DEMO_DATA="$WORK/data-nothing" demo_server --bench-unaudited
  N_PORT=$PORT N_PID=$SERVER_PID
  SERVER_PIDS+=("$SERVER_PID")
  DEMO_DATA="$WORK/data-demo" demo_server
  M_PORT=$PORT M_PID=$SERVER_PID
  SERVER_PIDS+=("$SERVER_PID")
  start_server "$D"
  A_PORT=$PORT A_PID=$SERVER_PID
  if [[ "$PRAC" != "-" ]]; then
    "$PY" "$ROOT/bench/oauth_token.py" "http://127.0.0.1:$A_PORT" bench-app http://127.0.0.1/cb \
      bench.doctor "$OAUTH_PASSWORD" "user/*.rs" >"$WORK/oauth.token"
  fi
  variants="nothing demo admin patient"
  [[ "$PRAC" != "-" ]] && variants+=" doctor oauth"
  on() {  # on VARIANT: PORT, SERVER_PID and token of the server that variant is read from
    case $1 in
      nothing) PORT=$N_PORT SERVER_PID=$N_PID TOKEN="$WORK/admin.token" ;;
      demo) PORT=$M_PORT SERVER_PID=$M_PID TOKEN="$WORK/admin.token" ;;
      *) PORT=$A_PORT SERVER_PID=$A_PID TOKEN="$WORK/$1.token" ;;
    esac
  }
  for v in $variants; do  # warm-up: caches, prepared statements, the care set
    on "$v"
    reads "$PORT" "$TOKEN" 300
  done
  declare -A RR CR  # per-round ratios to the round's "nothing"
  for ((round = 1; round <= ROUNDS; round++)); do
    for v in $variants; do
      on "$v"
      run "$v" "$TOKEN"
    done
    nr=$(awk '{print $NF}' <<<"${RPS[nothing]}")
    nc=$(awk '{print $NF}' <<<"${CPU[nothing]}")
    for v in $variants; do
      RR[$v]+="$(awk -v a="$(awk '{print $NF}' <<<"${RPS[$v]}")" -v b="$nr" 'BEGIN {printf "%.4f", a / b}') "
      CR[$v]+="$(awk -v a="$(awk '{print $NF}' <<<"${CPU[$v]}")" -v b="$nc" 'BEGIN {printf "%.4f", a / b}') "
    done
  done
  SERVER_PID=$A_PID
  echo
  echo "| reads of one patient's record, paired rounds | requests/s vs the same round's nothing (median of $ROUNDS) | server CPU per request vs nothing (median) | requests/s (median) | CPU µs/request (median) | errors + non-2xx |"
  echo "|---|---:|---:|---:|---:|---:|"
  for v in $variants; do
    echo "| $(names "$v") | $(awk -v r="$(median ${RR[$v]})" 'BEGIN {printf "%+.1f%%", (r - 1) * 100}') | $(awk -v r="$(median ${CR[$v]})" 'BEGIN {printf "%+.1f%%", (r - 1) * 100}') | $(median ${RPS[$v]}) | $(median ${CPU[$v]}) | ${ERR[$v]}|"
  done
  echo "# per-round requests/s ratios to nothing: $(for v in $variants; do echo -n "$v ${RR[$v]}; "; done)"
  echo "# every round, requests/s: $(for v in $variants; do echo -n "$v ${RPS[$v]}; "; done)"
  echo
  "$BENHAN" audit verify --data "$D"
  echo "# load average after the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
  exit 0
fi
for ((round = 1; round <= ROUNDS; round++)); do
  demo_server --bench-unaudited
  run nothing "$WORK/admin.token"
  stop_server
  demo_server
  run demo "$WORK/admin.token"
  stop_server
  start_server "$D"
  run admin "$WORK/admin.token"
  run patient "$WORK/patient.token"
  if [[ "$PRAC" != "-" ]]; then
    run doctor "$WORK/doctor.token"
    # A fresh access token each round (they live minutes).
    "$PY" "$ROOT/bench/oauth_token.py" "http://127.0.0.1:$PORT" bench-app http://127.0.0.1/cb \
      bench.doctor "$OAUTH_PASSWORD" "user/*.rs" >"$WORK/oauth.token"
    run oauth "$WORK/oauth.token"
  fi
  stop_server
done
if [[ "$CALLGRIND" == 1 ]]; then
  inone=$(median ${INSTR[nothing]})
  echo
  hnone=$(median ${HANDLE[nothing]})
  echo "| reads of one patient's record ($REQUESTS, one connection, callgrind) | server k instructions/request | vs nothing | requests/s if CPU-bound, vs nothing | FhirApi::Handle k/request | vs nothing | audit writer k/request |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for v in nothing demo admin patient doctor oauth; do
    [[ -z "${INSTR[$v]:-}" ]] && continue
    i=$(median ${INSTR[$v]})
    h=$(median ${HANDLE[$v]})
    echo "| $(names $v) | $i | $(pct "$i" "$inone") | $(pct "$inone" "$i") | $h | $(pct "$h" "$hnone") | ${WRITER[$v]:-0} |"
  done
  "$BENHAN" audit verify --data "$D"
  exit 0
fi
base=$(median ${RPS[demo]})
none=$(median ${RPS[nothing]})
cbase=$(median ${CPU[demo]})
cnone=$(median ${CPU[nothing]})
echo
echo "| reads of one patient's record | requests/s (median) | vs nothing | vs demo | server CPU µs/request (median) | CPU vs nothing | CPU vs demo | p50 ms | p99 ms | errors + non-2xx |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for v in nothing demo admin patient doctor oauth; do
  [[ -z "${RPS[$v]:-}" ]] && continue
  name=$(names $v)
  r=$(median ${RPS[$v]})
  c=$(median ${CPU[$v]})
  echo "| $name | $r | $(pct "$r" "$none") | $(pct "$r" "$base") | $c | $(pct "$c" "$cnone") | $(pct "$c" "$cbase") | $(median ${P50[$v]}) | $(median ${P99[$v]}) | ${ERR[$v]}|"
done
echo "# every round, requests/s: $(for v in nothing demo admin patient doctor oauth; do echo -n "$v ${RPS[$v]:-}; "; done)"
echo "# every round, CPU µs/request: $(for v in nothing demo admin patient doctor oauth; do echo -n "$v ${CPU[$v]:-}; "; done)"
echo
"$BENHAN" audit verify --data "$D"
echo "# load average after the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
