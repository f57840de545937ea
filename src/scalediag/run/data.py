"""Find, import and verify Fashion-MNIST; hand back the whole set as uint8 tensors on the device.

Look-up order: <data.root>/FashionMNIST/raw; Debian's dataset-fashion-mnist files (imported into data.root);
torchvision's download (imported only then: it costs 1.7 s of start-up). Each file's IDX header is checked, so that a
damaged file is named with what is wrong, then its bytes become a tensor without a copy through Python.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig

from ..files import write_bytes_atomic

log = logging.getLogger(__name__)

# SHA-256 of each uncompressed IDX file as published by Zalando Research (the .gz files themselves differ between
# mirrors and Debian, their content does not).
SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
COUNTS = {"train": 60000, "t10k": 10000}
IMAGE_MAGIC, LABEL_MAGIC = 0x803, 0x801  # uint8 data, 3 and 1 dimensions


class DataError(RuntimeError):
    """The data cannot be found or is not Fashion-MNIST; the message says which file and what is wrong."""


@dataclass(frozen=True)
class Split:
    x: torch.Tensor  # [N, 28, 28] uint8
    y: torch.Tensor  # [N] int64, 0..9


@dataclass(frozen=True)
class Data:
    train: Split
    test: Split


def scaled(x: torch.Tensor, divisor: float) -> torch.Tensor:
    return x.div(divisor)  # uint8 [B, 28, 28] -> float32, what the network sees; as x.float() / divisor, one kernel


def raw_dir(root: str | Path) -> Path:
    return Path(root).expanduser() / "FashionMNIST" / "raw"


def prepare(cfg: DictConfig) -> Path:
    """Make sure the four IDX files are in data.root and are what they claim to be; return their folder."""
    raw = raw_dir(cfg.root)
    if not _complete(raw):
        debian = Path(cfg.debian_dir)
        if all((debian / f"{name}.gz").is_file() for name in SHA256):
            _import_debian(debian, raw)
        elif cfg.download:
            _download(cfg.root)
        if not _complete(raw):
            raise DataError(
                f"Fashion-MNIST not found. Put the four IDX files in {raw}, or install Debian's package "
                f"(apt-get install dataset-fashion-mnist, files in {debian}), or allow torchvision's download "
                f"(data.download=true, needs internet)."
            )
    _check_counts(raw, cfg.verify)
    if cfg.verify:
        for name, digest in SHA256.items():
            if _sha256(raw / name) != digest:
                raise DataError(f"{raw / name}: content differs from the published Fashion-MNIST (SHA-256 mismatch)")
    return raw


def load(cfg: DictConfig, device: torch.device) -> Data:
    prepare(cfg)
    raw, splits = raw_dir(cfg.root), []
    for split, limit in (("train", cfg.train_limit), ("t10k", cfg.test_limit)):
        x = _read_idx(raw / f"{split}-images-idx3-ubyte")[:limit]
        y = _read_idx(raw / f"{split}-labels-idx1-ubyte")[:limit].long()
        if y.numel() and not (0 <= int(y.min()) and int(y.max()) <= 9):
            raise DataError(f"{raw}: labels outside 0-9 in the {'train' if split == 'train' else 'test'} set")
        splits.append(Split(x.contiguous().to(device), y.to(device)))
    return Data(*splits)


def with_label_noise(split: Split, fraction: float, seed: int) -> Split:
    """split with round(fraction x N) of its labels, chosen from seed, replaced by a class drawn uniformly (the right
    one by chance 1 time in 10): the same noisy labels in every epoch. Its own generator: the initialisation and the
    batch order stay those of the clean run."""
    if not fraction:
        return split
    gen = torch.Generator().manual_seed(seed)
    chosen = torch.randperm(len(split.y), generator=gen)[: round(fraction * len(split.y))]
    y = split.y.cpu().clone()
    y[chosen] = torch.randint(0, 10, (len(chosen),), generator=gen)
    return Split(split.x, y.to(split.y.device))


def _read_idx(path: Path) -> torch.Tensor:
    """The uint8 array of an IDX file whose header _check_header has passed: [N, 28, 28] or [N]."""
    data = bytearray(path.read_bytes())
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return torch.frombuffer(data, dtype=torch.uint8, offset=4 + 4 * ndim).view(*dims)


def _complete(raw: Path) -> bool:
    return all((raw / name).is_file() for name in SHA256)


def _import_debian(src: Path, raw: Path) -> None:
    log.info(f"importing Fashion-MNIST from {src} into {raw}")
    raw.mkdir(parents=True, exist_ok=True)
    for name in SHA256:
        try:
            with gzip.open(src / f"{name}.gz", "rb") as f:
                data = f.read()
        except (OSError, EOFError) as e:
            raise DataError(f"{src / name}.gz: cannot be decompressed ({e})") from e
        write_bytes_atomic(raw / name, data)  # parallel jobs may import at once: whole files only


def _download(root: str) -> None:
    log.info("Fashion-MNIST not found locally: trying torchvision's download")
    try:
        from torchvision.datasets import FashionMNIST

        for train in (True, False):
            FashionMNIST(str(Path(root).expanduser()), train=train, download=True)
    except Exception as e:  # torchvision raises RuntimeError, URLError, OSError... all mean "no data this way"
        log.warning(f"torchvision's download failed: {e}")


def _check_header(path: Path) -> int:
    """Check magic, dimensions and size against the IDX header, so that a damaged file is named precisely."""
    is_images = "images" in path.name
    ndim = 3 if is_images else 1
    data = _read_head(path, 4 + 4 * ndim)
    if len(data) < 4 + 4 * ndim:
        raise DataError(f"{path}: truncated, shorter than its IDX header")
    magic, *dims = (int.from_bytes(data[i : i + 4], "big") for i in range(0, len(data), 4))
    expected_magic = IMAGE_MAGIC if is_images else LABEL_MAGIC
    if magic != expected_magic:
        raise DataError(f"{path}: wrong magic number {magic:#x}, expected {expected_magic:#x}")
    if is_images and dims[1:] != [28, 28]:
        raise DataError(f"{path}: images are {dims[1]}x{dims[2]}, expected 28x28")
    expected_size = 4 + 4 * ndim + dims[0] * (784 if is_images else 1)
    size = path.stat().st_size
    if size != expected_size:
        raise DataError(f"{path}: {size} bytes, but its header announces {dims[0]} samples ({expected_size} bytes)")
    return dims[0]


def _check_counts(raw: Path, verify: bool) -> None:
    n = {name: _check_header(raw / name) for name in SHA256}
    for split, expected in COUNTS.items():
        images, labels = f"{split}-images-idx3-ubyte", f"{split}-labels-idx1-ubyte"
        if n[images] != n[labels]:
            raise DataError(f"{raw / images}: {n[images]} images but {labels} has {n[labels]} labels")
        if verify and n[images] != expected:
            raise DataError(f"{raw / images}: {n[images]} samples, Fashion-MNIST has {expected}")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _read_head(path: Path, n: int) -> bytes:
    with open(path, "rb") as f:
        return f.read(n)
