#!/usr/bin/env bash
# bench/shared.sh: many pods on one node that need the same uncached image at once; counts
# the registry's blob GETs (from the registry's own Prometheus metrics) and times the pods
# until all are ImagesReady.
#
#   bench/shared.sh PODS ROUNDS      (run by bench/run.sh, which sets the environment)
#
# Each round starts a fresh `pullfleet up --nodes 1` (an empty store), applies PODS Pod
# manifests that all name the 40-layer image, and lists the pods every 0.25 s until every
# one is ImagesReady. The image has 41 blobs (config and 40 layers): one download for all
# pods means exactly 41 blob GETs.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"
: "${BENCH_WORK:?run bench/run.sh}" "${PULLFLEET:?run bench/run.sh}"
# shellcheck disable=SC1091
source "$BENCH_WORK/registry/env"
# shellcheck disable=SC1091
source "$BENCH_WORK/images.env"

pods=${1:?usage: shared.sh PODS ROUNDS}
rounds=${2:-3}
image=$REGISTRY_HOST/bench/many:1.0
blobs=$(($(wc -w <<<"$MANY_LAYERS") + 1))
dir=$BENCH_WORK/shared
runs=$BENCH_WORK/runs/shared
rm -rf "$runs"
mkdir -p "$runs"
UP_PID=""
trap 'bench_stop_pid "$UP_PID" pullfleet' EXIT

manifests=$runs/pods.yaml
bench_pod_manifests "$pods" "$image" shared >"$manifests"

one_round() {
  local round=$1 i t0 t1 ready before after server
  rm -rf "$dir"
  mkdir -p "$dir"
  bench_up 1 "$dir" "$runs/up-$round.log"
  UP_PID=$BENCH_UP_PID server=$BENCH_SERVER
  before=$(bench_registry_blob_gets)
  t0=$(bench_now_ms)
  "$PULLFLEET" apply -f "$manifests" --server "$server" >"$runs/apply-$round.log" 2>&1 ||
    bench_die "apply failed (see $runs/apply-$round.log)"
  for ((i = 0; i < 2400; i++)); do
    ready=$("$PULLFLEET" get pods --server "$server" 2>/dev/null | grep -c ImagesReady || true)
    ((ready >= pods)) && break
    bench_alive "$UP_PID" || bench_die "pullfleet up died (see $runs/up-$round.log)"
    sleep 0.25
  done
  t1=$(bench_now_ms)
  ((ready >= pods)) || bench_die "only $ready of $pods pods ImagesReady after 10 minutes"
  after=$(bench_registry_blob_gets)
  bench_stop_pid "$UP_PID" pullfleet
  UP_PID=""
  local seconds
  seconds=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1000 }')
  echo "$seconds $((after - before))" >"$runs/round-$round"
  bench_log "shared round $((round + 1)): $pods pods ready in ${seconds}s, $((after - before))" \
    "blob GETs for $blobs blobs"
}

bench_log "shared: $pods pods on one node, one uncached image ($blobs blobs), $rounds rounds"
for ((round = 0; round < rounds; round++)); do one_round "$round"; done

secs=() gets=()
for ((round = 0; round < rounds; round++)); do
  read -r s g <"$runs/round-$round"
  secs+=("$s") gets+=("$g")
done
worst=$(printf '%s\n' "${gets[@]}" | sort -n | tail -n 1)
bench_result ""
bench_result "shared: $pods pods on one node needing one uncached image ($blobs blobs, 200 MiB), $rounds rounds:"
bench_result "  registry blob GETs per round  ${gets[*]}   (target exactly $blobs: $(
  [[ "$(printf '%s\n' "${gets[@]}" | sort -u)" == "$blobs" ]] && echo met || echo NOT met))"
bench_result "  time to all ImagesReady       $(bench_median "${secs[@]}") s (median; most GETs in a round: $worst)"
