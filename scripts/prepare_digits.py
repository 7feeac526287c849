#!/usr/bin/env python3
"""Splits digits.csv into a held-out test set and N label-skewed client shards.

  prepare_digits.py --src digits.csv --out DIR [--clients 3] [--alpha 0.5]
                    [--test-fraction 0.2] [--seed 0]

Writes DIR/test.csv and DIR/client-<i>.csv (header pixel_0..pixel_63,label;
Pollen's CSV reader takes the last column as the label) and DIR/split.json
with each shard's label counts. The test set is stratified; the rest is split
per label with Dirichlet(alpha) proportions (smaller alpha: more skew), as
Flower Datasets' DirichletPartitioner does, redrawn until every client has at
least --min-samples samples. Standard library only, so any python3 runs it.
"""
import argparse
import csv
import json
import os
import random


def read_rows(path):
    with open(path, newline="") as f:
        rows = [[int(float(v)) for v in line] for line in csv.reader(f) if line]
    for i, row in enumerate(rows):
        if len(row) != 65 or not 0 <= row[-1] <= 9:
            raise SystemExit(f"{path}: line {i + 1} is not 64 pixels and a label 0..9")
    return rows


def by_label(rows):
    groups = {}
    for row in rows:
        groups.setdefault(row[-1], []).append(row)
    return [groups[label] for label in sorted(groups)]


def stratified_split(rows, fraction, rng):
    test, train = [], []
    for group in by_label(rows):
        rng.shuffle(group)
        n = round(len(group) * fraction)
        test += group[:n]
        train += group[n:]
    rng.shuffle(test)
    return train, test


def dirichlet(alpha, n, rng):
    draws = [rng.gammavariate(alpha, 1.0) for _ in range(n)]
    total = sum(draws) or 1.0
    return [d / total for d in draws]


def skewed_shards(rows, clients, alpha, min_samples, rng):
    for _ in range(1000):
        shards = [[] for _ in range(clients)]
        for group in by_label(rows):
            rng.shuffle(group)
            shares = dirichlet(alpha, clients, rng)
            start = 0
            for i, share in enumerate(shares):
                end = len(group) if i == clients - 1 else start + round(share * len(group))
                shards[i] += group[start:end]
                start = end
        if min(len(s) for s in shards) >= min_samples:
            for shard in shards:
                rng.shuffle(shard)
            return shards
    raise SystemExit("could not draw shards with enough samples; raise --alpha")


def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow([f"pixel_{i}" for i in range(64)] + ["label"])
        out.writerows(rows)


def label_counts(rows):
    counts = [0] * 10
    for row in rows:
        counts[row[-1]] += 1
    return counts


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--src", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--clients", type=int, default=3)
    p.add_argument("--alpha", type=float, default=0.5)
    p.add_argument("--test-fraction", type=float, default=0.2)
    p.add_argument("--min-samples", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    if a.clients < 1 or a.alpha <= 0 or not 0 < a.test_fraction < 1:
        raise SystemExit("--clients >= 1, --alpha > 0 and 0 < --test-fraction < 1")
    rng = random.Random(a.seed)
    train, test = stratified_split(read_rows(a.src), a.test_fraction, rng)
    shards = skewed_shards(train, a.clients, a.alpha, a.min_samples, rng)
    os.makedirs(a.out, exist_ok=True)
    write_csv(os.path.join(a.out, "test.csv"), test)
    split = {"seed": a.seed, "alpha": a.alpha, "test": label_counts(test), "clients": []}
    for i, shard in enumerate(shards):
        write_csv(os.path.join(a.out, f"client-{i}.csv"), shard)
        split["clients"].append(label_counts(shard))
    with open(os.path.join(a.out, "split.json"), "w") as f:
        json.dump(split, f, indent=1)
    sizes = ", ".join(str(len(s)) for s in shards)
    print(f"prepare_digits: {len(test)} test samples, {a.clients} clients with {sizes} samples")


if __name__ == "__main__":
    main()
