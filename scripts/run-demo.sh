#!/usr/bin/env bash
# Builds benhan (Release) and starts it on the embedded database with the demo population.
#   scripts/run-demo.sh                 # http://127.0.0.1:8080/fhir, data in ./benhan-data
#   BENHAN_LISTEN=127.0.0.1:9000 BENHAN_DATA=/tmp/bn scripts/run-demo.sh
# Demo mode needs no token and listens on loopback only. For real use run
#   build-release/src/app/benhan serve --listen 0.0.0.0:8080 --data /var/lib/benhan --config config/benhan.conf
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --no-test-deps
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build build-release --target benhan -j "$(nproc)"
exec build-release/src/app/benhan serve --demo --listen "${BENHAN_LISTEN:-127.0.0.1:8080}" \
  --data "${BENHAN_DATA:-./benhan-data}" "$@"
