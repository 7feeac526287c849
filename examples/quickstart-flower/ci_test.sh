#!/usr/bin/env bash
# What of examples/quickstart-flower can run without Flower installed: the
# README's `pollen` client commands against Pollen's embedded server
# (pollen-superlink-lite, FedAvg) standing in for flower-superlink + this
# ServerApp, with the ServerApp's initial model and train config; then the
# flwr-free half of the app (quickstart_flower/task.py) is checked against
# what the Pollen clients did.
#
#   ci_test.sh --pollen BIN --superlink-lite BIN --zoo DIR --python PYTHON
#              --digits CSV --work DIR [--rounds 2]
#
# Prints "quickstart-flower: PASS" at the end, or "skipped: REASON" when the
# digits CSV (scripts/fetch-digits.sh) is missing.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

pollen="" superlink_lite="" zoo="" python="" digits="" work="" rounds=2
while [[ $# -gt 0 ]]; do
  case $1 in
    --pollen) pollen=$2; shift 2 ;;
    --superlink-lite) superlink_lite=$2; shift 2 ;;
    --zoo) zoo=$2; shift 2 ;;
    --python) python=$2; shift 2 ;;
    --digits) digits=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    *) echo "ci_test.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
for v in pollen superlink_lite zoo python digits work; do
  [[ -n ${!v} ]] || { echo "ci_test.sh: --${v//_/-} is required" >&2; exit 2; }
done
# Absolute paths: the test runs in --work.
pollen=$(realpath -m "$pollen") superlink_lite=$(realpath -m "$superlink_lite")
zoo=$(realpath -m "$zoo") digits=$(realpath -m "$digits") work=$(realpath -m "$work")
if [[ $python == */* ]]; then python=$(realpath -m "$python"); fi
if [[ ! -s $digits ]]; then
  echo "skipped: $digits is missing (scripts/fetch-digits.sh fetches it)"
  exit 0
fi

pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
export PYTHONDONTWRITEBYTECODE=1

rm -rf "$work"
mkdir -p "$work"
cd "$work"

# README step 1: three label-skewed shards (two for the Pollen clients, one
# for the optional Python SuperNode) and a held-out test set.
"$python" "$root/scripts/prepare_digits.py" --src "$digits" --out data --clients 3 --seed 0

# The train config the ServerApp sends, from pyproject.toml's run config.
train_config=$(PYTHONPATH=$here "$python" - "$here/pyproject.toml" <<'EOF'
import sys
import tomllib
from quickstart_flower.task import train_config
with open(sys.argv[1], "rb") as f:
    run_config = tomllib.load(f)["tool"]["flwr"]["app"]["config"]
print(" ".join(f"{k}={v}" for k, v in train_config(run_config).items()))
EOF
)
port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "== pollen-superlink-lite on 127.0.0.1:$port: FedAvg, $rounds rounds, train config \"$train_config\""
"$superlink_lite" --insecure --address "127.0.0.1:$port" --rounds "$rounds" --min-nodes 2 \
  --wait-timeout 60 --initial-arrays "$zoo/cnn8.npz" --train-config "$train_config" --poll-ms 200 \
  --metrics-out metrics.jsonl --save-arrays global.npz >server.log 2>&1 &
server=$!
pids+=("$server")

# README step 3, one line per device, plus what a test needs: stop after
# train + evaluate of each round, poll often, one thread each.
clients=()
for i in 0 1; do
  "$pollen" --superlink "127.0.0.1:$port" --insecure --model "$zoo/cnn8.pt" \
    --train-data "data/client-$i.csv" --eval-data data/test.csv --state-dir "state-$i" \
    --max-replies $((2 * rounds)) --poll-interval 0.2 --threads 1 >"client-$i.log" 2>&1 &
  pids+=($!)
  clients+=($!)
done

fail() {
  echo "quickstart-flower: FAIL: $1" >&2
  for log in server.log client-0.log client-1.log; do
    echo "---- $log" >&2
    tail -n 20 "$log" >&2
  done
  exit 1
}
wait "$server" || fail "pollen-superlink-lite exited with $?"
for i in 0 1; do
  wait "${clients[$i]}" || fail "pollen client $i exited with $?"
done
cat server.log
grep -h "epoch\|evaluate:" client-0.log client-1.log

# The Python side: py_compile of the app, then task.py (what the ServerApp
# and the Python ClientApp run) against the zoo and the clients' results.
PYTHONPYCACHEPREFIX=$work/pycache "$python" -m py_compile "$here"/quickstart_flower/*.py
PYTHONPATH=$here "$python" - "$zoo" "$rounds" <<'EOF' || fail "the Python side disagrees with Pollen"
import json
import sys

import numpy as np
import torch

from quickstart_flower import task

zoo, rounds = sys.argv[1], int(sys.argv[2])
reference = np.load(f"{zoo}/cnn8.npz")

# The ServerApp's initial ArrayRecord from cnn8.pt is the server's cnn8.npz.
initial = task.load_initial_arrays(f"{zoo}/cnn8.pt")
assert list(initial) == reference.files, (list(initial), reference.files)
for key, value in initial.items():
    assert value.dtype == reference[key].dtype and np.array_equal(value, reference[key]), key

# The Python ClientApp's network has the same state_dict as Pollen's model.
model = task.DigitsCNN()
state = model.state_dict()
assert list(state) == reference.files, list(state)
for key, tensor in state.items():
    assert tuple(tensor.shape) == reference[key].shape, key
    assert tensor.numpy().dtype == reference[key].dtype, key

# Its metrics have Pollen's keys (those the embedded server aggregated, plus
# num-examples, the weight) and it learns from the federated model.
metrics = [json.loads(line) for line in open("metrics.jsonl")]
assert len(metrics) == rounds, metrics
final = np.load("global.npz")
model.load_state_dict({k: torch.from_numpy(final[k]) for k in final.files})
x, y = task.load_digits_csv("data/client-2.csv")
xt, yt = task.load_digits_csv("data/test.csv")
train_config = {"lr": 0.05, "local-epochs": 1, "batch-size": 32, "momentum": 0.9}
train_metrics = task.train(model, x, y, train_config)
eval_metrics = task.evaluate(model, xt, yt)
pollen_train = set(metrics[-1]["train"]["metrics"]) | {"num-examples"}
pollen_eval = set(metrics[-1]["evaluate"]["metrics"]) | {"num-examples"}
assert set(train_metrics) == pollen_train == set(task.TRAIN_METRIC_KEYS), train_metrics
assert set(eval_metrics) == pollen_eval == set(task.EVAL_METRIC_KEYS), eval_metrics
print(f"python client on client-2: {train_metrics}")
print(f"python client on test:     {eval_metrics}")

# The ServerApp's last step: the final arrays into cnn8-final.pt and .npz.
written = task.save_final_model({k: final[k] for k in final.files}, f"{zoo}/cnn8.pt", "cnn8-final")
saved = torch.jit.load("cnn8-final.pt").state_dict()
for key in final.files:  # float64 averages of integer buffers are rounded
    expected = final[key] if saved[key].is_floating_point() else np.rint(final[key])
    assert np.array_equal(saved[key].numpy(), expected), key
print(f"saved {', '.join(written)}")
EOF

accuracy=$("$python" -c 'import json, sys; print(json.loads(open(sys.argv[1]).readlines()[-1])["evaluate"]["metrics"]["eval_acc"])' metrics.jsonl)
echo "quickstart-flower: PASS ($rounds rounds, 2 pollen clients, global model's eval_acc $accuracy)"
