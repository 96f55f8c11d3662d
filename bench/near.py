#!/usr/bin/env python3
"""Location `near` search: latency and exactness (docs/benchmarks.md).

Usage: bench/near.py BENHAN_BIN [N_LOCATIONS]
Writes N random Locations inside Vietnam's bounding box (seeded), imports them into a temporary
data directory, starts `benhan serve` on it (SQLite), then runs 100 `near` queries at random
centres for radii 5 and 50 km over one keep-alive connection, and compares every result with a
brute-force great-circle filter in Python. Prints p50/p95/p99 per radius and the number of
queries whose ids differ (must be 0).
"""
import http.client, json, math, os, random, re, subprocess, sys, tempfile, time

R = 6371.0088


def dist(a, b, c, d):
    a, b, c, d = map(math.radians, (a, b, c, d))
    x = math.sin(a) * math.sin(c) + math.cos(a) * math.cos(c) * math.cos(d - b)
    return R * math.acos(max(-1.0, min(1.0, x)))


def main():
    binary = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    tmp = tempfile.mkdtemp(prefix="benhan-near-")
    os.makedirs(f"{tmp}/in")
    random.seed(7)
    locs = []
    with open(f"{tmp}/in/Location.ndjson", "w") as f:
        for i in range(n):
            loc = {"resourceType": "Location", "id": f"loc{i}", "status": "active",
                   "name": f"Trạm y tế {i}",
                   "position": {"latitude": round(random.uniform(8.5, 23.4), 6),
                                "longitude": round(random.uniform(102.1, 109.5), 6)}}
            locs.append(loc)
            f.write(json.dumps(loc, ensure_ascii=False) + "\n")
    subprocess.run([binary, "import", "--data", f"{tmp}/d", f"{tmp}/in"], check=True)
    log = open(f"{tmp}/serve.log", "w")
    server = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0", "--data", f"{tmp}/d"],
                              stderr=log)
    try:
        port = None
        for _ in range(100):
            m = re.search(r"listening on http://127.0.0.1:(\d+)/fhir", open(f"{tmp}/serve.log").read())
            if m:
                port = int(m.group(1))
                break
            time.sleep(0.1)
        if port is None:
            sys.exit("server did not start")
        token = open(f"{tmp}/d/secrets/admin.token").read().strip()
        conn = http.client.HTTPConnection("127.0.0.1", port)
        random.seed(11)
        for radius in (5, 50):
            lat, differ, matches = [], 0, 0
            for _ in range(100):
                la, lo = random.uniform(9, 23), random.uniform(103, 109)
                path = "/fhir/Location?near=%.5f|%.5f|%d|km&_count=1000&_elements=id" % (la, lo, radius)
                t = time.perf_counter()
                conn.request("GET", path, headers={"Authorization": "Bearer " + token})
                body = conn.getresponse().read()
                lat.append((time.perf_counter() - t) * 1000)
                got = {e["resource"]["id"] for e in json.loads(body).get("entry", [])
                       if e.get("search", {}).get("mode") == "match"}
                want = {l["id"] for l in locs
                        if dist(la, lo, l["position"]["latitude"], l["position"]["longitude"]) <= radius}
                matches += len(want)
                differ += got != want
            lat.sort()
            print("radius %d km: p50 %.2f ms, p95 %.2f ms, p99 %.2f ms; %.1f matches on average; "
                  "%d/100 queries differ from brute force" % (radius, lat[49], lat[94], lat[98],
                                                              matches / 100, differ))
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
