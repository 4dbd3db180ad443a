#!/usr/bin/env bash
# Configures and builds pullfleet into ./build (Ninja, RelWithDebInfo).
#   scripts/build.sh            everything: the binary, libraries and all tests
#   scripts/build.sh pullfleet  only the named targets
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD_DIR=${PULLFLEET_BUILD_DIR:-build}
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
# CAF translation units take about 1 GB each at -O2: two jobs fit these machines.
ninja -C "$BUILD_DIR" -j "${PULLFLEET_JOBS:-2}" "$@"
