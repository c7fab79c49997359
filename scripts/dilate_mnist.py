#!/usr/bin/env python3
"""Writes a denser MNIST: every digit dilated by a 3x3 maximum filter, N times.

Reads the four IDX files (raw or .gz) from SRC and writes them, dilated, gzipped, under the
same names to DST (labels copied unchanged). Two passes raise the mean pixel of the training
images from about 33 to about 98, input the Diehl & Cook network never saw in the paper
(RESULTS.md, dense input). Needs numpy only.

    python3 scripts/dilate_mnist.py PATH/TO/mnist PATH/TO/mnist-dilated2 --times 2
"""
import argparse
import gzip
import os
import sys

import numpy as np

NAMES = ["train-images-idx3-ubyte", "t10k-images-idx3-ubyte"]
LABELS = ["train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte"]


def read(src, name):
    for path, opener in ((os.path.join(src, name), open), (os.path.join(src, name + ".gz"), gzip.open)):
        if os.path.exists(path):
            with opener(path, "rb") as f:
                return f.read()
    sys.exit(f"{src}: neither {name} nor {name}.gz exists; pass the directory with the four MNIST IDX files")


def dilate(images, times):
    """3x3 maximum filter, `times` times, on a (n, 28, 28) uint8 array (zeros outside)."""
    for _ in range(times):
        p = np.pad(images, ((0, 0), (1, 1), (1, 1)))
        out = images.copy()
        for dy in range(3):
            for dx in range(3):
                np.maximum(out, p[:, dy:dy + 28, dx:dx + 28], out=out)
        images = out
    return images


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", help="directory with the four MNIST IDX files (raw or .gz)")
    ap.add_argument("dst", help="directory to write the dilated set to (created)")
    ap.add_argument("--times", type=int, default=2, help="dilation passes (default 2)")
    a = ap.parse_args()
    if a.times < 0:
        sys.exit(f"--times {a.times}: pass 0 or more passes")
    os.makedirs(a.dst, exist_ok=True)
    for name in NAMES:
        raw = read(a.src, name)
        magic, n, rows, cols = np.frombuffer(raw[:16], dtype=">u4")
        if magic != 2051 or (rows, cols) != (28, 28):
            sys.exit(f"{name}: magic {magic}, {rows}x{cols}; expected an IDX image file (2051) of 28x28 images")
        images = np.frombuffer(raw[16:], dtype=np.uint8).reshape(n, 28, 28)
        out = dilate(images, a.times)
        with gzip.open(os.path.join(a.dst, name + ".gz"), "wb") as f:
            f.write(raw[:16] + out.tobytes())
        print(f"{name}: {n} images, mean pixel {images.mean():.1f} -> {out.mean():.1f}")
    for name in LABELS:
        with gzip.open(os.path.join(a.dst, name + ".gz"), "wb") as f:
            f.write(read(a.src, name))


if __name__ == "__main__":
    main()
