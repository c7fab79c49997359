#!/usr/bin/env python3
"""Build the embedded MNIST subset: the first 10,000 training and the first 2,000 test
examples of the public MNIST IDX files, unchanged except for the count in the header.

Usage: python3 make_subset.py SOURCE_DIR [OUT_DIR]

SOURCE_DIR holds the four public MNIST files (train-images-idx3-ubyte.gz, ...,
gzip or raw), e.g. as downloaded by `snn fetch-mnist --to SOURCE_DIR`. OUT_DIR defaults to this script's folder. Output is gzip'd IDX with
mtime=0, so reruns give identical bytes. Prints the class counts of each subset.
Standard library only.
"""
import gzip
import os
import struct
import sys

SUBSETS = [("train", 10000), ("t10k", 2000)]


def read(path):
    for p in (path + ".gz", path):
        if os.path.exists(p):
            with open(p, "rb") as f:
                data = f.read()
            return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    sys.exit(f"missing {path}(.gz)")


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    src = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) == 3 else os.path.dirname(os.path.abspath(__file__))
    for prefix, n in SUBSETS:
        img = read(os.path.join(src, f"{prefix}-images-idx3-ubyte"))
        lab = read(os.path.join(src, f"{prefix}-labels-idx1-ubyte"))
        magic, count, rows, cols = struct.unpack(">IIII", img[:16])
        assert magic == 2051 and count >= n, (magic, count)
        lmagic, lcount = struct.unpack(">II", lab[:8])
        assert lmagic == 2049 and lcount == count, (lmagic, lcount)
        img_out = struct.pack(">IIII", 2051, n, rows, cols) + img[16 : 16 + n * rows * cols]
        labels = lab[8 : 8 + n]
        lab_out = struct.pack(">II", 2049, n) + labels
        for name, data in (
            (f"{prefix}-images-idx3-ubyte.gz", img_out),
            (f"{prefix}-labels-idx1-ubyte.gz", lab_out),
        ):
            with open(os.path.join(out, name), "wb") as f:
                f.write(gzip.compress(data, mtime=0))
        counts = [labels.count(d) for d in range(10)]
        print(f"{prefix}: {n} examples of {rows}x{cols}; class counts 0-9: {' '.join(map(str, counts))}")


if __name__ == "__main__":
    main()
