"""Writes the training-data files tests/models/data_test.cc reads.

Run by CMake at build time with the Python that has torch:

    export_data.py OUT_DIR

Valid files (torch.save dicts, CSVs, a directory of shards) come with
data.expected.json: every sample's x and y as float32 values, flattened,
so the test compares what Pollen reads element by element. The invalid
files each break one rule and must be rejected with a message naming them.
"""

import json
import os
import sys

import torch


def flat(t):
    return [float(v) for v in t.to(torch.float32).reshape(-1).tolist()]


def expect(x, y, classes):
    return {
        "size": x.shape[0],
        "x_shape": list(x.shape[1:]),
        "y_shape": list(y.shape[1:]),
        "classes": classes,
        "x": flat(x),
        "y": flat(y),
    }


def write_csv(path, lines):
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    out = sys.argv[1]
    os.makedirs(os.path.join(out, "data_shards"), exist_ok=True)
    os.makedirs(os.path.join(out, "data_shards_mismatch"), exist_ok=True)
    g = torch.Generator().manual_seed(7)
    expected = {}

    images = torch.randn(10, 1, 8, 8, generator=g)
    labels = torch.arange(10, dtype=torch.int64) % 3
    torch.save({"x": images, "y": labels}, os.path.join(out, "data_images.pt"))
    expected["data_images.pt"] = expect(images, labels, True)

    ints = torch.randint(-100, 100, (6, 3), generator=g, dtype=torch.int32)
    int_labels = torch.tensor([0, 1, 1, 0, 2, 2])
    torch.save({"x": ints, "y": int_labels}, os.path.join(out, "data_intx.pt"))
    expected["data_intx.pt"] = expect(ints, int_labels, True)

    features = torch.randn(7, 3, generator=g, dtype=torch.float64)
    targets = torch.randn(7, 2, generator=g)
    torch.save({"x": features, "y": targets}, os.path.join(out, "data_regression.pt"))
    expected["data_regression.pt"] = expect(features, targets, False)

    # Written second-first: the reader must sort by name, not by age.
    torch.save({"x": images[6:].clone(), "y": labels[6:].clone()},
               os.path.join(out, "data_shards", "b_second.pt"))
    torch.save({"x": images[:6].clone(), "y": labels[:6].clone()},
               os.path.join(out, "data_shards", "a_first.pt"))
    with open(os.path.join(out, "data_shards", "README.txt"), "w") as f:
        f.write("not a shard\n")
    torch.save({"x": torch.zeros(2, 3), "y": torch.zeros(2, dtype=torch.int64)},
               os.path.join(out, "data_shards_mismatch", "a.pt"))
    torch.save({"x": torch.zeros(2, 4), "y": torch.zeros(2, dtype=torch.int64)},
               os.path.join(out, "data_shards_mismatch", "b.pt"))

    rows = ["1.5,2,-3,0", "4,5.25,6,1", "7,8,9e-1,2", "0,0,0,1"]
    write_csv(os.path.join(out, "data_header.csv"), ["f0,f1,f2,label"] + rows)
    write_csv(os.path.join(out, "data_noheader.csv"), rows)
    write_csv(os.path.join(out, "data_named.csv"),
              ['"temp","yield","humidity"', "20.5,0.75,40", "21,1.5,42", "19.25,-2,38"])

    write_csv(os.path.join(out, "data_ragged.csv"), ["a,b,c", "1,2,3", "4,5", "7,8,9"])
    write_csv(os.path.join(out, "data_text.csv"), ["1,2,3", "4,5,6", "7,abc,9"])
    write_csv(os.path.join(out, "data_header_only.csv"), ["a,b,c"])
    open(os.path.join(out, "data_empty.csv"), "w").close()
    open(os.path.join(out, "data_empty.pt"), "w").close()
    with open(os.path.join(out, "data_garbage.pt"), "w") as f:
        f.write("this is not a pickle\n")
    torch.save([torch.zeros(2), torch.zeros(2)], os.path.join(out, "data_list.pt"))
    torch.save({"x": torch.zeros(2, 3), "z": torch.zeros(2)}, os.path.join(out, "data_no_y.pt"))
    # LibTorch 1.13 cannot unpickle one-entry dicts; the message must say why.
    torch.save({"x": torch.zeros(2, 3)}, os.path.join(out, "data_x_only.pt"))
    torch.save({"x": torch.zeros(2, 3), "y": [0, 1]}, os.path.join(out, "data_y_list.pt"))
    torch.save({"x": torch.zeros(5, 3), "y": torch.zeros(4, dtype=torch.int64)},
               os.path.join(out, "data_mismatch.pt"))
    torch.save({"x": torch.zeros(2, 3, dtype=torch.bool), "y": torch.zeros(2, dtype=torch.int64)},
               os.path.join(out, "data_bool.pt"))
    torch.save({"x": torch.zeros(2, 3), "y": torch.zeros(2, 2, dtype=torch.int64)},
               os.path.join(out, "data_class_matrix.pt"))
    torch.save({"x": torch.zeros(2, 3), "y": torch.tensor([0, -1])},
               os.path.join(out, "data_negative_class.pt"))
    nan_x = torch.zeros(3, 2)
    nan_x[2, 1] = float("nan")
    torch.save({"x": nan_x, "y": torch.zeros(3, dtype=torch.int64)},
               os.path.join(out, "data_nan.pt"))
    torch.save({"x": torch.zeros(2, 3), "y": torch.tensor([0, 10**12])},
               os.path.join(out, "data_huge_class.pt"))
    torch.save({"x": torch.full((2, 3), 1e39, dtype=torch.float64),
                "y": torch.zeros(2, dtype=torch.int64)}, os.path.join(out, "data_float64_huge.pt"))

    with open(os.path.join(out, "data.expected.json"), "w") as f:
        json.dump(expected, f, indent=1)


if __name__ == "__main__":
    main()
