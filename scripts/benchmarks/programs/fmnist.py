"""Fashion-MNIST as the benchmark's programs read it: the four original IDX files (Debian's dataset-fashion-mnist
puts them in /usr/share/datasets/fashion-mnist, FMNIST_DIR overrides), else torchvision's download into ./data.
Returns uint8 images [N, 28, 28] and int64 labels, the first `train` and `test` of each split: each program scales
and batches them itself, as its author would. PROGRAMS_FRACTION (the benchmark's quick mode, its test) takes that
share of each."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import torch

DEBIAN = Path("/usr/share/datasets/fashion-mnist")


def _idx(path: Path) -> np.ndarray:
    data = gzip.decompress(path.read_bytes())
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(train: int = 4000, test: int = 1000):
    share = float(os.environ.get("PROGRAMS_FRACTION", 1))
    train, test = max(int(train * share), 64), max(int(test * share), 64)
    folder = Path(os.environ.get("FMNIST_DIR", DEBIAN))
    if (folder / "train-images-idx3-ubyte.gz").is_file():
        split = lambda name, n: (torch.from_numpy(_idx(folder / f"{name}-images-idx3-ubyte.gz")[:n].copy()),  # noqa
                                 torch.from_numpy(_idx(folder / f"{name}-labels-idx1-ubyte.gz")[:n].astype(np.int64)))
        return split("train", train), split("t10k", test)
    from torchvision.datasets import FashionMNIST

    sets = [FashionMNIST("data", train=t, download=True) for t in (True, False)]
    return tuple((s.data[:n].clone(), s.targets[:n].clone()) for s, n in zip(sets, (train, test)))
