#!/usr/bin/env python3
"""Writes N patients' worth of Synthea transaction bundles by replicating the 71 Synthea R4 bundles,
for the search benchmark (bench/search_latency.sh). Output goes to a temporary directory only.

usage: synthea_scale.py --src DIR --patients N --out DIR [--seed 1] [--vietnamese 0.3]

Patient i is a copy of source patient bundle i % 70 (the bundles that hold a Patient):
- copy 0 of each source bundle is the original, unchanged (written as compact JSON);
- copies 1, 2, ... get, consistently within the bundle: every UUID (fullUrls, urn:uuid references,
  the Synthea person/encounter/claim identifiers) replaced by a fresh one; every date and dateTime
  shifted by one random offset of -1500..+1500 days (birth, encounters, observations... move
  together, so the record stays coherent); a new official name (with probability --vietnamese a
  Vietnamese name with diacritics, e.g. "Nguyễn Thị Hương", with realistic family-name frequencies;
  otherwise a family name and a given name of the same gender drawn from the Synthea patients); new
  SSN, driver's licence and passport numbers.
Bundles without a Patient (the Synthea practitioner bundle) are written once, unchanged.
Resources are POSTed in the bundles (as in the source), so the server assigns their ids.
Prints one line: "generated patients=N bundles=B resources=R bytes=S seconds=T".
"""
import argparse
import json
import os
import random
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import json_files  # noqa: E402

import datetime as dt  # noqa: E402

