#!/usr/bin/env bash
# bench/run.sh: the benchmarks of pullfleet, from one command on a fresh clone.
#
#   bench/run.sh [--rounds N] [--only pull,fleet,shared] [--pods N] [--nodes N]
#                [--shared-pods N] [--work DIR] [--no-install]
#
# Installs the Debian packages (scripts/install-deps.sh), builds the binary, starts the real
# registry on loopback (tests/rig/registry.sh), builds and pushes the benchmark images once
# (bench/make_images.py; cached in the work folder), then runs:
#   pull    bench/pull.sh: a 1 GiB image of 4 layers and a 200 MiB image of 40 layers, pulled
#           by pullfleet, skopeo, containerd's ctr and curl in turn (wall time, peak RSS)
#   fleet   bench/fleet.sh: 10,000 pods over 100 nodes in one process, every image present
#           (pods per second to ImagesReady, the process's RSS)
#   shared  bench/shared.sh: 100 pods on one node needing one uncached image (the registry's
#           blob GETs, time until every pod is ImagesReady)
# and prints every figure with its target at the end (also in WORK/summary.txt).
#
# Defaults: 7 rounds, all three, 10000 pods over 100 nodes, 100 shared pods, work folder
# .cache/bench (about 2.5 GiB: the image layout and the registry's storage; delete it when
# done). A benchmark is not a test: it asserts nothing and is not part of ctest. Figures
# from a shared machine are noisy: compare the ratios within one run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH_DIR=$ROOT/bench
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"

rounds=7 only=pull,fleet,shared pods=10000 nodes=100 shared_pods=100 install=1
work=$ROOT/.cache/bench
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --pods) pods=$2; shift 2 ;;
    --nodes) nodes=$2; shift 2 ;;
    --shared-pods) shared_pods=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --no-install) install=0; shift ;;
    -h | --help) sed -n '2,21p' "$0"; exit 0 ;;
    *) bench_die "unknown option '$1' (see --help)" ;;
  esac
done
for n in "$rounds" "$pods" "$nodes" "$shared_pods"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || bench_die "counts must be positive integers, not '$n'"
done
IFS=, read -r -a wanted <<<"$only"
for part in "${wanted[@]}"; do
  [[ "$part" == pull || "$part" == fleet || "$part" == shared ]] ||
    bench_die "unknown part '$part' in --only (pull, fleet, shared)"
done

if ((install)); then "$ROOT/scripts/install-deps.sh"; fi
"$ROOT/scripts/build.sh" pullfleet >/dev/null
BUILD_DIR=${PULLFLEET_BUILD_DIR:-build}
export PULLFLEET=$ROOT/$BUILD_DIR/cmd/pullfleet
[[ -x "$PULLFLEET" ]] || bench_die "no binary at $PULLFLEET after the build"
mkdir -p "$work"
export BENCH_WORK
BENCH_WORK="$(cd "$work" && pwd)"
: >"$BENCH_WORK/summary.txt"

cleanup() {
  "$ROOT/tests/rig/registry.sh" stop --dir "$BENCH_WORK/registry" || true
}
trap cleanup EXIT

# The images: built once (about a minute), rebuilt only when make_images.py changes.
layout=$BENCH_WORK/layout
key=$(sha256sum "$BENCH_DIR/make_images.py" | awk '{print $1}')
if [[ "$(cat "$layout/.key" 2>/dev/null)" != "$key" ]]; then
  bench_log "building the benchmark images (about 1.2 GiB, once) into $layout"
  rm -rf "$layout" "$layout.tmp"
  /usr/bin/python3 "$BENCH_DIR/make_images.py" --out "$layout.tmp"
  echo "$key" >"$layout.tmp/.key"
  mv "$layout.tmp" "$layout"
fi

# The registry keeps its storage in the work folder: the images are pushed once. One left
# running by an interrupted run is stopped first.
"$ROOT/tests/rig/registry.sh" stop --dir "$BENCH_WORK/registry"
"$ROOT/tests/rig/registry.sh" start --dir "$BENCH_WORK/registry" >/dev/null
# shellcheck disable=SC1091
source "$BENCH_WORK/registry/env"
# shellcheck disable=SC1091
source "$layout/digests.env"
for image in big many tiny; do
  digest_var=${image^^}_DIGEST
  if ! curl -sf -o /dev/null -I -H "Accept: application/vnd.oci.image.manifest.v1+json" \
    "$REGISTRY_URL/v2/bench/$image/manifests/${!digest_var}"; then
    bench_log "pushing bench/$image:1.0 to the registry (once)"
    skopeo copy --quiet --dest-tls-verify=false "oci:$layout:$image-1.0" \
      "docker://$REGISTRY_HOST/bench/$image:1.0"
  fi
done
{
  cat "$layout/digests.env"
  echo "BENCH_HOST=$REGISTRY_HOST"
} >"$BENCH_WORK/images.env"

bench_log "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%FT%TZ)"
for part in "${wanted[@]}"; do
  case "$part" in
    pull)
      "$BENCH_DIR/pull.sh" big "$rounds"
      "$BENCH_DIR/pull.sh" many "$rounds"
      ;;
    fleet) "$BENCH_DIR/fleet.sh" "$pods" "$nodes" "$rounds" ;;
    shared) "$BENCH_DIR/shared.sh" "$shared_pods" "$rounds" ;;
  esac
done

echo
echo "==== summary ($(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)) ===="
cat "$BENCH_WORK/summary.txt"
