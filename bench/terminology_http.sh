#!/usr/bin/env bash
# $expand autocomplete latency over HTTP on the full Ministry ICD-10 list: imports
# ../shared/data/vietnam/icd10-vn.json into a temporary data dir (benhan terminology import),
# starts `benhan serve --demo` on 127.0.0.1 (port chosen by the kernel), and sends a typing mix
# (terminology_http.py: every keystroke of the first 1-3 words of 150 names, a typo'd variant,
# code prefixes; count=20) from one keep-alive client. Baseline in the same run: GET /healthz from
# the same client (the HTTP + Python floor). Prints p50/p95/p99/max ms.
#
#   bench/terminology_http.sh [ROUNDS=3]
# BENHAN=path picks the binary (default build-term/src/app/benhan, else build/src/app/benhan).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROUNDS="${1:-3}"
ICD="${ICD:-$ROOT/../shared/data/vietnam/icd10-vn.json}"
BENHAN="${BENHAN:-$ROOT/build-term/src/app/benhan}"
[[ -x "$BENHAN" ]] || BENHAN="$ROOT/build/src/app/benhan"
[[ -f "$ICD" ]] || { echo "no ICD-10 file at $ICD (set ICD=...)" >&2; exit 1; }
WORK="$(mktemp -d "${TMPDIR:-/tmp}/benhan-termhttp.XXXXXX")"
PID=""
cleanup() {
  if [[ -n "$PID" ]]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
timeout 120 "$BENHAN" terminology import --format icd10-json --version 2026 --valid-from 2026-01-01 \
  --data "$WORK/data" "$ICD" 2>/dev/null | tail -1
"$BENHAN" serve --demo --data "$WORK/data" --listen 127.0.0.1:0 >"$WORK/server.log" 2>&1 &
PID=$!
for _ in $(seq 100); do
  PORT=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\)\/fhir.*/\1/p' "$WORK/server.log")
  [[ -n "$PORT" ]] && break
  sleep 0.1
done
[[ -n "$PORT" ]] || { cat "$WORK/server.log" >&2; exit 1; }
timeout 600 python3 "$ROOT/bench/terminology_http.py" "$PORT" "$ICD" "$ROUNDS"
