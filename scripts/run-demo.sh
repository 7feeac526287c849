#!/usr/bin/env bash
# A local Flower federation in one command: the embedded SuperLink with its
# FedAvg driver on 127.0.0.1 and N `pollen` clients fine-tune the zoo's small
# CNN on label-skewed shards of the UCI handwritten digits, round by round.
#
#   scripts/run-demo.sh [--clients N] [--rounds R] [--device auto|cpu|cuda|cuda:N]
#                       [--threshold ACC] [--keep] [--build-dir DIR] [--no-build]
#   scripts/run-demo.sh --superlink HOST:PORT [--root-certificates FILE] [--clients N]
#
# Sets everything up itself (scripts/build.sh runs scripts/setup.sh), prints
# every client's local loss, accuracy and samples/s and the global model's
# accuracy on a held-out set each round, then a table and a plot
# (BUILD_DIR/demo/federation.png). Exits 0 only when the final held-out
# accuracy reaches --threshold. With --superlink the clients join that
# server instead (e.g. a real flower-superlink running a ServerApp) and run
# until Ctrl-C. Every process started here is stopped on exit and on Ctrl-C.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

clients=3 rounds=5 device=auto threshold=0.90 keep=0 build_dir=$root/build no_build=0
superlink="" root_certificates=""
usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --clients) clients=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    --threshold) threshold=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --build-dir) build_dir=$(realpath -m "$2"); shift 2 ;;
    --no-build) no_build=1; shift ;;
    --superlink) superlink=$2; shift 2 ;;
    --root-certificates) root_certificates=$(realpath "$2"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run-demo: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ $clients =~ ^[1-9][0-9]*$ && $rounds =~ ^[1-9][0-9]*$ ]] || {
  echo "run-demo: --clients and --rounds take positive integers" >&2; exit 2; }

pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  pids=()
  if [[ $keep -eq 0 && -n ${work:-} ]]; then rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'echo; echo "run-demo: interrupted, stopping"; exit 130' INT TERM

if [[ $no_build -eq 0 ]]; then
  echo "==== set-up and build ($build_dir) ===="
  "$root/scripts/build.sh" "$build_dir" | tail -n 1
fi
"$root/scripts/fetch-digits.sh" >/dev/null
pollen=$build_dir/cli/pollen
superlink_lite=$build_dir/superlink-lite/pollen-superlink-lite
zoo=$build_dir/models/zoo
for f in "$pollen" "$superlink_lite" "$zoo/cnn8.pt" "$zoo/cnn8.npz"; do
  [[ -e $f ]] || { echo "run-demo: $f is missing; build first (drop --no-build)" >&2; exit 1; }
done

out=$build_dir/demo
mkdir -p "$out"
work=$(mktemp -d "$out/run.XXXXXX")
python=$(command -v python3)
"$python" "$root/scripts/prepare_digits.py" --src "$root/.cache/digits/digits.csv" \
  --out "$work/data" --clients "$clients" --seed 0

threads=$(( $(nproc) / clients )); (( threads >= 1 )) || threads=1
connection=(--insecure)
if [[ -n $root_certificates ]]; then connection=(--root-certificates "$root_certificates"); fi
start_clients() {  # $1: SuperLink address
  local i
  for ((i = 0; i < clients; i++)); do
    "$pollen" --superlink "$1" "${connection[@]}" --model "$zoo/cnn8.pt" \
      --train-data "$work/data/client-$i.csv" --eval-data "$work/data/test.csv" \
      --device "$device" --threads "$threads" --momentum 0.9 --seed "$i" --poll-interval 0.2 \
      --train-metrics loss,accuracy,num-examples \
      --state-dir "$work/state-$i" >"$work/client-$i.log" 2>&1 &
    pids+=($!)
  done
}

if [[ -n $superlink ]]; then
  echo "==== $clients Pollen clients -> $superlink (Ctrl-C stops them) ===="
  keep=1
  start_clients "$superlink"
  tail -n +1 -F "$work"/client-*.log
  exit 0
fi

port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "==== FedAvg on 127.0.0.1:$port: $clients clients x $rounds rounds, cnn8 on the UCI digits ===="
"$superlink_lite" --insecure --address "127.0.0.1:$port" --rounds "$rounds" \
  --min-nodes "$clients" --wait-timeout 120 --initial-arrays "$zoo/cnn8.npz" \
  --train-config "lr=0.05 local-epochs=1" --poll-ms 500 --metrics-out "$work/metrics.jsonl" \
  --save-arrays "$work/global.npz" >"$work/server.log" 2>&1 &
server=$!
pids+=("$server")
start_clients "127.0.0.1:$port"

"$python" "$root/scripts/demo_report.py" follow --metrics "$work/metrics.jsonl" --logs "$work" \
  --clients "$clients" --rounds "$rounds" --pid "$server"
server_rc=0
wait "$server" || server_rc=$?
if [[ $server_rc -ne 0 ]]; then
  echo "run-demo: the server failed (exit $server_rc):" >&2
  tail -n 20 "$work/server.log" >&2
  for ((i = 0; i < clients; i++)); do tail -n 5 "$work/client-$i.log" >&2; done
  keep=1
  echo "run-demo: logs kept in $work" >&2
  exit 1
fi
cp "$work/metrics.jsonl" "$work/global.npz" "$out/"
rc=0
"$python" "$root/scripts/demo_report.py" final --metrics "$out/metrics.jsonl" --out "$out" \
  --threshold "$threshold" || rc=$?
echo "final global model: $out/global.npz (numpy: np.load)"
if [[ $keep -eq 1 ]]; then echo "logs, data shards and state directories: $work"; fi
exit $rc
