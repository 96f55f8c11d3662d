#!/usr/bin/env bash
# Runs the FHIRPath search-parameter extraction benchmark: benhan's C++ engine and HL7's JavaScript
# engine (npm fhirpath 4.11.0) on the same expressions and the same Synthea resources, in one run.
#   bench/fhirpath/run.sh [BUILD_DIR] [ROUNDS]      (default build dir: build, rounds: 3)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build}
ROUNDS=${2:-3}
DATA=$ROOT/../shared/data/synthea/r4-bundles
NODE_MODULES=$ROOT/third_party/npm/node_modules
[ -d "$DATA" ] || { echo "Synthea data not found at $DATA" >&2; exit 1; }

BENCH=$BUILD/bench/fhirpath_bench
if ! ninja -C "$BUILD" -j2 fhirpath_bench >/dev/null 2>&1; then
  # Not wired into bench/CMakeLists.txt yet: build it against the already built libraries.
  echo "note: target fhirpath_bench not in $BUILD; compiling it directly" >&2
  ninja -C "$BUILD" -j2 benhan_fhir >/dev/null
  BENCH=$(mktemp -d)/fhirpath_bench
  g++ -std=c++20 -O2 -DNDEBUG -I"$ROOT/src" -DBENHAN_SHARED_DATA="\"$ROOT/../shared/data\"" \
    "$ROOT/bench/fhirpath/fhirpath_bench.cc" "$BUILD/src/fhir/libbenhan_fhir.a" \
    "$BUILD/src/core/libbenhan_core.a" -lboost_json -lboost_container -lcrypto -lutf8proc -lpthread -o "$BENCH"
fi
EXPRS=$(mktemp)
trap 'rm -f "$EXPRS"' EXIT

echo "== FHIRPath search-parameter extraction, Synthea R4 bundles ($(ls "$DATA"/*.json | wc -l) files), best of $ROUNDS rounds"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); node $(node --version); fhirpath.js $(node -p "require('$NODE_MODULES/fhirpath/package.json').version")"
CPP_OUT=$("$BENCH" --data "$DATA" --rounds "$ROUNDS" --exprs-out "$EXPRS")
echo "$CPP_OUT" | grep -v '^{'
JS_OUT=$(node "$ROOT/bench/fhirpath/fhirpath_js_bench.js" "$NODE_MODULES" "$EXPRS" "$DATA" "$ROUNDS")
echo "$JS_OUT" | grep -v '^{'
CPP_US=$(echo "$CPP_OUT" | grep '^{' | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).cpp_extract_us))')
JS_US=$(echo "$JS_OUT" | grep '^{' | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).js_extract_us))')
node -e "console.log('speed-up of benhan over fhirpath.js (extraction): ' + ($JS_US / $CPP_US).toFixed(1) + 'x')"
