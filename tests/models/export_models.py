"""Exports the TorchScript models tests/models reads, with what Flower expects.

Run by CMake at build time with the Python that has torch and numpy:

    export_models.py OUT_DIR

For each model NAME it writes NAME.pt and, for the valid ones,
NAME.expected.json: the eager model's state_dict() in order, each entry's
name, numpy dtype, shape and the SHA-256 of the .npy bytes Flower's
ArrayRecord(model.state_dict()) carries (np.save of t.detach().cpu().numpy()).
"""

import hashlib
import io
import json
import os
import sys

import numpy as np
import torch
from torch import nn


class SmallCNN(nn.Module):
    """Conv2d + BatchNorm2d + Linear; one conv without bias (a None parameter)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1),
            nn.BatchNorm2d(4),
            nn.ReLU(),
            nn.Conv2d(4, 8, 3, bias=False),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.classifier = nn.Linear(8, 10)
        # Registered after the submodules, yet first in state_dict(): a
        # module's own parameters come before its children's.
        self.temperature = nn.Parameter(torch.tensor([1.5]))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1)) / self.temperature


class AllDtypes(nn.Module):
    """One buffer per dtype Pollen supports, plus odd layouts."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(3, 2))
        self.register_buffer("f16", torch.randn(2, 3).half())
        self.register_buffer("f64", torch.randn(3, dtype=torch.float64))
        self.register_buffer("i8", torch.tensor([-128, 0, 127], dtype=torch.int8))
        self.register_buffer("i16", torch.tensor([-32768, 1, 32767], dtype=torch.int16))
        self.register_buffer("i32", torch.tensor([[-(2**31), 2**31 - 1]], dtype=torch.int32))
        self.register_buffer("i64", torch.tensor(-(2**62), dtype=torch.int64))
        self.register_buffer("u8", torch.tensor([0, 1, 255], dtype=torch.uint8))
        self.register_buffer("flags", torch.tensor([[True, False], [False, True]]))
        # Every other element of a vector: neither C- nor Fortran-contiguous,
        # and TorchScript keeps the strides.
        self.register_buffer("strided", torch.arange(12.0)[::2])
        self.register_buffer("empty", torch.zeros(0, 4))

    def forward(self, x):
        return x @ self.weight


class HalfBrain(nn.Module):
    """A bfloat16 parameter, which .npy cannot hold."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 2)
        self.linear.weight = nn.Parameter(self.linear.weight.detach().bfloat16())

    def forward(self, x):
        return x


class FrozenMLP(nn.Module):
    """A frozen first layer (requires_grad False) under a trainable head."""

    def __init__(self):
        super().__init__()
        self.body = nn.Linear(4, 8)
        self.head = nn.Linear(8, 3)
        self.body.requires_grad_(False)

    def forward(self, x):
        return self.head(torch.relu(self.body(x)))


class NoParameters(nn.Module):
    """A buffer but nothing to train."""

    def __init__(self):
        super().__init__()
        self.register_buffer("offset", torch.ones(2))

    def forward(self, x):
        return x + self.offset


def npy_sha256(tensor):
    buffer = io.BytesIO()
    np.save(buffer, tensor.detach().cpu().numpy(), allow_pickle=False)
    return hashlib.sha256(buffer.getvalue()).hexdigest()


def describe(state_dict):
    return [
        {
            "name": name,
            "dtype": str(t.detach().cpu().numpy().dtype),
            "shape": list(t.shape),
            "npy_sha256": npy_sha256(t),
        }
        for name, t in state_dict.items()
    ]


def export(model, out_dir, name, expected=True):
    path = os.path.join(out_dir, name + ".pt")
    torch.jit.script(model).save(path)
    if not expected:
        return
    entries = describe(model.state_dict())
    # What LibTorch sees must be what the eager model has.
    if describe(torch.jit.load(path).state_dict()) != entries:
        sys.exit(f"{name}: the TorchScript state_dict differs from the eager one")
    with open(os.path.join(out_dir, name + ".expected.json"), "w") as f:
        json.dump({"model": name + ".pt", "entries": entries}, f, indent=1)


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(20240601)

    cnn = SmallCNN()
    cnn.train()
    with torch.no_grad():  # moves the BatchNorm running statistics
        cnn(torch.randn(4, 1, 8, 8))
    cnn.eval()
    export(cnn, out_dir, "cnn")
    export(AllDtypes(), out_dir, "dtypes")
    export(HalfBrain(), out_dir, "bfloat16", expected=False)
    export(NoParameters(), out_dir, "noparams", expected=False)
    export(FrozenMLP(), out_dir, "frozen", expected=False)
    export(FrozenMLP().requires_grad_(False), out_dir, "allfrozen", expected=False)
    # A valid torch.save file, but of a dict, not of a TorchScript module.
    torch.save({"weight": torch.ones(2)}, os.path.join(out_dir, "notscript.pt"))
    export_trainer_models(out_dir)


class TinyMLP(nn.Module):
    """Four features to three outputs: the model trainer_test.cc trains."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 16)
        self.fc2 = nn.Linear(16, 3)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


class OwnLossMLP(TinyMLP):
    """Exports its own loss, three times cross-entropy, so a test can tell it was used."""

    @torch.jit.export
    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return 3.0 * nn.functional.cross_entropy(output, target)


def export_trainer_models(out_dir):
    torch.manual_seed(20240602)
    export(TinyMLP(), out_dir, "mlp", expected=False)
    export(OwnLossMLP(), out_dir, "mlp_loss", expected=False)


if __name__ == "__main__":
    main()
