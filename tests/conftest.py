"""Shared fixtures: small IDX files that the real loader reads, Hydra composition, and the CLI in a subprocess."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir

pytest_plugins = ["stop_on_signal"]  # SIGTERM / SIGINT end the session (tests/stop_on_signal.py)

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
# SCALEDIAG_TEST_THREADS=N: every training in the suite runs with N torch threads (train.threads=N for composed and
# CLI runs, torch.set_num_threads for the rest), to show that no test depends on the thread count
# (scripts/test_variants.sh); tests of the automatic choice are skipped then
FORCED_THREADS = int(os.environ["SCALEDIAG_TEST_THREADS"]) if os.environ.get("SCALEDIAG_TEST_THREADS") else None
automatic_threads = pytest.mark.skipif(FORCED_THREADS is not None,
                                       reason="SCALEDIAG_TEST_THREADS forces the thread count this test checks")
NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file of uint8 data: magic 0x0000080N, N big-endian int32 dimensions, then the bytes."""
    header = (0x800 + array.ndim).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def fake_arrays(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Learnable toy images: each class lights a band of rows, plus noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    images = rng.integers(0, 60, (n, 28, 28))
    for i, c in enumerate(labels):
        images[i, 2 * c + 4 : 2 * c + 7, :] += 180
    return images.clip(0, 255).astype(np.uint8), labels.astype(np.uint8)


def write_fashion(folder: Path, n_train: int = 512, n_test: int = 128, gz: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    arrays = (*fake_arrays(n_train, 0), *fake_arrays(n_test, 1))
    for name, array in zip(NAMES, arrays):
        data = idx_bytes(array)
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return folder


@pytest.fixture
def fake_root(tmp_path) -> Path:
    """A data.root holding small, valid IDX files (use with data.verify=false)."""
    root = tmp_path / "data"
    write_fashion(root / "FashionMNIST" / "raw")
    return root


def fake_data(root: Path, device: str = "cpu"):
    """The loader's Data over the small IDX files below root, on device."""
    from omegaconf import OmegaConf

    from scalediag.run.data import load

    cfg = OmegaConf.create({"root": str(root), "debian_dir": "", "download": False, "verify": False,
                            "train_limit": None, "test_limit": None})
    return load(cfg, torch.device(device))


def keras_adam(model: torch.nn.Module, device: str = "cpu") -> torch.optim.Optimizer:
    """scalediag's torch optimizer with conf/optimizer/torch.yaml's settings (lr 1e-3, Keras' eps 1e-7); device:
    where the model already is."""
    from scalediag.run.optim import torch_adam

    return torch_adam(model.parameters(), lr=1e-3, betas=[0.9, 0.999], eps=1e-7)


def fake_overrides(root: Path) -> list[str]:
    return [f"data.root={root}", "data.verify=false", "data.download=false", "data.debian_dir=/nonexistent"]


def cli(args: list[str]) -> list[str]:
    """The command line of `python -m scalediag args`, with train.threads when SCALEDIAG_TEST_THREADS forces it."""
    if FORCED_THREADS is not None and args and args[0] not in ("report", "--help") and \
            not any(a.startswith("train.threads=") for a in args):
        args = [*args, f"train.threads={FORCED_THREADS}"]
    return [sys.executable, "-m", "scalediag", *args]


@pytest.fixture(autouse=True, scope="session")
def forced_threads():
    if FORCED_THREADS is not None:
        torch.set_num_threads(FORCED_THREADS)


def compose_cfg(overrides: list[str] = ()):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        overrides = list(overrides)
        if FORCED_THREADS is not None and not any(o.startswith("train.threads=") for o in overrides):
            overrides.append(f"train.threads={FORCED_THREADS}")
        return compose("config", overrides=overrides)


def run_cli(args: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "HYDRA_FULL_ERROR": "0", "PYTHONUNBUFFERED": "1"}
    return subprocess.run(cli(args), cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def fake_sweep(tmp: Path, *args: str):
    """A multirun over small IDX files written under tmp; returns (sweep directory, the finished process)."""
    root = tmp / "data"
    if not root.exists():
        write_fashion(root / "FashionMNIST" / "raw")
    sweep = tmp / "sweep"
    p = run_cli(["--multirun", *args, *fake_overrides(root), f"hydra.sweep.dir={sweep}"], cwd=tmp)
    assert p.returncode == 0, p.stderr
    return sweep, p


requires_real_data = pytest.mark.skipif(
    not all((DEBIAN_DIR / f"{n}.gz").is_file() for n in NAMES),
    reason=f"real Fashion-MNIST absent: apt-get install dataset-fashion-mnist puts it in {DEBIAN_DIR}",
)

# tests that touch the device run on CUDA too where it is present
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="CUDA absent here: this variant runs where a GPU is"))]


def scalars(run_dir, tag):
    """(step, value) of each event of tag in the run's one event file, as written (not migrated to tensors)."""
    from tensorboard.backend.event_processing.event_file_loader import LegacyEventFileLoader

    files = list(run_dir.glob("events.out.tfevents.*"))
    assert len(files) == 1
    return [(e.step, v.simple_value) for e in LegacyEventFileLoader(str(files[0])).Load() for v in e.summary.value
            if v.tag == tag]


def scalar_steps(run_dir, tag):
    return [step for step, _ in scalars(run_dir, tag)]
