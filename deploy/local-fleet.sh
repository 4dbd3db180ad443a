#!/usr/bin/env bash
# A local fleet on one machine that behaves like one spread over hosts: one coordinator and N
# nodes, each in its own network namespace with its own address, joined by veth pairs to a
# bridge in the root namespace. Needs root and iproute2 (and iptables for `cut`).
#
#   deploy/local-fleet.sh up --nodes N --data DIR [--binary PATH] [--node-config FILE]
#                            [--subnet 10.77.0] [--prefix pf] [-- EXTRA COORDINATOR FLAGS]
#   deploy/local-fleet.sh status [--prefix pf]
#   deploy/local-fleet.sh cut NODE [--prefix pf]     drop every packet of NODE (its namespace)
#   deploy/local-fleet.sh heal NODE [--prefix pf]
#   deploy/local-fleet.sh down [--prefix pf]         stop every process, remove the namespaces
#
# Addresses: the bridge (root namespace) is SUBNET.254, the coordinator SUBNET.1 (port 7400,
# namespace PREFIX-coord), node-I is SUBNET.(I+1) in namespace PREFIX-node-I. Clients in the
# root namespace reach the coordinator at SUBNET.1:7400. A registry the nodes pull from must
# listen on an address they can reach (for example SUBNET.254:PORT) and, being plain HTTP and
# not loopback, be listed in the node config under registries with plainHTTP: true.
# State (PIDs, addresses) is kept in DIR/fleet.env so `down` finds everything it started.
set -euo pipefail

prefix=pf
subnet=10.77.0
nodes=1
data=""
binary=""
node_config=""
extra=()

usage() { sed -n '2,18p' "$0" >&2; exit 2; }

state_file() { echo "/run/pullfleet-fleet-$prefix.env"; }

parse_common() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --nodes) nodes=$2; shift 2 ;;
      --data) data=$2; shift 2 ;;
      --binary) binary=$2; shift 2 ;;
      --node-config) node_config=$2; shift 2 ;;
      --subnet) subnet=$2; shift 2 ;;
      --prefix) prefix=$2; shift 2 ;;
      --) shift; extra=("$@"); break ;;
      *) echo "local-fleet: unknown argument $1" >&2; usage ;;
    esac
  done
}

# Makes namespace $1 with address $2 on a veth whose other end joins the bridge.
add_namespace() {
  local ns=$1 address=$2 index=$3
  local host_end="${prefix}h${index}" ns_end="${prefix}n${index}"
  ip netns add "$ns"
  ip link add "$host_end" type veth peer name "$ns_end"
  ip link set "$ns_end" netns "$ns"
  ip link set "$host_end" master "${prefix}br0" up
  ip -n "$ns" addr add "$address/24" dev "$ns_end"
  ip -n "$ns" link set "$ns_end" up
  ip -n "$ns" link set lo up
}

# Starts `pullfleet ARGS` in namespace $1, output to $2; prints its PID.
start_in() {
  local ns=$1 log=$2
  shift 2
  ip netns exec "$ns" "$binary" "$@" >>"$log" 2>&1 &
  echo $!
}

cmd_up() {
  parse_common "$@"
  [ -n "$data" ] || usage
  [ -n "$binary" ] || binary="$(cd "$(dirname "$0")/.." && pwd)/build/cmd/pullfleet"
  [ -x "$binary" ] || { echo "local-fleet: no binary at $binary (scripts/build.sh)" >&2; exit 1; }
  [ ! -e "$(state_file)" ] || { echo "local-fleet: a fleet '$prefix' runs; down first" >&2; exit 1; }
  mkdir -p "$data/logs"
  ip link add "${prefix}br0" type bridge
  ip addr add "$subnet.254/24" dev "${prefix}br0"
  ip link set "${prefix}br0" up
  echo "PREFIX=$prefix" >"$(state_file)"
  echo "DATA=$data" >>"$(state_file)"

  add_namespace "${prefix}-coord" "$subnet.1" 0
  local pid
  pid=$(start_in "${prefix}-coord" "$data/logs/coordinator.log" coordinator \
    --listen "$subnet.1:7400" --data "$data/coordinator" "${extra[@]}")
  echo "PID_coordinator=$pid" >>"$(state_file)"

  for i in $(seq 1 "$nodes"); do
    add_namespace "${prefix}-node-$i" "$subnet.$((i + 1))" "$i"
    local args=(node --name "node-$i" --coordinator "$subnet.1:7400" --data "$data/nodes/node-$i")
    [ -z "$node_config" ] || args+=(--config "$node_config")
    pid=$(start_in "${prefix}-node-$i" "$data/logs/node-$i.log" "${args[@]}")
    echo "PID_node_$i=$pid" >>"$(state_file)"
  done
  echo "local-fleet: coordinator at $subnet.1:7400 (namespace ${prefix}-coord), nodes node-1.."\
"node-$nodes at $subnet.2..$subnet.$((nodes + 1)); logs in $data/logs"
  echo "local-fleet: try  $binary get nodes --server $subnet.1:7400"
}

cmd_status() {
  parse_common "$@"
  [ -e "$(state_file)" ] || { echo "local-fleet: no fleet '$prefix'"; exit 1; }
  while IFS='=' read -r key value; do
    case "$key" in
      PID_*) if kill -0 "$value" 2>/dev/null; then s=running; else s=gone; fi
             echo "${key#PID_} pid $value $s" ;;
    esac
  done <"$(state_file)"
}

cmd_cut() {
  local node=$1
  shift
  parse_common "$@"
  ip netns exec "${prefix}-$node" iptables -I INPUT -j DROP
  ip netns exec "${prefix}-$node" iptables -I OUTPUT -j DROP
}

cmd_heal() {
  local node=$1
  shift
  parse_common "$@"
  ip netns exec "${prefix}-$node" iptables -D INPUT -j DROP || true
  ip netns exec "${prefix}-$node" iptables -D OUTPUT -j DROP || true
}

cmd_down() {
  parse_common "$@"
  if [ -e "$(state_file)" ]; then
    local pids=()
    while IFS='=' read -r key value; do
      case "$key" in PID_*) pids+=("$value") ;; esac
    done <"$(state_file)"
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for _ in $(seq 1 50); do
      alive=0
      for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
      [ $alive -eq 0 ] && break
      sleep 0.2
    done
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    rm -f "$(state_file)"
  fi
  for ns in $(ip netns list | awk '{print $1}' | grep "^${prefix}-\(coord\|node-[0-9]*\)$" || true); do
    ip netns del "$ns"
  done
  ip link del "${prefix}br0" 2>/dev/null || true
}

[ $# -ge 1 ] || usage
command=$1
shift
case "$command" in
  up) cmd_up "$@" ;;
  status) cmd_status "$@" ;;
  cut) [ $# -ge 1 ] || usage; cmd_cut "$@" ;;
  heal) [ $# -ge 1 ] || usage; cmd_heal "$@" ;;
  down) cmd_down "$@" ;;
  *) usage ;;
esac
