#!/usr/bin/env bash
# Fleet scale on one machine: N node processes against one coordinator process (loopback).
# Measures how long the nodes take to register, then kills the coordinator with SIGKILL,
# restarts it on the same data folder and measures how long until every node is back.
# A benchmark, run by hand (not in CI):
#
#   bench/fleet_scale.sh [--nodes 200] [--binary build/cmd/pullfleet] [--rounds 1] [--keep]
#                        [--heartbeat-ms 500] [--connection-timeout-ms 2000]
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
while [ $# -gt 0 ]; do
  case "$1" in
    --nodes) nodes=$2; shift 2 ;;
    --binary) binary=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --heartbeat-ms) heartbeat=$2; shift 2 ;;
    --connection-timeout-ms) timeout_ms=$2; shift 2 ;;
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
spawned=$(awk -v a="$(now)" -v b="$start" 'BEGIN{print a-b}')
registered=$(wait_all_ready "$start")
rss_node=$(ps -o rss= -p "${pids[0]}" | awk '{printf "%.1f", $1/1024}')
rss_coord=$(ps -o rss= -p "$coordinator_pid" | awk '{printf "%.1f", $1/1024}')
printf 'nodes=%d spawned_in=%.2fs all_registered_after=%.2fs node_rss=%sMiB coordinator_rss=%sMiB\n' \
  "$nodes" "$spawned" "$registered" "$rss_node" "$rss_coord"

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
