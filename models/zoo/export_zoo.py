#!/usr/bin/env python3
"""Writes the example models of Pollen's zoo and the weights a server starts from.

    export_zoo.py --out DIR [--seed N] [--only NAME]

For each model NAME it writes into DIR:

  NAME.pt    the module, torch.jit.script()ed and saved: what a device trains.
  NAME.npz   its state_dict() as np.savez writes it (uncompressed), one member
             per entry in state_dict order, named by the state_dict key, each
             holding tensor.detach().cpu().numpy() in the tensor's own dtype
             (BatchNorm's num_batches_tracked stays int64). A Flower ServerApp
             builds its initial ArrayRecord from it, so the server and the
             devices start from the same weights.
  NAME.json  {"name", "input_shape" (one sample), "num_classes", "parameters"
             and "trainable" (elements of all parameters and of those with
             requires_grad), "state_dict_keys"}.

The weights depend on the seed alone: each model is built right after
torch.manual_seed(seed), so --only gives the same weights as a full run, and
the .npz and .json files are byte-identical from run to run. The .pt files
are too when the same command runs with PYTHONHASHSEED fixed (TorchScript
writes a module's constants in set order) and exports the same models, as
TorchScript numbers the types it has compiled in a process.

Needs torch and numpy, nothing else (no torchvision).
"""

import argparse
import json
import os
import sys

import numpy as np
import torch
from torch import nn

# Pixels of scikit-learn's digits (and of the UCI optdigits CSV rows) are
# counts from 0 to 16; the models scale them to [0, 1] themselves so that a
# device can feed the rows as they are read.
DIGITS_SCALE = 1.0 / 16.0


class DigitsMLP(nn.Module):
    """8x8 digits, flattened: 64 -> 64 -> 10."""

    __constants__ = ["scale"]

    def __init__(self):
        super().__init__()
        self.scale = DIGITS_SCALE
        self.fc1 = nn.Linear(64, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # flatten(1) takes both CSV rows [B, 64] and images [B, 1, 8, 8].
        x = torch.flatten(x, 1) * self.scale
        return self.fc2(torch.relu(self.fc1(x)))


class DigitsCNN(nn.Module):
    """8x8 digits: two 3x3 conv + BatchNorm layers, a 2x2 max-pool, two linear layers.

    No dropout: with BatchNorm it adds nothing on a data set this small, and
    without it a forward pass in train mode depends on the weights alone.
    """

    __constants__ = ["scale"]

    def __init__(self):
        super().__init__()
        self.scale = DIGITS_SCALE
        # No conv biases: BatchNorm subtracts the mean right after, so they
        # would never get a gradient, yet travel to the server every round.
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(32)
        self.fc1 = nn.Linear(32 * 4 * 4, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The batch size is kept explicit so that a sample of any size but 64
        # values fails here rather than becoming several images.
        x = x.reshape(x.shape[0], 1, 8, 8) * self.scale
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.relu(self.bn2(self.conv2(x)))
        x = torch.flatten(nn.functional.max_pool2d(x, 2), 1)
        return self.fc2(torch.relu(self.fc1(x)))


class BasicBlock(nn.Module):
    """ResNet's two 3x3 convolutions with a shortcut, named as in torchvision."""

    def __init__(self, in_planes: int, planes: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or in_planes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x
        if self.downsample is not None:
            shortcut = self.downsample(x)
        return torch.relu(out + shortcut)


class ResNet18S(nn.Module):
    """ResNet-18 for 3x32x32 images (CIFAR stem: one 3x3 conv, no max-pool), 10 classes.

    11.2 million parameters: sized like the networks people fine-tune, for
    benchmarks of training speed and of moving weights, not for accuracy.
    """

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.layer1 = self._stage(64, 64, 1)
        self.layer2 = self._stage(64, 128, 2)
        self.layer3 = self._stage(128, 256, 2)
        self.layer4 = self._stage(256, 512, 2)
        self.fc = nn.Linear(512, num_classes)

    @staticmethod
    def _stage(in_planes, planes, stride):
        return nn.Sequential(BasicBlock(in_planes, planes, stride), BasicBlock(planes, planes, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(x)


# name -> (constructor, shape of one input sample, number of classes)
ZOO = {
    "mlp": (DigitsMLP, [64], 10),
    "cnn8": (DigitsCNN, [64], 10),
    "resnet18s": (ResNet18S, [3, 32, 32], 10),
}


def export(name, out_dir, seed):
    make, input_shape, num_classes = ZOO[name]
    torch.manual_seed(seed)
    model = make()
    scripted = torch.jit.script(model)
    state = scripted.state_dict()
    # Scripting keeps non-persistent buffers, eager PyTorch drops them: both
    # must agree, or a ServerApp using the eager model would see other keys.
    if list(state.keys()) != list(model.state_dict().keys()):
        sys.exit(f"export_zoo.py: {name}: scripted and eager state_dict keys differ")

    scripted.save(os.path.join(out_dir, name + ".pt"))
    arrays = {key: tensor.detach().cpu().numpy() for key, tensor in state.items()}
    # np.savez keeps keyword order, and so the state_dict order. Positional
    # savez(file, **arrays) cannot clash with a key, none being "file".
    np.savez(os.path.join(out_dir, name + ".npz"), **arrays)

    parameters = list(model.parameters())
    info = {
        "name": name,
        "input_shape": input_shape,
        "num_classes": num_classes,
        "parameters": sum(p.numel() for p in parameters),
        "trainable": sum(p.numel() for p in parameters if p.requires_grad),
        "state_dict_keys": list(state.keys()),
    }
    with open(os.path.join(out_dir, name + ".json"), "w", encoding="utf-8") as f:
        json.dump(info, f, indent=2)
        f.write("\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="directory to write NAME.pt/.npz/.json to")
    parser.add_argument("--seed", type=int, default=0, help="torch.manual_seed before each model")
    parser.add_argument("--only", choices=sorted(ZOO), help="export this model only")
    args = parser.parse_args()

    os.makedirs(args.out, exist_ok=True)
    for name in [args.only] if args.only else ZOO:
        export(name, args.out, args.seed)


if __name__ == "__main__":
    main()
