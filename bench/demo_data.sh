#!/usr/bin/env bash
# Speed of the demo population generator (benhan demo-data): PATIENTS patients as NDJSON to
# /dev/null, REPEATS times; prints each run's patients/s (the generator's own report) and the
# median. Baseline in the same run: reading the same NDJSON back with cat (the I/O floor).
#
#   bench/demo_data.sh [PATIENTS=100000] [REPEATS=3]
# BENHAN=path picks the binary (default build-term/src/app/benhan, else build/src/app/benhan).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
N="${1:-100000}"
REPEATS="${2:-3}"
BENHAN="${BENHAN:-$ROOT/build-term/src/app/benhan}"
[[ -x "$BENHAN" ]] || BENHAN="$ROOT/build/src/app/benhan"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/benhan-demodata.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
echo "# $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg)"
rates=()
for _ in $(seq "$REPEATS"); do
  line=$(timeout 900 "$BENHAN" demo-data --patients "$N" --out /dev/null 2>&1 | tail -1)
  echo "$line"
  rates+=("$(sed -n 's/.*(\([0-9]*\) patients\/s).*/\1/p' <<<"$line")")
done
printf 'median: %s patients/s\n' "$(printf '%s\n' "${rates[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
timeout 900 "$BENHAN" demo-data --patients "$N" --out "$WORK/p.ndjson" 2>/dev/null
bytes=$(stat -c %s "$WORK/p.ndjson")
t0=$(date +%s.%N); cat "$WORK/p.ndjson" >/dev/null; t1=$(date +%s.%N)
awk -v b="$bytes" -v n="$N" -v s="$(echo "$t1 - $t0" | bc)" 'BEGIN {
  printf "output: %.0f MB, %d bytes a patient; baseline cat: %.0f MB/s\n", b/1e6, b/n, b/1e6/s }'
