#!/usr/bin/env bash
# Builds benhan and runs every test (unit, FHIRPath suite, validator, conformance cases, official
# examples, Synthea, fuzz corpora, end-to-end with real FHIR clients).
#   scripts/test.sh               # RelWithDebInfo build in build/
#   scripts/test.sh --sanitize    # AddressSanitizer + UndefinedBehaviorSanitizer build in build-asan/
set -euo pipefail
cd "$(dirname "$0")/.."

sanitize=OFF
dir=build
for a in "$@"; do
  case "$a" in
    --sanitize) sanitize=ON; dir=build-asan ;;
    --build-dir=*) dir="${a#*=}" ;;
    *) echo "usage: $0 [--sanitize] [--build-dir=DIR]" >&2; exit 2 ;;
  esac
done

bash scripts/install-deps.sh
jobs=$(nproc)
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBENHAN_SANITIZE="$sanitize" >/dev/null
cmake --build "$dir" -j "$jobs"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}"
# Third-party process-lifetime caches only (fontconfig, via poppler and cairo): see the file.
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$PWD/tests/sanitizer/lsan.supp:print_suppressions=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
if [[ ! -d ../shared/data ]]; then
  echo "note: ../shared/data is absent: tests that need external test data will be skipped (and say so)"
fi
ctest --test-dir "$dir" --output-on-failure -j "$jobs" --timeout 900
