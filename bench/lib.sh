# shellcheck shell=bash
# bench/lib.sh: helpers shared by the benchmark scripts (sourced, not run).
#
# Expects: BENCH_WORK (the work folder), PULLFLEET (the binary). Provides timing under
# /usr/bin/time, medians, result lines, containerd started and stopped by PID, and the
# registry's own request counters.

bench_die() {
  echo "bench: $*" >&2
  exit 1
}

bench_log() {
  echo "bench: $*" >&2
}

# True while PID runs (a zombie counts as gone: PID 1 reaps slowly on these machines).
bench_alive() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n "$state" && "$state" != Z ]]
}

# Stops PID with SIGTERM (SIGKILL after 10 s), only if its command line still names $2.
bench_stop_pid() {
  local pid=$1 name=$2 i
  [[ -n "$pid" ]] || return 0
  bench_alive "$pid" || return 0
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$name" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 200; i++)); do
    bench_alive "$pid" || return 0
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
}

bench_free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

bench_now_ms() { date +%s%3N; }

# bench_pod_manifests COUNT IMAGE NAME_PREFIX: COUNT Pod documents with one container of IMAGE
# (IfNotPresent), named NAME_PREFIX-00000 on.
bench_pod_manifests() {
  /usr/bin/python3 - "$1" "$2" "$3" <<'EOF'
import sys
count, image, prefix = int(sys.argv[1]), sys.argv[2], sys.argv[3]
for i in range(count):
    print("---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: %s-%05d\nspec:\n"
          "  containers:\n  - name: app\n    image: %s\n    imagePullPolicy: IfNotPresent"
          % (prefix, i, image))
EOF
}

# bench_up NODES DATA_DIR LOG: starts `pullfleet up --nodes NODES` on a free port in its own
# session and waits (60 s at most) until every node is Ready. Sets BENCH_UP_PID and
# BENCH_SERVER; stop it with bench_stop_pid "$BENCH_UP_PID" pullfleet.
bench_up() {
  local nodes=$1 dir=$2 log=$3 i
  BENCH_SERVER=127.0.0.1:$(bench_free_port)
  setsid "$PULLFLEET" up --nodes "$nodes" --data "$dir" --listen "$BENCH_SERVER" \
    >"$log" 2>&1 </dev/null &
  BENCH_UP_PID=$!
  for ((i = 0; i < 600; i++)); do
    if (($("$PULLFLEET" get nodes --server "$BENCH_SERVER" 2>/dev/null | grep -c ' Ready ' || true) >= nodes)); then
      return 0
    fi
    bench_alive "$BENCH_UP_PID" || bench_die "pullfleet up died (see $log)"
    sleep 0.1
  done
  bench_die "not all $nodes nodes registered within 60 s (see $log)"
}

# bench_timed OUT_FILE CMD...: runs CMD under /usr/bin/time; OUT_FILE gets
# "WALL_SECONDS MAX_RSS_KIB USER_SECONDS SYSTEM_SECONDS" (CPU of CMD and the children it
# waited for). CMD's own output goes to OUT_FILE.log. Fails when CMD fails.
bench_timed() {
  local out=$1
  shift
  if ! /usr/bin/time -f '%e %M %U %S' -o "$out" "$@" >"$out.log" 2>&1; then
    echo "bench: command failed: $*" >&2
    tail -n 5 "$out.log" >&2
    return 1
  fi
}

# bench_median NUMBERS...: the median (mean of the middle two for an even count).
bench_median() {
  printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {
    if (NR == 0) { print "nan"; exit }
    if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# bench_ratio A B: A / B with three decimals.
bench_ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "nan"; else printf "%.3f\n", a / b }'
}

# bench_check NAME VALUE OP LIMIT: prints "met" or "NOT met" for VALUE OP LIMIT (OP: <= < >=).
bench_check() {
  awk -v v="$2" -v op="$3" -v l="$4" 'BEGIN {
    ok = (op == "<=") ? v <= l : (op == "<") ? v < l : (op == ">=") ? v >= l : (v == l)
    print ok ? "met" : "NOT met" }'
}

# bench_result LINE: prints a result line and appends it to the run's summary.
bench_result() {
  echo "$*"
  echo "$*" >>"$BENCH_WORK/summary.txt"
}

# Peak and current resident set of PID in KiB: "HWM RSS".
bench_rss_kib() {
  awk '/^VmHWM:/ {h = $2} /^VmRSS:/ {r = $2} END {print h + 0, r + 0}' "/proc/$1/status" 2>/dev/null
}

bench_kib_to_mib() {
  awk -v k="$1" 'BEGIN { printf "%.1f\n", k / 1024 }'
}

# ---- the registry's own counters ----------------------------------------------------------------

# Blob GETs the registry has answered so far (its Prometheus metrics on the debug address).
bench_registry_blob_gets() {
  curl -sf "http://$REGISTRY_DEBUG_ADDR/metrics" |
    awk '/^registry_http_requests_total\{/ && /handler="blob"/ && /method="get"/ {s += $NF}
         END {print s + 0}'
}

# ---- containerd, started by the benchmark ------------------------------------------------------

# Starts containerd with its own root, state and socket under DIR (fresh each time) and the
# CRI plugin disabled; sets CONTAINERD_PID and CONTAINERD_SOCK.
bench_containerd_start() {
  local dir=$1 i
  rm -rf "$dir"
  mkdir -p "$dir/root" "$dir/state"
  CONTAINERD_SOCK=$dir/containerd.sock
  cat >"$dir/config.toml" <<EOF
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "$CONTAINERD_SOCK.ttrpc"
[debug]
  level = "warn"
[metrics]
  address = ""
EOF
  setsid containerd --config "$dir/config.toml" >"$dir/containerd.log" 2>&1 </dev/null &
  CONTAINERD_PID=$!
  for ((i = 0; i < 200; i++)); do
    if ctr --address "$CONTAINERD_SOCK" version >/dev/null 2>&1; then return 0; fi
    bench_alive "$CONTAINERD_PID" || break
    sleep 0.05
  done
  tail -n 5 "$dir/containerd.log" >&2
  bench_die "containerd did not start (see $dir/containerd.log)"
}

bench_containerd_stop() {
  bench_stop_pid "${CONTAINERD_PID:-}" containerd
  CONTAINERD_PID=""
}
