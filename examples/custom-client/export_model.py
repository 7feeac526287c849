#!/usr/bin/python3
"""Writes the model sensor-node trains, and the weights a server starts from.

    export_model.py [--out DIR] [--seed N]

  DIR/sensor_mlp.pt   the MLP, torch.jit.script()ed: 8 sensor features -> 3
                      classes (normal, worn, faulty). What the device loads.
  DIR/sensor_mlp.npz  its state_dict as np.savez writes it, one member per
                      entry in state_dict order, so that the server (Flower's
                      ServerApp or pollen-superlink-lite --initial-arrays)
                      starts from the same weights as the devices.

Needs torch and numpy.
"""

import argparse
import os

import numpy as np
import torch
from torch import nn

NUM_FEATURES = 8  # sensor.h: kNumFeatures
NUM_CLASSES = 3  # sensor.h: kNumClasses


class SensorMLP(nn.Module):
    def __init__(self, hidden: int = 32):
        super().__init__()
        self.fc1 = nn.Linear(NUM_FEATURES, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.out(x)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=".", help="directory to write to (default: .)")
    parser.add_argument("--seed", type=int, default=0, help="torch.manual_seed for the weights")
    args = parser.parse_args()

    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(args.seed)
    scripted = torch.jit.script(SensorMLP())
    scripted.save(os.path.join(args.out, "sensor_mlp.pt"))
    state = scripted.state_dict()
    # Keyword order is state_dict order; np.load and pollen-superlink-lite keep it.
    np.savez(os.path.join(args.out, "sensor_mlp.npz"),
             **{key: t.detach().cpu().numpy() for key, t in state.items()})
    print(f"wrote {args.out}/sensor_mlp.pt and sensor_mlp.npz: "
          f"{sum(t.numel() for t in state.values())} parameters in {len(state)} arrays")


if __name__ == "__main__":
    main()
