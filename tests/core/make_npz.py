"""The .npz files npz_test.cc reads, written by numpy itself.

  make_npz.py write DIR   writes DIR/savez.npz (np.savez), DIR/savez_compressed.npz
                          (np.savez_compressed), DIR/model.npz (two float32 arrays),
                          DIR/bad_npy.npz (a member "x.npy" that is not one) and
                          DIR/npz.expected.json: per array, the exact .npy bytes numpy
                          writes for it, as hex.
  make_npz.py check FILE  loads FILE with np.load and exits 0 only if it holds exactly
                          the arrays `write` puts in savez.npz, in the same order.
"""

import io
import json
import os
import sys
import zipfile

import numpy as np


def arrays():
    rng = np.random.default_rng(7)
    return {
        "fc.weight": rng.standard_normal((3, 2)).astype(np.float32),
        "fc.bias": np.array([0.5, -1.0, 2.0], dtype=np.float32),
        "f64": np.linspace(-1.0, 1.0, 7),
        "i64": np.array([[-(2**62), 0, 7], [1, 2, 3]], dtype=np.int64),
        "u8": np.arange(250, 256, dtype=np.uint8),
        "flags": np.array([True, False, True]),
        "half": np.array([1.0, -0.5, 65504.0], dtype=np.float16),
        "scalar": np.array(3.25),
        "empty": np.zeros((0, 4), dtype=np.float32),
        "ramp": np.arange(5000, dtype=np.float32) % 97,  # deflate has work to do
        "größe": np.array([1, 2], dtype=np.int32),  # a UTF-8 member name
    }


def npy_bytes(value):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, value)
    return buffer.getvalue()


def write(directory):
    os.makedirs(directory, exist_ok=True)
    data = arrays()
    np.savez(os.path.join(directory, "savez.npz"), **data)
    np.savez_compressed(os.path.join(directory, "savez_compressed.npz"), **data)
    np.savez(os.path.join(directory, "model.npz"),
             **{"fc.weight": data["fc.weight"], "fc.bias": data["fc.bias"]})
    # A member that is not a .npy file.
    with zipfile.ZipFile(os.path.join(directory, "bad_npy.npz"), "w") as archive:
        archive.writestr("x.npy", b"\x93NUMPY but not really")
    expected = [{"key": k, "npy_hex": npy_bytes(v).hex()} for k, v in data.items()]
    with open(os.path.join(directory, "npz.expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f, ensure_ascii=False)


def check(path):
    expected = arrays()
    with np.load(path) as loaded:
        if list(loaded.keys()) != list(expected.keys()):
            sys.exit(f"{path}: keys {list(loaded.keys())}, expected {list(expected.keys())}")
        for key, value in expected.items():
            got = loaded[key]
            if got.dtype != value.dtype or got.shape != value.shape or not np.array_equal(got, value):
                sys.exit(f"{path}: array {key!r} differs: {got!r} vs {value!r}")
    print(f"{path}: numpy reads all {len(expected)} arrays")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("write", "check"):
        sys.exit(__doc__)
    (write if sys.argv[1] == "write" else check)(sys.argv[2])
