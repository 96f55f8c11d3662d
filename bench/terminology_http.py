"""Client of bench/terminology_http.sh: the typing mix against $expand, and /healthz as baseline."""
import http.client
import json
import random
import sys
import time
import unicodedata
import urllib.parse

port, icd, rounds = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
VS = "http://benhan.vn/fhir/ValueSet/icd10-vn"


def fold(s):
    s = unicodedata.normalize("NFD", s.replace("đ", "d").replace("Đ", "D"))
    s = "".join(c for c in s if unicodedata.category(c) != "Mn").lower()
    return " ".join("".join(c if c.isalnum() else " " for c in s).split())


codes = json.load(open(icd, encoding="utf-8"))
items = sorted(codes.items())
rng = random.Random(7)
queries = []
for i in range(150):
    code, (name, _flags) = items[rng.randrange(len(items))]
    words = fold(name).split()[: 1 + i % 3]
    phrase = " ".join(words)
    queries += [phrase[:n] for n in range(2, len(phrase) + 1) if phrase[n - 1] != " "]
    if len(phrase) > 4:
        m = len(phrase) // 2
        queries.append(phrase[:m] + phrase[m + 1] + phrase[m] + phrase[m + 2:])
    queries.append(code[: 2 + i % 4])

conn = http.client.HTTPConnection("127.0.0.1", port)


def timed(path):
    t = time.perf_counter()
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    ms = (time.perf_counter() - t) * 1000
    if r.status != 200:
        sys.exit(f"{path}: {r.status} {body[:300]!r}")
    return ms


def summary(name, ms):
    ms = sorted(ms)
    at = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]
    print(f"{name:<32} n={len(ms)}  p50 {at(.5):.3f} ms  p95 {at(.95):.3f} ms  "
          f"p99 {at(.99):.3f} ms  max {ms[-1]:.3f} ms")


timed("/fhir/ValueSet/$expand?url=" + VS + "&filter=warm")
exp, base = [], []
for _ in range(rounds):
    for q in queries:
        exp.append(timed("/fhir/ValueSet/$expand?" + urllib.parse.urlencode(
            {"url": VS, "filter": q, "count": "20"})))
        base.append(timed("/healthz"))
print(f"query mix: {len(queries)} queries x {rounds} rounds, one keep-alive client")
summary("GET ValueSet/$expand?filter=", exp)
summary("baseline GET /healthz", base)
