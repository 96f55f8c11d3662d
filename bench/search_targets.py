#!/usr/bin/env python3
"""Writes the query mix of bench/search_latency.sh from the data a running benhan server holds, then
requests each path (the first --check of each kind) once, as a check and a warm-up, and summarizes
the answers.

usage: search_targets.py --port PORT [--token-file F] --out DIR [--sample 200] [--seed 1] [--check 1000]

Lists every Patient (name, birthDate), samples --sample of them (seeded) and reads their
Observations and Conditions; from those, writes one path file per query kind (DIR/KIND.txt, one path
a line, shuffled, each a GET path under /fhir):

  read              Patient/ID                                                    (baseline)
  name_birthdate    Patient?name=FAMILY&birthdate=YYYY-MM-DD     80% the patient's own; 20% another date
  name_vi           Patient?name=FAMILY&name=GIVEN, Vietnamese names typed without diacritics
                    ("nguyen", "huong"), the patients' own
  obs_code_date     Observation?patient=ID&code=http://loinc.org|CODE&date=geA&date=leB
                    85%: a window of 90 days, 1 or 3 years around one of the patient's observations;
                    15%: the same code in a window that ends before the patient's first observation
  condition_code    Condition?code=http://snomed.info/sct|CODE   codes drawn by frequency (common codes
                    often); 10% an ICD-10 code (no such coding in the data: a miss)
  encounter_include Encounter?patient=ID&_include=Encounter:practitioner
  has_obs_code      Patient?_has:Observation:patient:code=http://loinc.org|CODE&_count=10
                    LOINC codes drawn by frequency; 10% a LOINC code not in the data

DIR/counts.txt: resources per type (_summary=count). DIR/summary.tsv (over the paths checked): kind,
paths, hit % (total > 0), median total, median entries per page (matches and included resources),
median response bytes. Only 127.0.0.1. Exits non-zero on any non-200 answer.
"""
import argparse
import datetime as dt
import json
import os
import random
import statistics
import sys
import unicodedata
import urllib.parse

import benchlib

VI_FAMILIES = {"Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ",
               "Hồ", "Ngô", "Dương", "Lý", "Trương", "Đinh"}
TYPES = ["Patient", "Observation", "Encounter", "Condition", "Claim", "ExplanationOfBenefit", "Immunization",
         "Procedure", "DiagnosticReport", "MedicationRequest", "CarePlan", "Goal", "AllergyIntolerance",
         "ImagingStudy", "Practitioner", "Organization"]
KINDS = ["read", "name_birthdate", "name_vi", "obs_code_date", "condition_code", "encounter_include",
         "has_obs_code"]


