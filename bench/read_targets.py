#!/usr/bin/env python3
"""Writes the request paths that bench/read.sh replays with wrk, from a running benhan server.

usage: read_targets.py --port PORT [--token-file F] --out DIR [--max-reads 6000]

DIR/read.txt        /fhir/TYPE/ID for ids listed by TYPE?_count=1000&_elements=id (several types)
DIR/search_name.txt /fhir/Patient?name=FAMILY for every patient's family name
DIR/search_obs.txt  /fhir/Observation?patient=ID&code=http://loinc.org|29463-7 (body weight) per patient
Only 127.0.0.1.
"""
import argparse
import json
import os
import sys
import urllib.parse

import benchlib

TYPES = ["Observation", "Patient", "Encounter", "Condition", "Claim", "ExplanationOfBenefit", "Immunization",
         "Procedure", "DiagnosticReport", "MedicationRequest", "Practitioner", "Organization", "CarePlan"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--token-file")
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-reads", type=int, default=6000)
    a = ap.parse_args()
    get_raw = benchlib.server_getter(a.port, a.token_file, timeout=60)

    def get(path):
        return json.loads(get_raw(path))

    reads = []
    for t in TYPES:
        b = get(f"/fhir/{t}?_count=1000&_elements=id")
        reads += [f"/fhir/{t}/{e['resource']['id']}" for e in b.get("entry", [])]
    reads = reads[: a.max_reads]
    pats = get("/fhir/Patient?_count=1000&_elements=name").get("entry", [])
    names, pids = set(), []
    for e in pats:
        r = e["resource"]
        pids.append(r["id"])
        for n in r.get("name", []):
            if n.get("family"):
                names.add(n["family"])
    q = urllib.parse.quote
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "read.txt"), "w") as fh:
        fh.write("\n".join(reads) + "\n")
    with open(os.path.join(a.out, "search_name.txt"), "w") as fh:
        fh.write("\n".join(f"/fhir/Patient?name={q(n)}" for n in sorted(names)) + "\n")
    with open(os.path.join(a.out, "search_obs.txt"), "w") as fh:
        fh.write("\n".join(f"/fhir/Observation?patient={p}&code={q('http://loinc.org|29463-7')}" for p in pids) + "\n")
    print(f"reads={len(reads)} names={len(names)} patients={len(pids)}")


if __name__ == "__main__":
    main()
