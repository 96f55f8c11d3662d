#!/usr/bin/env python3
"""Builds benhan's compact R4 definitions file from HL7's official R4 bundles.

Input: the npm package hl7.fhir.r4.examples@4.0.1 (HL7's own files, CC0), as unpacked by
scripts/install-deps.sh. Output: one compact JSON file (format: docs/definitions_format.md) that the
server embeds and parses at start-up. Build-time only; the server never reads the npm tree.

Usage: gen_definitions.py PACKAGE_DIR OUTPUT.json
"""
import json
import os
import sys

FHIR_TYPE_EXT = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
REGEX_EXT = "http://hl7.org/fhir/StructureDefinition/regex"


def load(pkg, name):
    with open(os.path.join(pkg, name), encoding="utf-8") as f:
        return json.load(f)


def type_code(t):
    code = t.get("code", "")
    if code.startswith("http://hl7.org/fhirpath/System."):
        for ext in t.get("extension", []):
            if ext.get("url") == FHIR_TYPE_EXT:
                return ext.get("valueUrl") or ext.get("valueUri") or code
        return code.rsplit(".", 1)[1].lower() if "." in code else code
    return code


def compact_element(el):
    out = {"p": el["path"], "n": el.get("min", 0)}
    mx = el.get("max", "*")
    out["x"] = -1 if mx == "*" else int(mx)
    types, targets = [], []
    for t in el.get("type", []):
        code = type_code(t)
        if code not in types:
            types.append(code)
        for prof in t.get("targetProfile", []):
            tgt = prof.rsplit("/", 1)[-1]
            if tgt not in targets:
                targets.append(tgt)
    if types:
        out["t"] = types
    if targets:
        out["r"] = targets
    b = el.get("binding")
    if b and b.get("valueSet"):
        out["b"] = [b.get("strength", ""), b["valueSet"].split("|")[0]]
    if el.get("contentReference"):
        out["c"] = el["contentReference"].lstrip("#")
    if el.get("isSummary"):
        out["s"] = 1
    if el.get("isModifier"):
        out["m"] = 1
    return out


def flatten_contains(contains, acc):
    for c in contains or []:
        if "code" in c and not c.get("abstract", False):
            acc.append([c.get("system", ""), c["code"]])
        flatten_contains(c.get("contains"), acc)


def main():
    pkg, out_path = sys.argv[1], sys.argv[2]
    types = []
    regexes = {}
    required = set()
    for bundle in ("Bundle-types.json", "Bundle-resources.json"):
        for e in load(pkg, bundle)["entry"]:
            sd = e["resource"]
            if sd["resourceType"] != "StructureDefinition":
                continue
            if sd.get("derivation") == "constraint":
                continue  # profiles (SimpleQuantity...) are not types of their own
            elems = []
            for el in sd["snapshot"]["element"]:
                elems.append(compact_element(el))
                b = el.get("binding")
                if b and b.get("strength") == "required" and b.get("valueSet"):
                    required.add(b["valueSet"].split("|")[0])
                if sd["kind"] == "primitive-type" and el["path"].endswith(".value"):
                    for t in el.get("type", []):
                        for ext in t.get("extension", []):
                            if ext.get("url") == REGEX_EXT:
                                regexes[sd["id"]] = ext["valueString"]
            base = sd.get("baseDefinition", "").rsplit("/", 1)[-1] if sd.get("baseDefinition") else ""
            types.append({
                "name": sd["id"],
                "kind": sd["kind"],
                "abstract": bool(sd.get("abstract", False)),
                "base": base,
                "elements": elems,
            })

    search = []
    for e in load(pkg, "Bundle-searchParams.json")["entry"]:
        sp = e["resource"]
        if sp["resourceType"] != "SearchParameter":
            continue
        item = {
            "u": sp.get("url", ""),
            "c": sp["code"],
            "b": sp.get("base", []),
            "t": sp["type"],
            "e": sp.get("expression", ""),
        }
        if sp.get("target"):
            item["tg"] = sp["target"]
        if sp.get("component"):
            item["comp"] = [[c["definition"].rsplit("/", 1)[-1], c["expression"]] for c in sp["component"]]
        if sp.get("multipleOr") is False:
            item["mo"] = 0
        search.append(item)

    valuesets = {}
    for e in load(pkg, "Bundle-valueset-expansions.json")["entry"]:
        vs = e["resource"]
        url = vs.get("url")
        if url in required and "expansion" in vs:
            codes = []
            flatten_contains(vs["expansion"].get("contains"), codes)
            if codes:
                valuesets[url] = codes

    # Compose of every HL7 value set (for the :in / :not-in search modifiers): enumerated codes,
    # whole code systems and included value sets; "f" marks includes by filter (not expandable
    # here), "x" enumerated exclusions.
    compose = {}
    for e in load(pkg, "Bundle-valuesets.json")["entry"]:
        vs = e["resource"]
        if vs["resourceType"] != "ValueSet" or "compose" not in vs or not vs.get("url"):
            continue
        item = {}
        for inc in vs["compose"].get("include", []):
            system = inc.get("system", "")
            if inc.get("filter"):
                item["f"] = 1
            elif inc.get("concept"):
                item.setdefault("c", []).extend([system, c["code"]] for c in inc["concept"])
            elif system:
                item.setdefault("s", []).append(system)
            for v in inc.get("valueSet", []):
                item.setdefault("v", []).append(v.split("|")[0])
        for exc in vs["compose"].get("exclude", []):
            if exc.get("concept"):
                item.setdefault("x", []).extend([exc.get("system", ""), c["code"]] for c in exc["concept"])
            else:
                item["f"] = 1
        compose[vs["url"]] = item

    compartments = {}
    for name in sorted(os.listdir(pkg)):
        if name.startswith("CompartmentDefinition-") and name.endswith(".json"):
            cd = load(pkg, name)
            if cd.get("status") != "active" and cd.get("code") == "Patient" and compartments.get("Patient"):
                continue
            if cd.get("url", "").startswith("http://hl7.org/fhir/CompartmentDefinition/"):
                comp = {}
                for r in cd.get("resource", []):
                    if r.get("param"):
                        comp[r["code"]] = r["param"]
                compartments[cd["code"]] = comp

    doc = {
        "fhirVersion": "4.0.1",
        "source": "hl7.fhir.r4.examples@4.0.1",
        "types": types,
        "regex": regexes,
        "searchParams": search,
        "valueSets": valuesets,
        "valueSetCompose": compose,
        "unexpandedRequired": sorted(u for u in required if u not in valuesets),
        "compartments": compartments,
    }
    tmp = out_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, separators=(",", ":"))
    os.replace(tmp, out_path)
    print(f"gen_definitions: {len(types)} types, {len(search)} search params, "
          f"{len(valuesets)} required value sets -> {out_path}")


if __name__ == "__main__":
    main()
