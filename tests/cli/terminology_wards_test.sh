#!/usr/bin/env bash
# `benhan terminology import --format ward-csv / ward-map-csv`: the government's ward lists (the
# samples in tests/terminology/data) and old -> new conversion table are stored; a server on the
# data then autocompletes ward names, translates legacy wards through the stored ConceptMap and,
# with identifiers.check = error, refuses an unknown ward and accepts a legacy one.
# Usage: terminology_wards_test.sh BENHAN_BIN SOURCE_DIR
set -euo pipefail
bin=$1
src=$2
samples="$src/tests/terminology/data"
tmp=$(mktemp -d)
server_pid=""
cleanup() {
  [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  if [[ "${ok:-0}" == 1 ]]; then rm -rf "$tmp"; else echo "kept $tmp"; fi
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

out=$("$bin" terminology import --format ward-csv --version 2025 --valid-from 2025-07-01 \
      --data "$tmp/d" "$samples/wards_2025_annex_sample.csv" 2>"$tmp/err1") || fail "$(cat "$tmp/err1")"
echo "$out"
[[ "$out" == *"13 rows, 12 concepts, 2 notes -> CodeSystem/vn-ward-2025"* ]] || fail "current list: $out"
grep -q "province 'TỈNH HÀ TÂY' is not in the list" "$tmp/err1" || fail "unknown province not noted"
out=$("$bin" terminology import --format ward-csv --version 2025-01 \
      --url http://benhan.vn/fhir/CodeSystem/vn-ward-legacy --data "$tmp/d" \
      "$samples/wards_legacy_nso_sample.csv" 2>"$tmp/err2") || fail "$(cat "$tmp/err2")"
[[ "$out" == *"23 concepts, 0 notes -> CodeSystem/vn-ward-legacy-2025-01"* ]] || fail "legacy list: $out"
out=$("$bin" terminology import --format ward-map-csv --version 2025 --data "$tmp/d" \
      "$samples/ward_conversion_sample.csv" 2>"$tmp/err3") || fail "$(cat "$tmp/err3")"
[[ "$out" == *"22 rows, 19 legacy codes mapped"*"ConceptMap/vn-ward-legacy-to-current-2025"* ]] || fail "map: $out"
set +e
"$bin" terminology import --format ward-map-csv --version 1 --dry-run \
  "$samples/wards_2025_annex_sample.csv" >/dev/null 2>"$tmp/err4"
rc=$?
set -e
[[ $rc -ne 0 ]] && grep -q "no 'Mã Xã mới' and 'Mã Xã cũ' columns" "$tmp/err4" || fail "bad map file accepted"

printf 'identifiers.check: error\n' > "$tmp/benhan.conf"
"$bin" serve --listen 127.0.0.1:0 --data "$tmp/d" --config "$tmp/benhan.conf" 2>"$tmp/serve.log" &
server_pid=$!
for _ in $(seq 1 100); do grep -q "listening on" "$tmp/serve.log" && break; sleep 0.1; done
port=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\)\/fhir.*/\1/p' "$tmp/serve.log")
[[ -n "$port" ]] || fail "server did not start: $(cat "$tmp/serve.log")"
token=$(cat "$tmp/d/secrets/admin.token")
base="http://127.0.0.1:$port/fhir"
get() { curl -s -H "Authorization: Bearer $token" "$base/$1"; }
post() {
  curl -s -o "$tmp/body" -w '%{http_code}' -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/fhir+json' -X POST --data "$2" "$base/$1"
}
code=$(get 'ValueSet/$expand?url=http://benhan.vn/fhir/ValueSet/vn-ward&filter=hoan%20kiem' |
       python3 -c 'import json,sys; print(json.load(sys.stdin)["expansion"]["contains"][0]["code"])')
[[ "$code" == "00070" ]] || fail "ward autocomplete gave $code"
n=$(get 'ConceptMap/$translate?url=http://benhan.vn/fhir/ConceptMap/vn-ward-legacy-to-current&system=http://benhan.vn/fhir/CodeSystem/vn-ward-legacy&code=00040' |
    python3 -c 'import json,sys; print(sum(1 for p in json.load(sys.stdin)["parameter"] if p["name"]=="match"))')
[[ "$n" == "2" ]] || fail "legacy ward 00040 should map to 2 current wards, got $n"
patient() { echo "{\"resourceType\":\"Patient\",\"address\":[{\"state\":\"Hà Nội\",\"city\":\"$1\",\"country\":\"VN\"}]}"; }
st=$(post Patient "$(patient 'Phường Hàng Mã')")
[[ "$st" == "201" ]] || fail "a legacy ward should be accepted: $st $(cat "$tmp/body")"
grep -q "Phường Hàng Mã" "$tmp/serve.log" && grep -q "nay thuộc Phường Hoàn Kiếm (00070)" "$tmp/serve.log" ||
  fail "no warning with the current ward in the log"
st=$(post Patient "$(patient 'Phường Không Có')")
[[ "$st" == "400" ]] || fail "an unknown ward should be refused: $st"
grep -q '"expression":\["Patient.address\[0\].city"\]' "$tmp/body" || fail "the issue should name the city: $(cat "$tmp/body")"
st=$(post Patient "$(patient 'phuong o cho dua')")
[[ "$st" == "201" ]] || fail "a current ward without diacritics should be accepted: $st $(cat "$tmp/body")"
ok=1
echo "1 passed, 0 failed"
