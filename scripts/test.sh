#!/usr/bin/env bash
# Installs what the tests need, builds everything, and runs every test: unit tests, the
# integration tests against the real registry, and the end-to-end tests of the binary.
#   scripts/test.sh              all tests
#   scripts/test.sh -L unit      only one label (unit, integration, e2e); any ctest flags work
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/install-deps.sh
scripts/build.sh
BUILD_DIR=${PULLFLEET_BUILD_DIR:-build}
# The rig's images are built once per machine into this cache and reused across runs.
export PULLFLEET_RIG_CACHE=${PULLFLEET_RIG_CACHE:-$PWD/.cache/rig}
ctest --test-dir "$BUILD_DIR" --output-on-failure --timeout 900 -j 2 "$@"
