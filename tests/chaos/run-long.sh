#!/usr/bin/env bash
# The chaos suite for as long as you like (CI runs a short version of the same test):
#   tests/chaos/run-long.sh --duration 1800 [--seed N]
# Needs a build (scripts/build.sh). Prints what it did and what held as figures at the end.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
duration=1800
seed=""
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    *) echo "usage: $0 [--duration SECONDS] [--seed N]" >&2; exit 2 ;;
  esac
done
export PULLFLEET_CHAOS_SECONDS=$duration
[ -z "$seed" ] || export PULLFLEET_CHAOS_SEED=$seed
export PULLFLEET_RIG_CACHE=${PULLFLEET_RIG_CACHE:-$PWD/.cache/rig}
exec "${PULLFLEET_BUILD_DIR:-build}/tests/chaos/chaos_suite"
