#!/usr/bin/env bash
# `benhan digitize` and the digitize operations of `benhan serve`, with the real binary:
# --text and --dry-run on a two-page PDF (text layer, written here), then a server: POST
# /fhir/DocumentReference/$digitize (202 + job URL, polled to 200), $drafts, $review confirm and
# reject, the patient's record shows only the confirmed draft; bad input answers 4xx.
# Usage: digitize_test.sh BENHAN_BIN
set -uo pipefail
bin=$1
tmp=$(mktemp -d)
server_pid=""
cleanup() {
  [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
[[ -f /usr/share/tesseract-ocr/5/tessdata/vie.traineddata || -f /usr/share/tesseract-ocr/4.00/tessdata/vie.traineddata ]] ||
  { echo "SKIP: tesseract-ocr-vie not installed"; exit 0; }

# A two-page PDF with a text layer (Helvetica, so the text is unaccented: the extraction matches
# without diacritics too).
python3 - "$tmp/record.pdf" <<'PY'
import sys
pages = [["GIAY RA VIEN", "Ho va ten: NGUYEN VAN AN   Nam sinh: 1958   Gioi tinh: Nam",
          "Chan doan: Tang huyet ap (I10)", "Mach: 80 lan/phut"],
         ["Dieu tri:", "- Amlodipin 5mg x 1 vien/ngay, uong sang, 30 ngay"]]
objs = ["<< /Type /Catalog /Pages 2 0 R >>", None,
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
kids = []
for lines in pages:
    ops = "BT /F1 12 Tf 50 780 Td 16 TL " + " ".join("(%s) Tj T*" % l for l in lines) + " ET"
    objs.append("<< /Length %d >>\nstream\n%s\nendstream" % (len(ops), ops))
    objs.append("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (len(objs)))
    kids.append(len(objs))
objs[1] = "<< /Type /Pages /Kids [%s] /Count %d >>" % (" ".join("%d 0 R" % k for k in kids), len(kids))
out = "%PDF-1.4\n"
offs = []
for i, o in enumerate(objs):
    offs.append(len(out))
    out += "%d 0 obj\n%s\nendobj\n" % (i + 1, o)
x = len(out)
out += "xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1) + "".join("%010d 00000 n \n" % o for o in offs)
out += "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, x)
open(sys.argv[1], "w").write(out)
PY

# 1. --text
txt=$("$bin" digitize --text "$tmp/record.pdf" 2>"$tmp/err") || fail "--text failed: $(cat "$tmp/err")"
[[ "$txt" == *"Chan doan: Tang huyet ap (I10)"* && "$txt" == *"Amlodipin 5mg"* ]] || fail "--text output: $txt"
# 2. --dry-run: one Bundle with the drafts; nothing stored (no data directory made).
"$bin" digitize --dry-run "$tmp/record.pdf" --patient p1 >"$tmp/dry.json" 2>"$tmp/err" || fail "--dry-run failed: $(cat "$tmp/err")"
python3 - "$tmp/dry.json" <<'PY' || fail "--dry-run Bundle"
import json, sys
b = json.load(open(sys.argv[1]))
assert b["resourceType"] == "Bundle" and b["type"] == "transaction"
types = [e["resource"]["resourceType"] for e in b["entry"]]
cond = [e["resource"] for e in b["entry"] if e["resource"]["resourceType"] == "Condition"]
assert [c["code"]["coding"][0]["code"] for c in cond] == ["I10"], cond
assert cond[0]["verificationStatus"]["coding"][0]["code"] == "unconfirmed"
assert "DocumentReference" in types and "Provenance" in types and "MedicationStatement" in types, types
obs = [e["resource"] for e in b["entry"] if e["resource"]["resourceType"] == "Observation"]
assert obs[0]["valueQuantity"] == {"value": 80, "unit": "lần/phút", "system": "http://unitsofmeasure.org", "code": "/min"}, obs
PY
[[ ! -e ./benhan-data ]] || fail "--dry-run created a data directory"
# Usage errors.
"$bin" digitize "$tmp/record.pdf" >/dev/null 2>&1 && fail "storing without --patient should fail"
"$bin" digitize --text "$tmp/nope.png" >/dev/null 2>"$tmp/err" && fail "missing file should fail"
grep -q "Không mở được tệp" "$tmp/err" || fail "missing file message: $(cat "$tmp/err")"

# 3. The server.
"$bin" serve --listen 127.0.0.1:0 --data "$tmp/data" 2>"$tmp/serve.log" &
server_pid=$!
for _ in $(seq 1 100); do grep -q "listening on" "$tmp/serve.log" && break; sleep 0.1; done
port=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\)\/fhir.*/\1/p' "$tmp/serve.log")
[[ -n "$port" ]] || fail "server did not start: $(cat "$tmp/serve.log")"
base="http://127.0.0.1:$port/fhir"
auth="Authorization: Bearer $(cat "$tmp/data/secrets/admin.token")"
curl -sf -X PUT "$base/Patient/an" -H "$auth" -H 'Content-Type: application/fhir+json' \
  -d '{"resourceType":"Patient","id":"an","gender":"male"}' >/dev/null || fail "PUT Patient"
curl -sf "$base/metadata" | grep -q '"name":"digitize"' || fail "CapabilityStatement lacks \$digitize"
# Bad input first: not an image/PDF -> 415; unknown patient -> 404.
code=$(curl -s -o "$tmp/r" -w '%{http_code}' -X POST "$base/DocumentReference/\$digitize?patient=an" \
  -H "$auth" -H 'Content-Type: application/octet-stream' --data-binary 'hello')
[[ "$code" == 415 ]] || fail "garbage: $code $(cat "$tmp/r")"
code=$(curl -s -o "$tmp/r" -w '%{http_code}' -X POST "$base/DocumentReference/\$digitize?patient=nobody" \
  -H "$auth" -H 'Content-Type: application/pdf' --data-binary @"$tmp/record.pdf")
[[ "$code" == 404 ]] || fail "unknown patient: $code $(cat "$tmp/r")"
# The job.
curl -s -D "$tmp/h" -o "$tmp/r" -X POST "$base/DocumentReference/\$digitize?patient=an" \
  -H "$auth" -H 'Content-Type: application/pdf' --data-binary @"$tmp/record.pdf"
grep -q "^HTTP/1.1 202" "$tmp/h" || fail "POST \$digitize: $(cat "$tmp/h" "$tmp/r")"
job=$(sed -n 's/^[Cc]ontent-[Ll]ocation: *\([^\r]*\)\r*$/\1/p' "$tmp/h")
[[ "$job" == "$base/DocumentReference/\$digitize/"* ]] || fail "Content-Location: $job"
for _ in $(seq 1 100); do
  code=$(curl -s -o "$tmp/r" -w '%{http_code}' -H "$auth" "$job")
  [[ "$code" != 202 ]] && break
  sleep 0.2
done
[[ "$code" == 200 ]] || fail "job: $code $(cat "$tmp/r")"
doc=$(python3 -c "
import json,sys
p={x['name']:x for x in json.load(open('$tmp/r'))['parameter']}
assert p['pages']['valueInteger']==2 and p['conditions']['valueInteger']==1, p
print(p['document']['valueReference']['reference'].split('/')[1])") || fail "job result: $(cat "$tmp/r")"
# The review queue, then decisions: confirm the Condition, reject the rest.
curl -sf -H "$auth" "$base/DocumentReference/$doc/\$drafts" >"$tmp/drafts" || fail "\$drafts"
python3 -c "
import json
b=json.load(open('$tmp/drafts'))
for e in b['entry']:
  r=e['resource']; print(r['resourceType'], r['id'])" >"$tmp/list"
[[ $(wc -l <"$tmp/list") -ge 3 ]] || fail "expected >= 3 drafts: $(cat "$tmp/list")"
while read -r type id; do
  d=reject; [[ "$type" == Condition ]] && d=confirm
  code=$(curl -s -o "$tmp/r" -w '%{http_code}' -X POST "$base/$type/$id/\$review" -H "$auth" \
    -H 'Content-Type: application/fhir+json' \
    -d "{\"resourceType\":\"Parameters\",\"parameter\":[{\"name\":\"decision\",\"valueCode\":\"$d\"}]}")
  [[ "$code" == 200 ]] || fail "\$review $d $type/$id: $code $(cat "$tmp/r")"
done <"$tmp/list"
n=$(curl -sf -H "$auth" "$base/DocumentReference/\$drafts?patient=an" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
[[ "$n" == 0 ]] || fail "drafts left: $n"
curl -sf -H "$auth" "$base/Condition?patient=an" | python3 -c '
import json,sys
b=json.load(sys.stdin)
c=[e["resource"] for e in b.get("entry",[])]
assert len(c)==1 and c[0]["code"]["coding"][0]["code"]=="I10" and c[0]["verificationStatus"]["coding"][0]["code"]=="confirmed", c' || fail "record"
n=$(curl -sf -H "$auth" "$base/MedicationStatement?patient=an&_summary=count" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
[[ "$n" == 0 ]] || fail "rejected medication still in the record"
# A decision on a confirmed resource is refused.
cid=$(awk '$1=="Condition"{print $2}' "$tmp/list" | head -1)
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$base/Condition/$cid/\$review" -H "$auth" \
  -H 'Content-Type: application/fhir+json' -d '{"resourceType":"Parameters","parameter":[{"name":"decision","valueCode":"reject"}]}')
[[ "$code" == 409 ]] || fail "second decision: $code"
echo "1 passed, 0 failed"
