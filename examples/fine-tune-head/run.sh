#!/usr/bin/env bash
# Federated fine-tuning of a head only: two `pollen --trainable head.` clients
# fine-tune the head of a pretrained ~1 M-parameter backbone through FedAvg on
# the embedded server, then the same federation trains everything, for a
# comparison of speed.
#
#   examples/fine-tune-head/run.sh [--build-dir DIR] [--rounds N] [--work DIR]
#       [--python PYTHON] [--digits CSV] [--pollen BIN] [--superlink-lite BIN]
#       [--train-config CONFIG] [--threshold ACC]
#
# Checks, in each client's --state-dir, that every backbone array of local.npz
# (what the client sent back) is byte-identical to global.npz (what it got)
# while every head array changed; prints the parameters trained and frozen,
# samples/s of both runs, and a last line "fine-tune-head: PASS ..." (or FAIL).
# "skipped: ..." when the digits (scripts/fetch-digits.sh) are missing.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

build_dir=$root/build rounds=2 work="" python=/usr/bin/python3 threshold=0.85
train_config="lr=0.02 local-epochs=2 batch-size=32 momentum=0.9"
digits=$root/.cache/digits/digits.csv pollen="" superlink_lite=""
usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --build-dir) build_dir=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --python) python=$2; shift 2 ;;
    --digits) digits=$2; shift 2 ;;
    --pollen) pollen=$2; shift 2 ;;
    --superlink-lite) superlink_lite=$2; shift 2 ;;
    --train-config) train_config=$2; shift 2 ;;
    --threshold) threshold=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --rounds takes a positive integer" >&2; exit 2; }
