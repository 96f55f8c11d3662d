#!/usr/bin/env bash
# Installs every build, run and test dependency of benhan from Debian packages and npm.
# Idempotent: safe to run again; skips apt when everything is already present.
# Usage: scripts/install-deps.sh [--no-test-deps]
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libsqlite3-dev libpq-dev libssl-dev libutf8proc-dev libzstd-dev
  libargon2-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  tesseract-ocr-vie libtesseract-dev libleptonica-dev libpoppler-cpp-dev
)
# Node.js: use the machine's if present (it bundles npm); otherwise Debian's.
command -v npm >/dev/null 2>&1 || PKGS+=(nodejs npm)
# postgresql-15: the tests start their own PostgreSQL servers from its binaries (never the
# system's cluster), to run every conformance case on the PostgreSQL backend too.
TEST_PKGS=(clang-14 libclang-rt-14-dev clang-format wrk sqlite3 python3 procps curl
  postgresql-15 postgresql-client-15)
# digitize tests render pages at test time with pango/cairo and Debian fonts.
TEST_PKGS+=(fonts-noto-core fonts-dejavu-core libcairo2-dev libpango1.0-dev)
# e2e.smart_browser runs a SMART app (npm fhirclient's browser build) in headless Chromium.
TEST_PKGS+=(chromium)
if [[ "${1:-}" != "--no-test-deps" ]]; then PKGS+=("${TEST_PKGS[@]}"); fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # --no-install-recommends: recommends pull Boost 1.74 back, which conflicts with 1.81.
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm: the official FHIR R4 definitions (HL7's own files, CC0) and the test clients.
if [[ ! -f third_party/npm/node_modules/hl7.fhir.r4.examples/package/Bundle-search-parameters.json ]] \
   || [[ ! -d third_party/npm/node_modules/fhir-kit-client ]] \
   || [[ ! -d third_party/npm/node_modules/simple-hl7 ]] \
   || [[ ! -d third_party/npm/node_modules/fhirclient ]]; then
  (cd third_party/npm && npm ci --no-audit --no-fund --loglevel=error 2>/dev/null \
     || npm install --no-audit --no-fund --loglevel=error)
fi
echo "install-deps: ok"