TOKEN_RE = re.compile(r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|"\d{4}-\d{2}-\d{2}')

# Vietnamese family names with rough population shares (%).
VI_FAMILY = [("Nguyễn", 38), ("Trần", 11), ("Lê", 9.5), ("Phạm", 7), ("Hoàng", 5), ("Huỳnh", 5),
             ("Phan", 4.5), ("Vũ", 3.9), ("Võ", 3.9), ("Đặng", 2.1), ("Bùi", 2), ("Đỗ", 1.4),
             ("Hồ", 1.3), ("Ngô", 1.3), ("Dương", 1), ("Lý", 0.5), ("Trương", 1), ("Đinh", 0.8)]
VI_MIDDLE = {"male": ["Văn", "Đức", "Minh", "Quốc", "Hữu", "Công", "Thành"],
             "female": ["Thị", "Ngọc", "Thu", "Thanh", "Kim", "Mỹ", "Thị"]}
VI_GIVEN = {"male": ["Anh", "Bảo", "Cường", "Dũng", "Hải", "Hùng", "Khoa", "Long", "Nam", "Phúc",
                     "Quân", "Sơn", "Thắng", "Tuấn", "Việt", "Đạt", "Hiếu", "Trung", "Tùng", "Lâm"],
            "female": ["Hương", "Lan", "Linh", "Mai", "Ngân", "Nhung", "Phương", "Thảo", "Trang",
                       "Tuyết", "Vy", "Yến", "Hà", "Hằng", "Huyền", "Loan", "Hạnh", "Oanh", "Giang"]}


class Template:
    """One source patient bundle as compact JSON text split at UUIDs and dates."""

    def __init__(self, bundle):
        pat = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
        self.original = json.dumps(bundle, ensure_ascii=False, separators=(",", ":"))
        self.gender = pat.get("gender", "unknown")
        names = pat.get("name") or [{}]
        self.prefix = names[0].get("prefix")
        self.family = names[0].get("family")
        self.given = (names[0].get("given") or [None])[0]
        pat["name"] = "@@NAME@@"
        for ident in pat.get("identifier", []):
            code = ((ident.get("type") or {}).get("coding") or [{}])[0].get("code")
            if code in ("SS", "DL", "PPN"):
                ident["value"] = "@@" + code + "@@"
        text = json.dumps(bundle, ensure_ascii=False, separators=(",", ":"))
        # parts[0], token, parts[1], token, ...: tokens are UUIDs or '"YYYY-MM-DD'
        self.parts = []
        self.tokens = []
        pos = 0
        for m in TOKEN_RE.finditer(text):
            self.parts.append(text[pos:m.start()])
            self.tokens.append(m.group(0))
            pos = m.end()
        self.parts.append(text[pos:])
        self.resources = len(bundle["entry"])

    def render(self, rng, name_json, ssn, dl, ppn, shift_days):
        new_uuid, new_date = {}, {}
        out = [self.parts[0]]
        delta = dt.timedelta(days=shift_days)
        for tok, part in zip(self.tokens, self.parts[1:]):
            if tok[0] == '"':
                d = new_date.get(tok)
                if d is None:
                    try:
                        d = '"' + (dt.date.fromisoformat(tok[1:]) + delta).isoformat()
                    except ValueError:
                        d = tok
                    new_date[tok] = d
            else:
                d = new_uuid.get(tok)
                if d is None:
                    h = "%032x" % rng.getrandbits(128)
                    d = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[rng.getrandbits(2)]}{h[17:20]}-{h[20:]}"
                    new_uuid[tok] = d
            out.append(d)
            out.append(part)
        text = "".join(out)
        return (text.replace('"@@NAME@@"', name_json).replace("@@SS@@", ssn)
                .replace("@@DL@@", dl).replace("@@PPN@@", ppn))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", required=True)
    ap.add_argument("--patients", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--vietnamese", type=float, default=0.3)
    a = ap.parse_args()
    t0 = time.time()
    rng = random.Random(a.seed)
    os.makedirs(a.out, exist_ok=True)
    templates, others = [], []
    for f in json_files([a.src]):
        with open(f, encoding="utf-8") as fh:
            b = json.load(fh)
        if any(e["resource"]["resourceType"] == "Patient" for e in b.get("entry", [])):
            templates.append(Template(b))
        else:
            others.append(b)
    if not templates:
        sys.exit(f"no patient bundles in {a.src}")
    families = sorted({t.family for t in templates if t.family})
    given_by_gender = {}
    for t in templates:
        if t.given:
            given_by_gender.setdefault(t.gender, set()).add(t.given)
    given_by_gender = {g: sorted(v) for g, v in given_by_gender.items()}
    all_given = sorted({g for v in given_by_gender.values() for g in v})
    vi_fam, vi_w = zip(*VI_FAMILY)

    nbytes = resources = bundles = 0

    def write(name, text):
        nonlocal nbytes, bundles
        data = text.encode("utf-8")
        with open(os.path.join(a.out, name), "wb") as fh:
            fh.write(data)
        nbytes += len(data)
        bundles += 1

    for k, b in enumerate(others):
        write(f"shared{k:02d}.json", json.dumps(b, ensure_ascii=False, separators=(",", ":")))
        resources += len(b["entry"])
    for i in range(a.patients):
        t = templates[i % len(templates)]
        copy = i // len(templates)
        resources += t.resources
        if copy == 0:
            write(f"p{i:06d}.json", t.original)
            continue
        sex = t.gender if t.gender in ("male", "female") else rng.choice(["male", "female"])
        if rng.random() < a.vietnamese:
            fam = rng.choices(vi_fam, vi_w)[0]
            given = [rng.choice(VI_MIDDLE[sex]), rng.choice(VI_GIVEN[sex])]
            name = {"use": "official", "text": " ".join([fam] + given), "family": fam, "given": given}
        else:
            fam = rng.choice(families)
            given = [rng.choice(given_by_gender.get(sex, all_given))]
            name = {"use": "official", "family": fam, "given": given}
            if t.prefix:
                name["prefix"] = t.prefix
        shift = rng.randint(-1500, 1500)
        ssn = f"999-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}"
        dl = f"S99{rng.randint(100000, 999999)}"
        ppn = f"X{rng.randint(10000000, 99999999)}X"
        write(f"p{i:06d}.json", t.render(rng, json.dumps([name], ensure_ascii=False), ssn, dl, ppn, shift))
    print(f"generated patients={a.patients} bundles={bundles} resources={resources} bytes={nbytes} "
          f"seconds={time.time() - t0:.1f}")


if __name__ == "__main__":
    main()
