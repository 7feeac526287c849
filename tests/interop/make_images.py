"""Writes a small image data set for the interop tests: run at build time by
CMake with the Python that has torch (POLLEN_PYTHON), like the model zoo.

    make_images.py OUT.pt [N]

torch.save({"x": X, "y": Y}): N random 3x32x32 float32 images (the input
of the zoo's resnet18s) and int64 labels 0..9, from a fixed seed.
"""

import sys

import torch


def main():
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 3, 32, 32, generator=g)
    y = torch.arange(n, dtype=torch.int64) % 10
    torch.save({"x": x, "y": y}, out)


if __name__ == "__main__":
    main()
