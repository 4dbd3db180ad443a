#!/usr/bin/env bash
# Fleet scale on one machine: N node processes against one coordinator process (loopback).
# Measures how long the nodes take to register (from the first spawn, and from the moment the
# last process was started), then lets pods flow (--pods-per-node pods on every node, each of
# which must end ErrImageNeverPull: assignment and status reports, no registry needed) and
# counts the connections lost meanwhile, then kills the coordinator with SIGKILL, restarts it
# on the same data folder and measures how long until every node is back.
# A benchmark, run by hand (not in CI):
#
#   bench/fleet_scale.sh [--nodes 200] [--binary build/cmd/pullfleet] [--rounds 1] [--keep]
#                        [--heartbeat-ms 500] [--connection-timeout-ms 2000]
#                        [--pods-per-node 5]
#
# --keep leaves the data folder (every process's log) for a look at why a node was slow.
# Prints one line of figures per phase. Every process it starts is stopped when it ends, also
# on Ctrl-C. Needs a file-descriptor limit of about N+100 for the coordinator (raised here).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

nodes=200
binary=build/cmd/pullfleet
rounds=1
keep=0
heartbeat=500
timeout_ms=2000
pods_per_node=5
while [ $# -gt 0 ]; do
  case "$1" in
    --nodes) nodes=$2; shift 2 ;;
    --binary) binary=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --heartbeat-ms) heartbeat=$2; shift 2 ;;
    --connection-timeout-ms) timeout_ms=$2; shift 2 ;;
    --pods-per-node) pods_per_node=$2; shift 2 ;;
    *) echo "usage: $0 [--nodes N] [--binary PATH] [--rounds R] [--keep]" >&2; exit 2 ;;
  esac
done
[ -x "$binary" ] || { echo "no binary at $binary (scripts/build.sh pullfleet)" >&2; exit 1; }
ulimit -n $((nodes * 4 + 1024)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"

data=$(mktemp -d /tmp/pf-fleet-scale.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
server=127.0.0.1:$port
pids=()
coordinator_pid=""

cleanup() {
  [ -z "$coordinator_pid" ] || kill -TERM "$coordinator_pid" 2>/dev/null || true
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  sleep 2
  [ -z "$coordinator_pid" ] || kill -KILL "$coordinator_pid" 2>/dev/null || true
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$keep" -eq 1 ]; then echo "logs kept in $data"; else rm -rf "$data"; fi
}
trap cleanup EXIT INT TERM

now() { date +%s.%N; }
ready_count() {
  "$binary" get nodes --server "$server" 2>/dev/null | awk '$2 == "Ready"' | wc -l
}
# Waits (at most 120 s) until every node is Ready; prints the seconds since $1.
wait_all_ready() {
  local start=$1 deadline=$(($(date +%s) + 120))
  while [ "$(ready_count)" -lt "$nodes" ]; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "only $(ready_count) of $nodes nodes Ready after 120 s" >&2
      return 1
    fi
    sleep 0.05
  done
  awk -v a="$(now)" -v b="$start" 'BEGIN{print a-b}'
}

start_coordinator() {
  "$binary" coordinator --listen "$server" --data "$data/coordinator" \
    --heartbeat-ms "$heartbeat" --connection-timeout-ms "$timeout_ms" \
    >>"$data/coordinator.log" 2>&1 &
  coordinator_pid=$!
}

printf 'config: sharing scheduler, heartbeat %s ms, connection timeout %s ms\n' "$heartbeat" "$timeout_ms"
start_coordinator
until "$binary" get nodes --server "$server" >/dev/null 2>&1; do sleep 0.05; done

start=$(now)
for i in $(seq 1 "$nodes"); do
  "$binary" node --name "n$i" --coordinator "$server" --data "$data/nodes/n$i" \
    --heartbeat-ms "$heartbeat" --connection-timeout-ms "$timeout_ms" >>"$data/node-$i.log" 2>&1 &
  pids+=($!)
done
spawned_at=$(now)
spawned=$(awk -v a="$spawned_at" -v b="$start" 'BEGIN{print a-b}')
registered=$(wait_all_ready "$start")
after_last=$(awk -v r="$registered" -v s="$spawned" 'BEGIN{print r-s}')
rss_node=$(ps -o rss= -p "${pids[0]}" | awk '{printf "%.1f", $1/1024}')
rss_coord=$(ps -o rss= -p "$coordinator_pid" | awk '{printf "%.1f", $1/1024}')
printf 'nodes=%d spawned_in=%.2fs all_registered_after=%.2fs (%.2fs after the last spawn) node_rss=%sMiB coordinator_rss=%sMiB\n' \
  "$nodes" "$spawned" "$registered" "$after_last" "$rss_node" "$rss_coord"

# Pods flow: every node gets its pods, pulls nothing (policy Never, image absent) and reports
# ErrImageNeverPull for each; no connection may be lost meanwhile.
losses() { cat "$data"/node-*.log | grep -c "lost the coordinator" || true; }
if [ "$pods_per_node" -gt 0 ]; then
  total=$((nodes * pods_per_node))
  manifest=$data/pods.yaml
  for i in $(seq 1 "$nodes"); do
    for j in $(seq 1 "$pods_per_node"); do
      printf -- '---\napiVersion: v1\nkind: Pod\nmetadata: {name: p%d-%d}\nspec:\n  nodeName: n%d\n  containers:\n    - {name: c, image: "127.0.0.1:9/absent/image:1.0", imagePullPolicy: Never}\n' \
        "$i" "$j" "$i"
    done
  done >"$manifest"
  lost_before=$(losses)
  flow_start=$(now)
  "$binary" apply -f "$manifest" --server "$server" >/dev/null
  deadline=$(($(date +%s) + 120))
  while :; do
    reported=$("$binary" get pods -A --server "$server" 2>/dev/null | grep -c ErrImageNeverPull || true)
    [ "$reported" -ge "$total" ] && break
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "only $reported of $total pods reported ErrImageNeverPull after 120 s" >&2
      break
    fi
    sleep 0.1
  done
  flowed=$(awk -v a="$(now)" -v b="$flow_start" 'BEGIN{print a-b}')
  printf 'pods=%d on %d nodes: all reported (ErrImageNeverPull) after %.2fs; connections lost meanwhile: %d; nodes Ready: %d\n' \
    "$reported" "$nodes" "$flowed" "$(($(losses) - lost_before))" "$(ready_count)"
fi

for round in $(seq 1 "$rounds"); do
  kill -KILL "$coordinator_pid"
  wait "$coordinator_pid" 2>/dev/null || true
  killed=$(now)
  start_coordinator
  back=$(wait_all_ready "$killed")
  printf 'round=%d coordinator SIGKILLed and restarted: all %d nodes back after %.2fs\n' \
    "$round" "$nodes" "$back"
done
idle_cpu=$(ps -o %cpu= -p "${pids[0]}" | tr -d ' ')
printf 'one node idle cpu=%s%%\n' "$idle_cpu"
