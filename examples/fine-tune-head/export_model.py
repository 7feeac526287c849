#!/usr/bin/env python3
"""Exports a pretrained convolutional backbone with a new head, for head-only federated fine-tuning.

    export_model.py --out DIR [--pretrain CSV] [--pretrain-epochs 3]
                    [--freeze-backbone] [--seed 0]

The model takes 8x8 digits as 64 pixel values (0 to 16, a CSV row of
scripts/prepare_digits.py, like the zoo's cnn8) and has two parts, named so
that `pollen --trainable head.` selects the head:

  backbone  4 conv blocks (3x3 conv, BatchNorm, ReLU; 64/128/256/256
            channels, two 2x2 max-pools), global average pool: 256 features,
            about 0.96 M parameters
  head      Linear(256, 64), ReLU, Linear(64, 10): about 17 k parameters

With --pretrain, the backbone is first trained (with a temporary head, Adam,
--pretrain-epochs epochs) on the CSV's samples: the stand-in for a vendor's
pretrained network. The head the devices get is then freshly initialised.
Without --pretrain the backbone keeps its seeded random initialisation: the
files are the same from run to run, but its features are random ones.

The backbone's BatchNorm layers normalise with their stored statistics
(pretraining sets them), in train() mode too: Pollen calls train() on the
whole module, and batch statistics would otherwise move the backbone's
running_mean/running_var even where its weights are frozen. Their weight
and bias stay parameters, trained when the backbone is.

Writes DIR/model.pt (torch.jit.script), DIR/model.npz (state_dict as
np.savez writes it, in state_dict order: the server's --initial-arrays) and
DIR/model.json. With --freeze-backbone the backbone's parameters are saved
with requires_grad=False, so that Pollen trains the head without --trainable.

Needs torch and numpy only.
"""

import argparse
import json
import os

import numpy as np
import torch
from torch import nn


class StoredStatsBatchNorm2d(nn.Module):
    """BatchNorm over channels that normalises with its running statistics unless `update_stats`.

    Its state_dict is nn.BatchNorm2d's (weight, bias, running_mean,
    running_var, num_batches_tracked, in that order). Pretraining sets
    `update_stats` to learn the statistics from batches; the exported model
    has it off, in train() mode too.
    """

    def __init__(self, channels: int, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))
        self.eps = eps
        self.momentum = momentum
        self.update_stats = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.update_stats and self.training:
            self.num_batches_tracked.add_(1)
            return nn.functional.batch_norm(x, self.running_mean, self.running_var, self.weight,
                                            self.bias, True, self.momentum, self.eps)
        return nn.functional.batch_norm(x, self.running_mean, self.running_var, self.weight,
                                        self.bias, False, 0.0, self.eps)


class ConvBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, pool: bool):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.bn = StoredStatsBatchNorm2d(out_channels)
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn(self.conv(x)))
        if self.pool:
            x = nn.functional.max_pool2d(x, 2)
        return x


class Backbone(nn.Module):
    """8x8x1 -> 256 features."""

    def __init__(self):
        super().__init__()
        self.block1 = ConvBlock(1, 64, pool=False)
        self.block2 = ConvBlock(64, 128, pool=True)
        self.block3 = ConvBlock(128, 256, pool=False)
        self.block4 = ConvBlock(256, 256, pool=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.block4(self.block3(self.block2(self.block1(x))))
        return torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)


def make_head() -> nn.Sequential:
    return nn.Sequential(nn.Linear(256, 64), nn.ReLU(), nn.Linear(64, 10))


class HeadTunedNet(nn.Module):
    """A pretrained backbone and the head to fine-tune; logits [B, 10]."""

    def __init__(self):
        super().__init__()
        self.backbone = Backbone()
        self.head = make_head()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(x.shape[0], 1, 8, 8) / 16.0
        return self.head(self.backbone(x))


def read_csv(path):
    with open(path, encoding="utf-8") as f:
        header = any(c.isalpha() for c in f.readline())
    table = np.loadtxt(path, delimiter=",", skiprows=1 if header else 0, ndmin=2)
    return (torch.from_numpy(table[:, :-1].astype(np.float32)),
            torch.from_numpy(table[:, -1].astype(np.int64)))


def set_update_stats(model, on):
    for module in model.modules():
        if isinstance(module, StoredStatsBatchNorm2d):
            module.update_stats = on


def pretrain(model, path, epochs, seed):
    """Trains backbone + head on the CSV (Adam, batch 32); returns the last epoch's accuracy."""
    x, y = read_csv(path)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    set_update_stats(model, True)
    model.train()
    accuracy = 0.0
    for epoch in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        correct, loss_sum = 0, 0.0
        for begin in range(0, len(x), 32):
            batch = order[begin:begin + 32]
            optimizer.zero_grad()
            output = model(x[batch])
            loss = nn.functional.cross_entropy(output, y[batch])
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(batch)
            correct += (output.argmax(1) == y[batch]).sum().item()
        accuracy = correct / len(x)
        print(f"pretrain epoch {epoch + 1}/{epochs}: loss {loss_sum / len(x):.3f}, "
              f"accuracy {accuracy:.4f} on {len(x)} samples")
    set_update_stats(model, False)
    return accuracy, len(x)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="directory for model.pt/.npz/.json")
    parser.add_argument("--pretrain", metavar="CSV", help="pretrain the backbone on these samples")
    parser.add_argument("--pretrain-epochs", type=int, default=3)
    parser.add_argument("--freeze-backbone", action="store_true",
                        help="save the backbone's parameters with requires_grad=False")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    model = HeadTunedNet()
    info = {"name": "backbone+head", "input_shape": [64], "num_classes": 10}
    if args.pretrain:
        accuracy, samples = pretrain(model, args.pretrain, args.pretrain_epochs, args.seed)
        info["pretrained"] = {"data": os.path.basename(args.pretrain), "samples": samples,
                              "epochs": args.pretrain_epochs, "accuracy": round(accuracy, 4)}
        # The devices' task gets a new head; only the backbone is pretrained.
        torch.manual_seed(args.seed + 1)
        model.head = make_head()
    else:
        info["pretrained"] = None
    for p in model.backbone.parameters():
        p.requires_grad_(not args.freeze_backbone)
    model.eval()

    scripted = torch.jit.script(model)
    state = scripted.state_dict()
    if list(state) != list(model.state_dict()):
        raise SystemExit("export_model.py: scripted and eager state_dict keys differ")
    os.makedirs(args.out, exist_ok=True)
    scripted.save(os.path.join(args.out, "model.pt"))
    np.savez(os.path.join(args.out, "model.npz"),
             **{key: t.detach().cpu().numpy() for key, t in state.items()})

    def count(prefix):
        return sum(p.numel() for n, p in model.named_parameters() if n.startswith(prefix))

    info.update({
        "parameters": count(""),
        "backbone_parameters": count("backbone."),
        "head_parameters": count("head."),
        "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "state_dict_keys": list(state),
    })
    with open(os.path.join(args.out, "model.json"), "w", encoding="utf-8") as f:
        json.dump(info, f, indent=2)
        f.write("\n")
    print(f"export_model: {args.out}/model.pt: {info['parameters']:,} parameters "
          f"(backbone {info['backbone_parameters']:,}, head {info['head_parameters']:,}), "
          f"{info['trainable']:,} with requires_grad")


if __name__ == "__main__":
    main()
