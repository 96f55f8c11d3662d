# Shared helpers for the bench/*.sh scripts. Source it; do not run it.
#
# Sets ROOT (repo), BENHAN (the binary), SYNTHEA (the bundle dir), WORK (a temp dir removed at exit).
# Servers are started with start_server and stopped by PID only (stop_server / the EXIT trap).
# Only loopback addresses are used.

set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build-bench}"
SYNTHEA="${SYNTHEA:-$ROOT/../shared/data/synthea/r4-bundles}"
PY="${PYTHON:-python3}"

# The Release binary: $BENHAN if set, else build-bench/src/app/benhan, brought up to date with the
# working tree here (configured on first use; ninja is a no-op when nothing changed).
if [[ -z "${BENHAN:-}" ]]; then
  BENHAN="$BUILD_DIR/src/app/benhan"
  if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
    echo "# configuring a Release build in $BUILD_DIR" >&2
    cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
  ninja -C "$BUILD_DIR" -j2 benhan >"$BUILD_DIR/bench-build.log" 2>&1 || { cat "$BUILD_DIR/bench-build.log" >&2; exit 1; }
fi
[[ -x "$BENHAN" ]] || { echo "no benhan binary at $BENHAN" >&2; exit 1; }
[[ -d "$SYNTHEA" ]] || { echo "no Synthea bundles at $SYNTHEA (set SYNTHEA=DIR)" >&2; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/benhan-bench.XXXXXX")"
SERVER_PID=""
PORT=""
START_MS=""

SERVER_PIDS=()  # further servers a script keeps running at once (stopped at exit too)
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  local p
  for p in "${SERVER_PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  [[ "${BENCH_KEEP:-0}" == 1 ]] && echo "# kept $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_server DATA_DIR [extra serve args...]: starts `benhan serve` on 127.0.0.1:0, waits (≤ 60 s) for
# the "listening on" line; sets SERVER_PID, PORT, START_MS (the server's own "started in N ms"),
# WALL_MS (exec → listening line seen, by this shell's clock), SERVER_LOG.
start_server() {
  local data="$1"; shift
  SERVER_LOG="$WORK/server.$RANDOM.log"
  local t0 t1
  t0=$(date +%s%N)
  # SERVER_WRAP: a command the server runs under (e.g. valgrind), word-split; empty by default.
  ${SERVER_WRAP:-} "$BENHAN" serve --listen 127.0.0.1:0 --data "$data" "$@" 2>"$SERVER_LOG" >/dev/null &
  SERVER_PID=$!
  local i
  for ((i = 0; i < ${START_WAIT_TICKS:-6000}; i++)); do
    if grep -q "listening on" "$SERVER_LOG" 2>/dev/null; then break; fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then cat "$SERVER_LOG" >&2; echo "server exited" >&2; SERVER_PID=""; return 1; fi
    sleep 0.01
  done
  t1=$(date +%s%N)
  local line
  line=$(grep -m1 "listening on" "$SERVER_LOG") || { cat "$SERVER_LOG" >&2; echo "server did not start in 60 s" >&2; return 1; }
  PORT=$(sed -E 's|.*http://127\.0\.0\.1:([0-9]+)/.*|\1|' <<<"$line")
  START_MS=$(sed -E 's|.*started in ([0-9]+) ms.*|\1|' <<<"$line")
  WALL_MS=$(( (t1 - t0) / 1000000 ))
}

stop_server() {
  if [[ -n "$SERVER_PID" ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# median of the arguments (numbers)
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

machine_line() {
  echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ), tree at commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'); binary $BENHAN built $(date -u -r "$BENHAN" +%Y-%m-%dT%H:%MZ)"
}
