#!/usr/bin/python3
"""Writes Subset/*.gz: the first 1,000 training and the first 500 test images of Fashion-MNIST (gzip IDX, the same
format as the originals), cut from Debian's dataset-fashion-mnist. Run from this folder:  /usr/bin/python3 make-subset.py
Deterministic: fixed gzip mtime, so the output is byte-identical on every run."""
import gzip, struct, os

SRC = "/usr/share/datasets/fashion-mnist"
CUTS = [("train", 1000), ("t10k", 500)]

def cut(name, count, is_images):
    with gzip.open(os.path.join(SRC, name), "rb") as f:
        data = f.read()
    magic, n = struct.unpack(">II", data[:8])
    if is_images:
        rows, cols = struct.unpack(">II", data[8:16])
        header = struct.pack(">IIII", magic, count, rows, cols)
        body = data[16:16 + count * rows * cols]
    else:
        header = struct.pack(">II", magic, count)
        body = data[8:8 + count]
    assert count <= n
    os.makedirs("Subset", exist_ok=True)
    with open(os.path.join("Subset", name), "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as g:
            g.write(header + body)

for prefix, count in CUTS:
    cut(f"{prefix}-images-idx3-ubyte.gz", count, True)
    cut(f"{prefix}-labels-idx1-ubyte.gz", count, False)
