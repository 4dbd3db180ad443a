#!/usr/bin/env bash
# bench/fleet.sh: many pods over many nodes in one process (`pullfleet up`), every image
# already present on every node; pods per second until all are ImagesReady, and the
# process's memory.
#
#   bench/fleet.sh PODS NODES ROUNDS      (run by bench/run.sh, which sets the environment)
#
# Each round starts a fresh `pullfleet up --nodes NODES`, pre-loads the image into every node
# with `pullfleet images load` (an OCI layout written by skopeo, as images baked into a node's
# disk), then times `pullfleet apply -f` of PODS Pod manifests (one container each) until
# `pullfleet get pods -A` shows every pod ImagesReady. The clock starts before the client
# parses the manifests and stops at the first listing that shows them all ready; the listing
# runs every 0.25 s, so the figure is at most that much (plus one listing) late.
# RSS: the `up` process (coordinator and every node actor) at its peak (VmHWM).
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"
: "${BENCH_WORK:?run bench/run.sh}" "${PULLFLEET:?run bench/run.sh}"
# shellcheck disable=SC1091
source "$BENCH_WORK/registry/env"

pods=${1:?usage: fleet.sh PODS NODES ROUNDS}
nodes=${2:?usage: fleet.sh PODS NODES ROUNDS}
rounds=${3:-3}
image=$REGISTRY_HOST/bench/tiny:1.0
dir=$BENCH_WORK/fleet
runs=$BENCH_WORK/runs/fleet
rm -rf "$runs"
mkdir -p "$runs"
UP_PID=""
trap 'bench_stop_pid "$UP_PID" pullfleet' EXIT

# The pre-loaded image: the OCI layout a node's disk image would carry.
layout=$BENCH_WORK/tiny-layout
rm -rf "$layout"
skopeo copy --quiet --src-tls-verify=false "docker://$image" "oci:$layout:$image"

# PODS Pod manifests in one file.
manifests=$runs/pods.yaml
bench_pod_manifests "$pods" "$image" bench >"$manifests"

# CPU seconds (user + system) PID has used so far.
cpu_seconds() {
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f\n", ($14 + $15) / hz }' "/proc/$1/stat"
}

ready_count() {
  "$PULLFLEET" get pods -A --server "$server" 2>/dev/null | awk '$0 ~ /ImagesReady/ {n++} END {print n + 0}'
}

one_round() {
  local round=$1 i t0 t_applied t1 ready polls=0
  rm -rf "$dir"
  mkdir -p "$dir"
  bench_up "$nodes" "$dir" "$runs/up-$round.log"
  UP_PID=$BENCH_UP_PID server=$BENCH_SERVER
  # Pre-load, four clients at a time.
  seq 1 "$nodes" | xargs -P 4 -I{} "$PULLFLEET" images load --server "$server" --node "node-{}" \
    "$layout" >"$runs/load-$round.log" 2>&1 || bench_die "images load failed (see $runs/load-$round.log)"
  read -r hwm_before _ < <(bench_rss_kib "$UP_PID")
  cpu0=$(cpu_seconds "$UP_PID")

  t0=$(bench_now_ms)
  /usr/bin/time -f '%U %S' -o "$runs/apply-$round.cpu" "$PULLFLEET" apply -f "$manifests" \
    --server "$server" >"$runs/apply-$round.log" 2>&1 ||
    bench_die "apply failed (see $runs/apply-$round.log)"
  t_applied=$(bench_now_ms)
  for ((i = 0; i < 2400; i++)); do
    ready=$(ready_count)
    polls=$((polls + 1))
    ((ready >= pods)) && break
    bench_alive "$UP_PID" || bench_die "pullfleet up died (see $runs/up-$round.log)"
    sleep 0.25
  done
  t1=$(bench_now_ms)
  ((ready >= pods)) || bench_die "only $ready of $pods pods ImagesReady after 10 minutes"
  read -r hwm rss < <(bench_rss_kib "$UP_PID")
  cpu1=$(cpu_seconds "$UP_PID")
  bench_stop_pid "$UP_PID" pullfleet
  UP_PID=""
  local seconds apply_s cpu client_cpu
  seconds=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1000 }')
  apply_s=$(awk -v a="$t0" -v b="$t_applied" 'BEGIN { printf "%.3f", (b - a) / 1000 }')
  cpu=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.2f", b - a }')
  client_cpu=$(awk '{ printf "%.2f", $1 + $2 }' "$runs/apply-$round.cpu")
  echo "$seconds $apply_s $hwm $rss $hwm_before $cpu $client_cpu" >"$runs/round-$round"
  bench_log "fleet round $((round + 1)): $pods pods ready in ${seconds}s (apply returned after" \
    "${apply_s}s, $polls listings), process CPU ${cpu}s, apply client CPU ${client_cpu}s," \
    "peak RSS $(bench_kib_to_mib "$hwm") MiB, load $(cut -d' ' -f1 /proc/loadavg)"
}

bench_log "fleet: $pods pods over $nodes nodes, $rounds rounds"
for ((round = 0; round < rounds; round++)); do one_round "$round"; done

secs=() applies=() hwms=() rsses=() befores=() cpus=() client_cpus=()
for ((round = 0; round < rounds; round++)); do
  read -r s a h r b c cc <"$runs/round-$round"
  secs+=("$s") applies+=("$a") hwms+=("$h") rsses+=("$r") befores+=("$b") cpus+=("$c")
  client_cpus+=("$cc")
done
s=$(bench_median "${secs[@]}")
rate=$(awk -v p="$pods" -v s="$s" 'BEGIN { printf "%.0f", p / s }')
hwm_mib=$(bench_kib_to_mib "$(bench_median "${hwms[@]}")")
bench_result ""
bench_result "fleet: $pods pods over $nodes nodes in one process, every image present, median of $rounds rounds:"
bench_result "  time to all ImagesReady  $s s (apply returned after $(bench_median "${applies[@]}") s)"
bench_result "  pods per second          $rate   (target >= 5000: $(bench_check x "$rate" '>=' 5000))"
cpu=$(bench_median "${cpus[@]}")
client_cpu=$(bench_median "${client_cpus[@]}")
bench_result "  CPU used meanwhile       ${cpu} s by the process, ${client_cpu} s by the apply client" \
  "($(awk -v p="$pods" -v c="$cpu" -v k="$client_cpu" 'BEGIN { printf "%.0f", p / (c + k) }') pods per CPU-second; on a busy machine this is the figure that does not depend on the load)"
bench_result "  process peak RSS         $hwm_mib MiB (before apply $(bench_kib_to_mib "$(bench_median "${befores[@]}")") MiB, at the end $(bench_kib_to_mib "$(bench_median "${rsses[@]}")") MiB)   (target < 200: $(bench_check x "$hwm_mib" '<' 200))"