build_dir=$(realpath -m "$build_dir") digits=$(realpath -m "$digits")
pollen=$(realpath -m "${pollen:-$build_dir/cli/pollen}")
superlink_lite=$(realpath -m "${superlink_lite:-$build_dir/superlink-lite/pollen-superlink-lite}")
work=$(realpath -m "${work:-$build_dir/fine-tune-head}")
if [[ $python == */* ]]; then python=$(realpath -m "$python"); fi

if [[ ! -s $digits ]]; then
  echo "skipped: $digits is missing (scripts/fetch-digits.sh fetches it)"
  exit 0
fi
for f in "$pollen" "$superlink_lite"; do
  [[ -x $f ]] || { echo "run.sh: $f is missing; build Pollen first (or pass --build-dir)" >&2; exit 1; }
done

pids=()
stop() {  # stops the given processes (SIGTERM, then SIGKILL after 10 s)
  local pid
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "$@"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
cleanup() { if [[ ${#pids[@]} -gt 0 ]]; then stop "${pids[@]}"; fi; }
trap cleanup EXIT
trap 'exit 130' INT TERM
export PYTHONDONTWRITEBYTECODE=1

rm -rf "$work"
mkdir -p "$work"
cd "$work"

echo "==== data and model ($work)"
# Three shards: clients 0 and 1 are the devices; shard 2 stands in for the
# data the backbone was pretrained on, which the devices never see.
"$python" "$root/scripts/prepare_digits.py" --src "$digits" --out data --clients 3 --seed 0
"$python" "$here/export_model.py" --out model --pretrain data/client-2.csv

port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
federation() {  # $1: run name; the rest: extra pollen flags
  local name=$1 server i
  shift
  "$superlink_lite" --insecure --address "127.0.0.1:$port" --rounds "$rounds" --min-nodes 2 \
    --wait-timeout 60 --initial-arrays model/model.npz \
    --train-config "$train_config" --poll-ms 200 \
    --metrics-out "$name-metrics.jsonl" >"$name-server.log" 2>&1 &
  server=$!
  pids=("$server")
  for i in 0 1; do
    "$pollen" --superlink "127.0.0.1:$port" --insecure --model model/model.pt \
      --train-data "data/client-$i.csv" --eval-data data/test.csv --state-dir "$name-state-$i" \
      --threads 1 --seed "$i" --poll-interval 0.2 "$@" >"$name-client-$i.log" 2>&1 &
    pids+=($!)
  done
  if ! wait "$server"; then
    echo "run.sh: the $name run's server failed:" >&2
    tail -n 20 "$name-server.log" "$name-client-0.log" "$name-client-1.log" >&2
    echo "fine-tune-head: FAIL ($name run)"
    exit 1
  fi
  stop "${pids[@]:1}"  # the clients; they would wait for another run
  pids=()
  grep -E '^round|evaluate:' "$name-server.log" || true
}

echo "==== head only: 2 x pollen --trainable head., $rounds rounds"
federation head --trainable head.
echo "==== everything: 2 x pollen, $rounds rounds"
federation full

echo "==== check"
"$python" - "$rounds" "$threshold" "$train_config" <<'EOF'
import json
import re
import sys
import zipfile

rounds, threshold = int(sys.argv[1]), float(sys.argv[2])
config = dict(item.split("=", 1) for item in sys.argv[3].split())
epochs = 2 * rounds * int(float(config.get("local-epochs", 1)))  # both clients
info = json.load(open("model/model.json"))
failures = []
BUFFERS = ("running_mean", "running_var", "num_batches_tracked")


def members(path):
    with zipfile.ZipFile(path) as z:
        return {name[:-len(".npy")]: z.read(name) for name in z.namelist()}


def compare(run, client):
    """(backbone arrays byte-identical, head arrays changed) in a client's state dir."""
    sent, got = (members(f"{run}-state-{client}/{n}.npz") for n in ("local", "global"))
    assert list(sent) == list(got) == info["state_dict_keys"], f"{run}-state-{client}: keys"
    backbone = [k for k in got if k.startswith("backbone.")]
    head = [k for k in got if k.startswith("head.")]
    return ([k for k in backbone if sent[k] == got[k]], [k for k in head if sent[k] != got[k]],
            backbone, head)


for client in (0, 1):
    same, changed, backbone, head = compare("head", client)
    print(f"head-only client {client}: {len(same)}/{len(backbone)} backbone arrays of local.npz "
          f"byte-identical to global.npz, {len(changed)}/{len(head)} head arrays changed")
    if len(same) != len(backbone):
        failures.append(f"client {client} changed backbone arrays "
                        f"{sorted(set(backbone) - set(same))}")
    if len(changed) != len(head):
        failures.append(f"client {client} left head arrays {sorted(set(head) - set(changed))}")
    same, _, backbone, _ = compare("full", client)
    weights = [k for k in backbone if not k.endswith(BUFFERS)]
    changed = [k for k in weights if k not in same]
    print(f"full-training client {client}: {len(changed)}/{len(weights)} backbone parameter "
          "arrays changed (its BatchNorm statistics stay as pretrained)")
    if len(changed) != len(weights):
        failures.append(f"the full run's client {client} left backbone parameters unchanged")

buffers = [k for k in info["state_dict_keys"] if k.startswith("backbone.") and k.endswith(BUFFERS)]
print(f"trained: {info['head_parameters']:,} parameters (head.*); frozen: "
      f"{info['backbone_parameters']:,} parameters (backbone.*) and {len(buffers)} BatchNorm "
      "buffers")


def speed(run):
    """Mean samples/s and seconds per epoch over both clients' epoch lines."""
    rates, seconds = [], []
    for client in (0, 1):
        log = open(f"{run}-client-{client}.log").read()
        samples = int(re.search(r"Train data .*: (\d+) samples", log).group(1))
        for rate in re.findall(r"epoch \d+/\d+: loss [^,]+, .*?(\d+) samples/s", log):
            rates.append(float(rate))
            seconds.append(samples / float(rate))
    if len(rates) != epochs:
        failures.append(f"{run}: {len(rates)} epoch lines in the client logs, not {epochs}")
    return sum(rates) / max(len(rates), 1), sum(seconds) / max(len(seconds), 1)


def accuracy(run):
    lines = open(f"{run}-metrics.jsonl").read().splitlines()
    return json.loads(lines[-1])["evaluate"]["metrics"]["eval_acc"]


(head_rate, head_s), (full_rate, full_s) = speed("head"), speed("full")
print(f"head only: {head_rate:.0f} samples/s, full: {full_rate:.0f} samples/s "
      f"({head_s:.2f} s vs {full_s:.2f} s per epoch, {head_rate / full_rate:.1f}x)")
head_acc, full_acc = accuracy("head"), accuracy("full")
print(f"held-out accuracy after {rounds} rounds: head only {head_acc:.4f}, full {full_acc:.4f}")
if head_acc < threshold:
    failures.append(f"head-only accuracy {head_acc:.4f} is below {threshold}")

if failures:
    print("fine-tune-head: FAIL: " + "; ".join(failures))
    sys.exit(1)
print(f"fine-tune-head: PASS (backbone byte-identical, head trained, "
      f"{head_rate / full_rate:.1f}x the samples/s of full training)")
EOF