def fold(s):
    """What a user types without Vietnamese marks: lower case, marks removed, đ -> d."""
    s = s.lower().replace("đ", "d")
    return "".join(c for c in unicodedata.normalize("NFD", s) if unicodedata.category(c) != "Mn")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--token-file")
    ap.add_argument("--out", required=True)
    ap.add_argument("--sample", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--check", type=int, default=1000, help="paths of each kind requested once for the summary")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    get_raw = benchlib.server_getter(a.port, a.token_file, timeout=120)

    def get_all(path):
        """Every entry's resource of a search, following the next links."""
        out = []
        while path:
            b = json.loads(get_raw(path))
            out += [e["resource"] for e in b.get("entry", [])]
            path = None
            for link in b.get("link", []):
                if link.get("relation") == "next":
                    u = urllib.parse.urlsplit(link["url"])
                    path = u.path + ("?" + u.query if u.query else "")
        return out

    counts = {t: json.loads(get_raw(f"/fhir/{t}?_summary=count")).get("total", 0) for t in TYPES}
    q = lambda s: urllib.parse.quote(s, safe="")  # noqa: E731
    patients = get_all("/fhir/Patient?_count=1000&_elements=name,birthDate")
    sample = rng.sample(patients, min(a.sample, len(patients)))
    obs_by_pid, cond_codes, obs_codes = {}, [], []
    for p in sample:
        obs = get_all(f"/fhir/Observation?patient={p['id']}&_count=1000&_elements=code,effectiveDateTime")
        rows = []
        for o in obs:
            c = (o.get("code", {}).get("coding") or [{}])[0]
            when = o.get("effectiveDateTime") or (o.get("effectivePeriod") or {}).get("start")
            if c.get("system") == "http://loinc.org" and c.get("code") and when:
                rows.append((c["code"], dt.date.fromisoformat(when[:10])))
                obs_codes.append(c["code"])
        obs_by_pid[p["id"]] = rows
        for c in get_all(f"/fhir/Condition?patient={p['id']}&_count=1000&_elements=code"):
            cc = (c.get("code", {}).get("coding") or [{}])[0]
            if cc.get("system") == "http://snomed.info/sct" and cc.get("code"):
                cond_codes.append(cc["code"])

    paths = {k: [] for k in KINDS}
    for p in sample:
        pid = p["id"]
        paths["read"].append(f"/fhir/Patient/{pid}")
        name = (p.get("name") or [{}])[0]
        fam, bd = name.get("family"), p.get("birthDate")
        if fam and bd:
            if rng.random() < 0.8:
                paths["name_birthdate"].append(f"/fhir/Patient?name={q(fam)}&birthdate={bd}")
            else:
                other = dt.date.fromisoformat(bd) + dt.timedelta(days=rng.choice([-1, 1]) * rng.randint(1, 400))
                paths["name_birthdate"].append(f"/fhir/Patient?name={q(fam)}&birthdate={other.isoformat()}")
        paths["encounter_include"].append(f"/fhir/Encounter?patient={pid}&_include=Encounter:practitioner")
        rows = obs_by_pid.get(pid) or []
        if rows:
            code, day = rng.choice(rows)
            width = rng.choice([90, 365, 3 * 365])
            if rng.random() < 0.85:
                lo = day - dt.timedelta(days=rng.randint(0, width))
            else:
                lo = min(d for _, d in rows) - dt.timedelta(days=width + rng.randint(1, 365))
            hi = lo + dt.timedelta(days=width)
            paths["obs_code_date"].append(f"/fhir/Observation?patient={pid}&code={q('http://loinc.org|' + code)}"
                                          f"&date=ge{lo.isoformat()}&date=le{hi.isoformat()}")
    vi = [p for p in patients if ((p.get("name") or [{}])[0].get("family") in VI_FAMILIES)]
    for p in rng.sample(vi, min(a.sample, len(vi))):
        name = p["name"][0]
        paths["name_vi"].append(f"/fhir/Patient?name={q(fold(name['family']))}&name={q(fold(name['given'][-1]))}")
    n = len(sample)
    for _ in range(n):
        if rng.random() < 0.9 and cond_codes:
            paths["condition_code"].append(f"/fhir/Condition?code={q('http://snomed.info/sct|' + rng.choice(cond_codes))}")
        else:
            icd = rng.choice(["E11.9", "I10", "J45.909", "K21.9", "N39.0", "A15.0"])
            paths["condition_code"].append(f"/fhir/Condition?code={q('http://hl7.org/fhir/sid/icd-10|' + icd)}")
        if rng.random() < 0.9 and obs_codes:
            code = rng.choice(obs_codes)
        else:
            code = rng.choice(["2345-7x", "99999-9", "1234-0"])  # not in the data
        paths["has_obs_code"].append(f"/fhir/Patient?_has:Observation:patient:code={q('http://loinc.org|' + code)}&_count=10")

    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "counts.txt"), "w") as fh:
        fh.write(f"{sum(counts.values()):,} resources: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()) + "\n")
    with open(os.path.join(a.out, "summary.tsv"), "w") as summary:
        for k in KINDS:
            lst = paths[k]
            rng.shuffle(lst)
            if not lst:
                sys.exit(f"no paths for {k}")
            with open(os.path.join(a.out, k + ".txt"), "w") as fh:
                fh.write("\n".join(lst) + "\n")
            totals, entries, sizes = [], [], []
            for path in lst[:a.check]:
                body = get_raw(path)
                b = json.loads(body)
                sizes.append(len(body))
                if b.get("resourceType") == "Bundle":
                    totals.append(b.get("total", len(b.get("entry", []))))
                    entries.append(len(b.get("entry", [])))
                else:
                    totals.append(1)
                    entries.append(1)
            hits = sum(1 for t in totals if t > 0)
            summary.write(f"{k}\t{len(lst)}\t{100 * hits / len(totals):.0f}\t{statistics.median(totals):g}\t"
                          f"{statistics.median(entries):g}\t{statistics.median(sizes):.0f}\n")
    print(f"patients={len(patients)} sampled={len(sample)} vietnamese={len(vi)} "
          f"observations_of_sample={sum(len(v) for v in obs_by_pid.values())} conditions_of_sample={len(cond_codes)}")


if __name__ == "__main__":
    main()
