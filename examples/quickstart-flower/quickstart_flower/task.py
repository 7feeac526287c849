"""The model, data and training loop shared by the ServerApp and the Python ClientApp.

Needs PyTorch and NumPy only (no flwr), so that it can be checked where
Flower is not installed.

Pollen devices train the TorchScript file `cnn8.pt` from Pollen's model zoo
(models/zoo/export_zoo.py). `DigitsCNN` below is the same network written in
PyTorch, for Python SuperNodes: its state_dict has the same keys, shapes and
dtypes, so FedAvg averages the replies of both kinds of node together.
"""

from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from torch import nn

# The keys of the ServerApp's train config that Pollen understands (its
# `--lr`, `--local-epochs`, `--batch-size`, `--momentum` defaults are
# overridden by them each round) and that `train()` below reads too.
TRAIN_CONFIG_KEYS = ("lr", "local-epochs", "batch-size", "momentum")

# The metric keys Pollen's replies carry by default (those of Flower's
# PyTorch quickstart). Stock strategies refuse to aggregate replies whose
# MetricRecords have different keys.
TRAIN_METRIC_KEYS = ("train_loss", "num-examples")
EVAL_METRIC_KEYS = ("eval_loss", "eval_acc", "num-examples")


class DigitsCNN(nn.Module):
    """Pollen's zoo model `cnn8` for 8x8 digits given as 64 pixel values, 0 to 16.

    Two 3x3 convolutions (16 and 32 channels, no bias) with BatchNorm, a 2x2
    max-pool, then 512 -> 64 -> 10. The pixels are scaled by 1/16 inside, so
    CSV rows go in as they are.
    """

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(32)
        self.fc1 = nn.Linear(32 * 4 * 4, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(x.shape[0], 1, 8, 8) / 16.0
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.relu(self.bn2(self.conv2(x)))
        x = torch.flatten(nn.functional.max_pool2d(x, 2), 1)
        return self.fc2(torch.relu(self.fc1(x)))


def load_initial_arrays(path):
    """The state_dict of a TorchScript file (.pt) or an np.savez file (.npz), as NumPy.

    Keys in state_dict order, each array in the tensor's own dtype: what
    `ArrayRecord(torch.jit.load(path).state_dict())` holds.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"initial model {path.resolve()} not found: copy cnn8.pt (or cnn8.npz) from "
            "Pollen's build (build/models/zoo/) there, or point initial-model at it"
        )
    if path.suffix == ".npz":
        with np.load(path) as npz:
            return OrderedDict((key, npz[key]) for key in npz.files)
    module = torch.jit.load(str(path), map_location="cpu")
    return OrderedDict(
        (key, tensor.detach().cpu().numpy()) for key, tensor in module.state_dict().items()
    )


def save_final_model(arrays, initial_model, prefix):
    """Writes PREFIX.npz and, when `initial_model` is TorchScript, PREFIX.pt with these weights.

    `arrays` maps state_dict keys to NumPy arrays. FedAvg turns integer
    buffers (BatchNorm's num_batches_tracked) into float64 averages; they go
    back to the initial model's dtypes here, rounded to nearest as Pollen
    does. Returns the paths written.
    """
    initial = load_initial_arrays(initial_model)
    if list(arrays) != list(initial):
        raise ValueError("the final arrays have other keys than the initial model")
    final = OrderedDict()
    for key, reference in initial.items():
        value = np.asarray(arrays[key])
        if reference.dtype.kind in "biu" and value.dtype.kind == "f":
            value = np.rint(value)
        final[key] = np.asarray(value, dtype=reference.dtype)
    written = [f"{prefix}.npz"]
    np.savez(written[0], **final)
    if Path(initial_model).suffix != ".npz":
        module = torch.jit.load(str(initial_model), map_location="cpu")
        module.load_state_dict(OrderedDict((k, torch.from_numpy(v)) for k, v in final.items()))
        module.save(f"{prefix}.pt")
        written.append(f"{prefix}.pt")
    return written


def train_config(run_config):
    """The train config the ServerApp sends: the TRAIN_CONFIG_KEYS of the run config."""
    return {key: run_config[key] for key in TRAIN_CONFIG_KEYS if key in run_config}


def load_digits_csv(path, partition_id=None, num_partitions=None):
    """Features [N, 64] (float32) and labels [N] (int64) of a digits CSV file.

    The label is the last column; a header line is skipped, as Pollen's CSV
    reader does. With `partition_id` and `num_partitions`, the contiguous
    partition Pollen's `--node-config "partition-id=I num-partitions=N"` takes.
    """
    with open(path, encoding="utf-8") as f:
        first = f.readline()
    has_header = any(c.isalpha() for c in first)
    table = np.loadtxt(path, delimiter=",", skiprows=1 if has_header else 0, ndmin=2)
    if num_partitions is not None:
        n, k, i = len(table), int(num_partitions), int(partition_id)
        base, extra = divmod(n, k)
        begin = base * i + min(i, extra)
        table = table[begin : begin + base + (1 if i < extra else 0)]
    x = torch.from_numpy(table[:, :-1].astype(np.float32))
    y = torch.from_numpy(table[:, -1].astype(np.int64))
    return x, y


def train(model, x, y, config, device="cpu", seed=0):
    """Trains `model` in place with SGD, as Pollen does for the same config.

    Returns Pollen's train metrics: the mean loss over the last epoch
    and the number of samples.
    """
    lr = float(config.get("lr", 0.01))
    epochs = int(config.get("local-epochs", 1))
    batch_size = int(config.get("batch-size", 32))
    momentum = float(config.get("momentum", 0.0))
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    generator = torch.Generator().manual_seed(seed)
    model.to(device).train()
    loss_sum = 0.0
    for _ in range(epochs):
        loss_sum = 0.0
        order = torch.randperm(len(x), generator=generator)
        for begin in range(0, len(x), batch_size):
            batch = order[begin : begin + batch_size]
            xb, yb = x[batch].to(device), y[batch].to(device)
            optimizer.zero_grad()
            output = model(xb)
            loss = nn.functional.cross_entropy(output, yb)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(batch)
    return {
        "train_loss": loss_sum / len(x),
        "num-examples": len(x),
    }


@torch.no_grad()
def evaluate(model, x, y, device="cpu", batch_size=64):
    """Pollen's evaluate metrics for `model` on (x, y): mean loss, accuracy, samples."""
    model.to(device).eval()
    loss_sum, correct = 0.0, 0
    for begin in range(0, len(x), batch_size):
        xb, yb = x[begin : begin + batch_size].to(device), y[begin : begin + batch_size].to(device)
        output = model(xb)
        loss_sum += nn.functional.cross_entropy(output, yb, reduction="sum").item()
        correct += (output.argmax(1) == yb).sum().item()
    return {
        "eval_loss": loss_sum / len(x),
        "eval_acc": correct / len(x),
        "num-examples": len(x),
    }
