"""What the suites share: the real data, one epoch of scalediag's loop or of the typical loop, variants alternated."""

from __future__ import annotations

import resource
import time
from pathlib import Path

import torch
from omegaconf import OmegaConf
from threadpoolctl import threadpool_limits

from scalediag.measure.hooks import Diagnostics
from scalediag.measure.monitor import EARLY_STEPS, Probe, StepMonitor
from scalediag.measure.writer import RunWriter
from scalediag.run.data import load, scaled
from scalediag.run.losses import CrossEntropy, cross_entropy
from scalediag.run.model import build_model
from scalediag.run.optim import KerasAdam, torch_adam
from scalediag.run.train import train_epoch

DATA = {"root": "data", "debian_dir": "/usr/share/datasets/fashion-mnist", "download": True, "verify": True,
        "train_limit": None, "test_limit": None}
LOSS = CrossEntropy()  # conf/loss/cross_entropy.yaml, as a run calls it
OPT = {"lr": 1e-3, "betas": [0.9, 0.999], "eps": 1e-7}  # conf/optimizer/torch.yaml


def real_data():
    """The real Fashion-MNIST on the CPU, as a run loads it."""
    return load(OmegaConf.create(DATA), torch.device("cpu"))


def scalediag_variant(data, every: int | None, log_dir: Path, writer_class=RunWriter, optimizer_class=KerasAdam):
    """every=None: no hooks at all. The default optimizer, Keras's Adam, unless optimizer_class says otherwise.
    Returns a function that trains one epoch."""
    torch.manual_seed(0)
    model = build_model(128, "keras")
    optimizer = optimizer_class(model.parameters(), **OPT)
    gen = torch.Generator().manual_seed(0)
    writer = writer_class(log_dir)
    monitor = probe = None
    if every is not None:
        diag = Diagnostics(model).__enter__()
        x, y = scaled(data.train.x[:1000], 255.0), data.train.y[:1000]  # a run's probe set
        # the early steps fall in the variant's first epoch only, as in a run
        monitor, probe = StepMonitor(diag, writer, every, early=EARLY_STEPS), Probe(diag, x, y, LOSS)

    def epoch():
        train_epoch(model, optimizer, LOSS, data.train, 255.0, 32, gen, monitor).item()
        if probe is not None:  # what scalediag.run.train does at each epoch's end: the captured steps, the probe, Adam
            monitor.epoch_means()
            probe.measure(writer, monitor.step)
            writer.scalars(diag.adam(optimizer), monitor.step)
        writer.flush()  # what the writer buffered is this variant's cost, not the next one's

    return epoch


def typical_variant(root: str):
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    torch.manual_seed(0)
    train = datasets.FashionMNIST(root, train=True, transform=transforms.ToTensor())  # ToTensor: / 255
    loader = DataLoader(train, batch_size=32, shuffle=True)
    model = build_model(128, "keras")
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    criterion = torch.nn.CrossEntropyLoss()

    def epoch():
        running = 0.0
        for x, y in loader:
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
            running += loss.item()

    return epoch


def alternate(variants: dict, reps: int) -> tuple[dict, dict, dict]:
    """Wall and CPU seconds and page faults of each variant's epoch, one epoch of each per repetition, the order
    reversed every other repetition (ABCD DCBA): a drift of the machine hits all alike."""
    wall: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    faults: dict[str, list[int]] = {name: [] for name in variants}
    for rep in range(reps):
        for name in list(variants) if rep % 2 == 0 else list(variants)[::-1]:
            start, start_cpu, start_faults = time.perf_counter(), time.process_time(), minor_faults()
            variants[name]()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
            faults[name].append(minor_faults() - start_faults)
        print(f"rep {rep + 1}/{reps}: " + "  ".join(f"{n} {t[-1]:.3f}s" for n, t in wall.items()), flush=True)
    return wall, cpu, faults


def minor_faults() -> int:
    """Page faults of this process so far: a heap that glibc trims and grows again shows up here (each ~100 per
    400 KB), as it did before the epoch's losses went into one preallocated tensor."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def threads_as_a_run(threads: int) -> None:
    """Torch's threads and numpy's BLAS pool, both at the job's count, as scalediag.run.train._train sets them."""
    torch.set_num_threads(threads)
    threadpool_limits(threads, user_api="blas")


def per_call_us(fn, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6


def epochs_seconds(data, n: int, divisor: float = 255.0, batch: int = 32, compiled: bool = False) -> list[float]:
    """Seconds of each of n training epochs of a fresh model (no diagnostics)."""
    torch.manual_seed(0)
    model = build_model(128, "keras")
    optimizer = torch_adam(model.parameters(), **OPT)
    forward = torch.compile(model) if compiled else model
    gen = torch.Generator().manual_seed(0)
    times = []
    for _ in range(n):
        start = time.perf_counter()
        train_epoch(forward, optimizer, cross_entropy, data.train, divisor, batch, gen).item()
        times.append(time.perf_counter() - start)
    return times
