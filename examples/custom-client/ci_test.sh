#!/usr/bin/env bash
# The README's commands as a test: install Pollen into a scratch prefix, build
# this example against the installed package only, export the model, and run
# each program against its own pollen-superlink-lite on a free port:
#   sensor-node  2 rounds of FedAvg, 1 reply per step
#   stats-node   1 round (and the binary must not need LibTorch)
#
#   ci_test.sh --build-dir DIR --scratch DIR --superlink-lite FILE
#              [--python FILE] [--generator NAME] [--build-type TYPE]
#              [--prefix DIR]   (an installed Pollen to use instead of installing)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build_dir='' scratch='' superlink_lite='' prefix=''
python=/usr/bin/python3 generator='' build_type=Release
while [[ $# -gt 0 ]]; do
  case $1 in
    --build-dir) build_dir=$2 ;;
    --scratch) scratch=$2 ;;
    --superlink-lite) superlink_lite=$2 ;;
    --python) python=$2 ;;
    --generator) generator=$2 ;;
    --build-type) build_type=$2 ;;
    --prefix) prefix=$2 ;;
    *) echo "ci_test.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift 2
done
[[ -n $scratch && -n $superlink_lite && ( -n $build_dir || -n $prefix ) ]] || {
  echo "ci_test.sh: --scratch, --superlink-lite and --build-dir (or --prefix) are required" >&2
  exit 2
}

fail() { echo "custom_client: FAIL: $*" >&2; exit 1; }

pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  pids=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

show_logs() {
  local f
  for f in "$scratch"/*.log; do echo "---- $f"; tail -n 40 "$f"; done >&2
}

rm -rf "$scratch"
mkdir -p "$scratch"
if [[ -z $prefix ]]; then
  prefix=$scratch/prefix
  cmake --install "$build_dir" --prefix "$prefix" >"$scratch/install.log"
fi

configure=(cmake -S "$here" -B "$scratch/build" -DCMAKE_BUILD_TYPE="$build_type"
           -DCMAKE_PREFIX_PATH="$prefix")
[[ -n $generator ]] && configure+=(-G "$generator")
"${configure[@]}" >"$scratch/configure.log" 2>&1 || { cat "$scratch/configure.log"; fail configure; }
cmake --build "$scratch/build" >"$scratch/build.log" 2>&1 || { cat "$scratch/build.log"; fail build; }
sensor_node=$scratch/build/sensor-node
stats_node=$scratch/build/stats-node
if command -v ldd >/dev/null && ldd "$stats_node" | grep -q libtorch; then
  fail "stats-node links LibTorch"
fi

"$python" "$here/export_model.py" --out "$scratch/model"
"$stats_node" --write-initial "$scratch/stats.npz"

# Starts pollen-superlink-lite on a free port; sets $port.
start_superlink() {  # $1: log name, then its flags
  local log=$scratch/$1.log
  shift
  "$superlink_lite" --insecure --address 127.0.0.1:0 --min-nodes 1 --wait-timeout 60 \
    --round-timeout 60 --poll-ms 200 "$@" >"$log" 2>&1 &
  pids+=($!)
  port=
  for _ in $(seq 100); do
    port=$(sed -n 's/^Fleet API on 127\.0\.0\.1:\([0-9]*\);.*/\1/p' "$log")
    [[ -n $port ]] && return 0
    sleep 0.1
  done
  cat "$log" >&2
  fail "pollen-superlink-lite did not start"
}

start_superlink server-sensor --rounds 2 --initial-arrays "$scratch/model/sensor_mlp.npz" \
  --train-config "lr=0.1 local-epochs=3"
sensor_server=${pids[-1]}
"$sensor_node" --superlink "127.0.0.1:$port" --insecure --model "$scratch/model/sensor_mlp.pt" \
  --device cpu --device-seed 1 --poll-interval 0.2 >"$scratch/sensor-node.log" 2>&1 &
pids+=($!)
sensor_client=$!

start_superlink server-stats --rounds 1 --initial-arrays "$scratch/stats.npz"
stats_server=${pids[-1]}
"$stats_node" --superlink "127.0.0.1:$port" --insecure --device-seed 2 --poll-interval 0.2 \
  >"$scratch/stats-node.log" 2>&1 &
pids+=($!)
stats_client=$!

# Each server exits by itself after its last round (or after its timeouts).
for server in "$sensor_server" "$stats_server"; do
  rc=0
  wait "$server" || rc=$?
  [[ $rc -eq 0 ]] || { show_logs; fail "pollen-superlink-lite exited with $rc"; }
done

# Every step of every round got exactly one reply and no error.
check_rounds() {  # $1: server log, $2: rounds
  local log=$scratch/$1.log r
  for ((r = 1; r <= $2; r++)); do
    if ! grep -A2 -x "round $r" "$log" | grep -q "^  train: 1 replies, 0 errors, 0 missing" ||
       ! grep -A2 -x "round $r" "$log" | grep -q "^  evaluate: 1 replies, 0 errors, 0 missing"
    then
      show_logs
      fail "$1: round $r did not get 1 train and 1 evaluate reply"
    fi
  done
}
check_rounds server-sensor 2
check_rounds server-stats 1

# SIGTERM stops the nodes cleanly (exit 0) after the replies they sent.
for client in "$sensor_client" "$stats_client"; do kill -TERM "$client"; done
for pair in "$sensor_client:sensor-node:4" "$stats_client:stats-node:2"; do
  IFS=: read -r pid name replies <<<"$pair"
  rc=0
  wait "$pid" || rc=$?
  [[ $rc -eq 0 ]] || { show_logs; fail "$name exited with $rc after SIGTERM"; }
  grep -q "Node stopped: $replies instructions, $replies replies (0 errors)" \
    "$scratch/$name.log" || { show_logs; fail "$name did not answer $replies instructions"; }
done
pids=()

cat "$scratch/server-sensor.log" "$scratch/server-stats.log"
echo "custom_client: ok"
