#!/usr/bin/env bash
# bench/pull.sh: one image pulled by pullfleet and by its peers in turn, on the same registry
# and the same data, several rounds; prints medians of wall time and peak RSS, and ratios.
#
#   bench/pull.sh big|many ROUNDS      (run by bench/run.sh, which sets the environment)
#
# Clients, each into a fresh folder, the order rotating every round so that a drift of the
# machine's speed spreads over all of them:
#   pullfleet  `pullfleet image pull REF --data DIR` (the node's own client and store: hashing
#              while writing, fsync before each blob's rename)
#   skopeo     `skopeo copy docker://REF oci:DIR:TAG`
#   ctr        `ctr content fetch REF` against a containerd started fresh for the round (its
#              own root, state and socket, CRI disabled); its RSS is the ctr client's, and the
#              daemon's peak is reported beside it
#   curl       the image's blobs one after another to files (no hashing, no fsync): the floor
# CPU is user + system time of the client process (and its children): on a machine that
# others share, it is the figure the load does not move; the registry's CPU is not counted.
# The destination folders are deleted and `sync`ed between runs (not timed), so one client's
# dirty pages are not written back during the next one's run.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"
: "${BENCH_WORK:?run bench/run.sh}" "${PULLFLEET:?run bench/run.sh}"
# shellcheck disable=SC1091
source "$BENCH_WORK/registry/env"
# shellcheck disable=SC1091
source "$BENCH_WORK/images.env"

name=${1:?usage: pull.sh big|many ROUNDS}
rounds=${2:-5}
case "$name" in
  big) layers=$BIG_LAYERS config=$BIG_CONFIG size=$BIG_SIZE label="1 GiB, 4 layers" ;;
  many) layers=$MANY_LAYERS config=$MANY_CONFIG size=$MANY_SIZE label="200 MiB, 40 layers" ;;
  *) bench_die "unknown image '$name' (big or many)" ;;
esac
ref=$REGISTRY_HOST/bench/$name:1.0
runs=$BENCH_WORK/runs/pull-$name
dest=$BENCH_WORK/dest
rm -rf "$runs"
mkdir -p "$runs"
clients=(pullfleet skopeo ctr curl)

# The blobs of the image as URLs, config first (what every client fetches).
urls=()
for digest in $config $layers; do urls+=("$REGISTRY_URL/v2/bench/$name/blobs/$digest"); done

# Warm the registry's page cache so that the first client measured is not the one that reads
# the registry's files from disk.
for url in "${urls[@]}"; do curl -sf -o /dev/null "$url" || bench_die "cannot fetch $url"; done

run_client() {
  local client=$1 round=$2
  local out=$runs/$client-$round written=$dest
  rm -rf "$dest"
  mkdir -p "$dest"
  sync
  case "$client" in
    pullfleet)
      bench_timed "$out" "$PULLFLEET" image pull "$ref" --data "$dest/pf"
      grep -q "fetched:" "$out.log" || bench_die "pullfleet printed no summary ($out.log)"
      ;;
    skopeo)
      bench_timed "$out" skopeo copy --quiet --src-tls-verify=false "docker://$ref" \
        "oci:$dest/skopeo:$name"
      ;;
    ctr)
      bench_containerd_start "$BENCH_WORK/containerd"
      bench_timed "$out" ctr --address "$CONTAINERD_SOCK" --namespace bench content fetch \
        --plain-http "$ref"
      # The daemon writes the content: its peak resident set for this round (fresh daemon).
      read -r hwm _ < <(bench_rss_kib "$CONTAINERD_PID")
      echo "$hwm" >"$out.daemon"
      bench_containerd_stop
      written=$BENCH_WORK/containerd/root/io.containerd.content.v1.content/blobs
      ;;
    curl)
      mkdir -p "$dest/curl"
      # shellcheck disable=SC2016 # expanded by the inner bash
      bench_timed "$out" bash -c 'd=$1; shift; i=0
        for u; do curl -sf -o "$d/blob-$i" "$u" || exit 1; i=$((i + 1)); done' _ "$dest/curl" \
        "${urls[@]}"
      ;;
  esac
  # Every client must have written the whole image (a failed run must not look fast).
  local bytes
  bytes=$(du -sb --apparent-size "$written" | awk '{print $1}')
  ((bytes >= size)) || bench_die "$client wrote $bytes bytes, the image has $size ($out.log)"
  rm -rf "$dest" "$BENCH_WORK/containerd"
  sync
}

bench_log "pull $label: $rounds rounds of ${clients[*]}"
for ((round = 0; round < rounds; round++)); do
  order=()
  for ((i = 0; i < ${#clients[@]}; i++)); do
    order+=("${clients[$(((i + round) % ${#clients[@]}))]}")
  done
  line="round $((round + 1)):"
  for client in "${order[@]}"; do
    run_client "$client" "$round"
    line+=" $client $(awk '{print $1}' "$runs/$client-$round")s"
  done
  bench_log "$line"
done

declare -A wall rss cpu
for client in "${clients[@]}"; do
  walls=() rsses=() cpus=()
  for ((round = 0; round < rounds; round++)); do
    read -r w r u s <"$runs/$client-$round"
    walls+=("$w")
    rsses+=("$r")
    cpus+=("$(awk -v u="$u" -v s="$s" 'BEGIN { print u + s }')")
  done
  wall[$client]=$(bench_median "${walls[@]}")
  rss[$client]=$(bench_median "${rsses[@]}")
  cpu[$client]=$(bench_median "${cpus[@]}")
done
daemon=()
for ((round = 0; round < rounds; round++)); do daemon+=("$(cat "$runs/ctr-$round.daemon")"); done
daemon_rss=$(bench_median "${daemon[@]}")

vs_skopeo=$(bench_ratio "${wall[pullfleet]}" "${wall[skopeo]}")
vs_ctr=$(bench_ratio "${wall[pullfleet]}" "${wall[ctr]}")
vs_curl=$(bench_ratio "${wall[pullfleet]}" "${wall[curl]}")
bench_result ""
bench_result "pull $label ($((size / 1048576)) MiB of layers), median of $rounds rounds:"
for client in "${clients[@]}"; do
  extra=""
  [[ "$client" == ctr ]] && extra=" (containerd daemon peak $(bench_kib_to_mib "$daemon_rss") MiB)"
  bench_result "$(printf '  %-10s %7.2f s  CPU %6.2f s  peak RSS %7.1f MiB%s' "$client" \
    "${wall[$client]}" "${cpu[$client]}" "$(bench_kib_to_mib "${rss[$client]}")" "$extra")"
done
bench_result "  pullfleet / skopeo  = $vs_skopeo   (target <= 0.5: $(bench_check x "$vs_skopeo" '<=' 0.5))"
if [[ "$name" == big ]]; then
  bench_result "  pullfleet / curl    = $vs_curl   (target <= 1.3: $(bench_check x "$vs_curl" '<=' 1.3))"
else
  bench_result "  pullfleet / curl    = $vs_curl"
fi
bench_result "  pullfleet / ctr     = $vs_ctr"
bench_result "  CPU: pullfleet / skopeo = $(bench_ratio "${cpu[pullfleet]}" "${cpu[skopeo]}")," \
  "pullfleet / curl = $(bench_ratio "${cpu[pullfleet]}" "${cpu[curl]}") (ctr's CPU is the client's;" \
  "the daemon's is not counted)"
pf_mib=$(bench_kib_to_mib "${rss[pullfleet]}")
bench_result "  pullfleet peak RSS  = $pf_mib MiB   (target < 64: $(bench_check x "$pf_mib" '<' 64))"
