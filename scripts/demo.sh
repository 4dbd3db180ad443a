#!/usr/bin/env bash
# The pullfleet demo, on real images from a real registry:
#   1. installs the Debian packages and builds pullfleet,
#   2. starts Debian's docker-registry on a free loopback port and pushes real OCI images
#      built from Debian's busybox-static (one of them a linux/amd64 + linux/arm64 index)
#      and a 40 MB image,
#   3. starts a coordinator and three nodes in one process (`pullfleet up`),
#   4. applies a Pod (an init container and two app containers) and a Deployment of 6
#      replicas, and prints the pods as they progress until every image is present,
#   5. prints the events of one pod and where the images are on each node's disk.
#
#   scripts/demo.sh           run it, then stop the cluster and the registry
#   scripts/demo.sh --keep    leave them running to try `build/cmd/pullfleet get pods` yourself
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
KEEP=0
[ "${1:-}" = "--keep" ] && KEEP=1

scripts/install-deps.sh
echo "== building pullfleet (a few minutes the first time)"
scripts/build.sh pullfleet
PF="$ROOT/${PULLFLEET_BUILD_DIR:-build}/cmd/pullfleet"

WORK=${PULLFLEET_DEMO_DIR:-$ROOT/out/demo}
if [ -f "$WORK/registry/env" ]; then tests/rig/registry.sh stop --dir "$WORK/registry" || true; fi
rm -rf "$WORK"
mkdir -p "$WORK"

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

echo "== starting the registry and pushing real images"
REGISTRY=$(tests/rig/registry.sh start --dir "$WORK/registry")
tests/rig/build-images.sh --env "$WORK/registry/env" --cache "$ROOT/.cache/rig" \
  --images busybox,multiarch,big,app,sidecar

# The default client address when it is free, so plain `pullfleet get pods` works.
SERVER=127.0.0.1:7400
if (exec 3<>/dev/tcp/127.0.0.1/7400) 2>/dev/null; then SERVER=127.0.0.1:$(free_port); fi
# deploy/prometheus/prometheus.yml scrapes 127.0.0.1:9400: use it unless it is taken.
METRICS=127.0.0.1:9400
if (exec 3<>/dev/tcp/127.0.0.1/9400) 2>/dev/null; then METRICS=127.0.0.1:$(free_port); fi

UP_PID=
cleanup() {
  if [ "$KEEP" = 1 ]; then return; fi
  [ -n "$UP_PID" ] && kill "$UP_PID" 2>/dev/null && wait "$UP_PID" 2>/dev/null || true
  tests/rig/registry.sh stop --dir "$WORK/registry" >/dev/null 2>&1 || true
}
trap cleanup EXIT

echo "== starting a coordinator and 3 nodes in one process"
"$PF" up --nodes 3 --data "$WORK/data" --listen "$SERVER" --metrics "$METRICS" \
  >"$WORK/pullfleet.log" 2>&1 &
UP_PID=$!
# Until all three nodes are Ready: pods applied before a node registered would all go to the
# nodes that had.
for _ in $(seq 200); do
  nodes_ready=$("$PF" get nodes --server "$SERVER" 2>/dev/null | grep -c ' Ready' || true)
  [ "$nodes_ready" -ge 3 ] && break
  sleep 0.1
done
"$PF" get nodes --server "$SERVER"

echo "== applying deploy/demo/web-pod.yaml and deploy/demo/workers-deployment.yaml"
for f in web-pod.yaml workers-deployment.yaml; do
  sed "s#REGISTRY#$REGISTRY#g" "deploy/demo/$f" >"$WORK/$f"
done
"$PF" apply --server "$SERVER" -f "$WORK/web-pod.yaml" -f "$WORK/workers-deployment.yaml"

echo "== pods as they progress"
previous=
ready=0
for _ in $(seq 240); do
  table=$("$PF" get pods --server "$SERVER" -o wide)
  if [ "$table" != "$previous" ]; then
    echo "--- $(date +%T)"
    echo "$table"
    previous=$table
  fi
  total=$(echo "$table" | tail -n +2 | wc -l)
  done_count=$(echo "$table" | tail -n +2 | grep -c ' ImagesReady ' || true)
  if [ "$total" -eq 7 ] && [ "$done_count" -eq 7 ]; then
    ready=1
    break
  fi
  sleep 0.5
done
if [ "$ready" != 1 ]; then
  echo "demo: not every pod reached ImagesReady; see $WORK/pullfleet.log" >&2
  exit 1
fi
echo "== every pod is ImagesReady"

echo
echo "== describe pod web"
"$PF" describe pod web --server "$SERVER"

echo
echo "== the images on each node, and where they are on disk"
for node in node-1 node-2 node-3; do
  "$PF" get images --node "$node" --server "$SERVER"
  echo
done
echo "Node stores are OCI image layouts, readable by skopeo and umoci:"
echo "  skopeo inspect oci:$WORK/data/nodes/node-1/store:$REGISTRY/pf/busybox:1.36"
skopeo inspect "oci:$WORK/data/nodes/node-1/store:$REGISTRY/pf/busybox:1.36" 2>/dev/null |
  jq -c '{Digest, Architecture, Os, Layers}' || true
echo "Metrics: curl -s http://$METRICS/metrics | grep pullfleet_"
curl -s "http://$METRICS/metrics" | grep -E '^pullfleet_image_pulls_total' || true

if [ "$KEEP" = 1 ]; then
  echo
  echo "The cluster is still running (pid $UP_PID) on $SERVER, the registry on $REGISTRY."
  echo "Try: $PF get pods --server $SERVER -o wide"
  echo "Stop: kill $UP_PID; tests/rig/registry.sh stop --dir $WORK/registry"
fi
