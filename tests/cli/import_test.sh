#!/usr/bin/env bash
# `benhan import`: Synthea transaction bundles and FHIR NDJSON load; bad lines are reported with
# file and line while the rest still loads; a server started on the data afterwards serves it.
# Usage: import_test.sh BENHAN_BIN SOURCE_DIR
set -euo pipefail
bin=$1
src=$2
data="$src/../shared/data"
if [[ ! -d "$data/synthea" ]]; then
  echo "SKIP: $data is absent: no Synthea data to import"
  exit 0
fi
tmp=$(mktemp -d)
server_pid=""
cleanup() {
  [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  if [[ "${ok:-0}" == 1 ]]; then rm -rf "$tmp"; else echo "kept $tmp"; fi
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

# 1. Synthea transaction bundles.
out=$("$bin" import --data "$tmp/d1" "$data/synthea/r4-bundles" 2>"$tmp/err1") || fail "import of r4-bundles failed: $(cat "$tmp/err1")"
echo "$out"
want=$(python3 -c "
import json,glob
print(sum(len(json.load(open(f))['entry']) for f in glob.glob('$data/synthea/r4-bundles/*.json')))")
[[ "$out" == "imported $want resources from 71 files"* ]] || fail "expected $want resources: $out"
[[ "$out" == *", 0 errors" ]] || fail "errors: $out"

# 2. NDJSON with one broken line and one unknown type in the middle: both reported, rest loaded.
mkdir -p "$tmp/nd"
head -n 20 "$data/synthea/bulk-ndjson/100-patients/Patient.000.ndjson" > "$tmp/nd/Patient.ndjson"
sed -i '7s/.*/{"resourceType": "Patient", "gender": /' "$tmp/nd/Patient.ndjson"
sed -i '12s/.*/{"resourceType": "Unicorn", "id": "u1"}/' "$tmp/nd/Patient.ndjson"
set +e
out=$("$bin" import --data "$tmp/d2" "$tmp/nd" 2>"$tmp/err2")
rc=$?
set -e
echo "$out"; cat "$tmp/err2"
[[ $rc -ne 0 ]] || fail "import with bad lines should exit non-zero"
[[ "$out" == "imported 18 resources from 1 files"*", 2 errors" ]] || fail "expected 18 loaded, 2 errors: $out"
grep -q "Patient.ndjson:7: " "$tmp/err2" || fail "line 7 not reported"
grep -q "Patient.ndjson:12: .Unicorn. is not a FHIR R4 resource type" "$tmp/err2" || fail "line 12 not reported"

# 3. Bulk export NDJSON whose resources refer to each other by conditional references across files.
set +e
out=$("$bin" import --data "$tmp/d3" "$data/synthea/bulk-ndjson/100-patients" 2>"$tmp/err3")
set -e
echo "$out"
lines=$(cat "$data"/synthea/bulk-ndjson/100-patients/[A-Z]*.ndjson | grep -c .)
[[ "$out" == "imported $lines resources"* ]] || fail "expected $lines resources: $out ($(head -5 "$tmp/err3"))"
# log.ndjson is the export's log, not FHIR: its lines are the only errors.
logl=$(grep -c . "$data/synthea/bulk-ndjson/100-patients/log.ndjson")
[[ "$out" == *", $logl errors" ]] || fail "expected only the $logl log.ndjson lines as errors: $out"

# 4. A server on the imported data serves it (token mode).
"$bin" serve --listen 127.0.0.1:0 --data "$tmp/d1" 2>"$tmp/serve.log" &
server_pid=$!
for _ in $(seq 1 100); do grep -q "listening on" "$tmp/serve.log" && break; sleep 0.1; done
port=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\)\/fhir.*/\1/p' "$tmp/serve.log")
[[ -n "$port" ]] || fail "server did not start: $(cat "$tmp/serve.log")"
token=$(cat "$tmp/d1/secrets/admin.token")
total=$(curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$port/fhir/Patient?_summary=count" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
wantp=$(python3 -c "
import json,glob
print(sum(1 for f in glob.glob('$data/synthea/r4-bundles/*.json') for e in json.load(open(f))['entry'] if e['resource']['resourceType']=='Patient'))")
[[ "$total" == "$wantp" ]] || fail "server sees $total patients, expected $wantp"
ok=1
echo "1 passed, 0 failed"
