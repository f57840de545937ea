"""What scalediag.watch costs a plain loop: a small CNN (two conv layers, batch 64, torch's Adam) on the real
Fashion-MNIST, watched at every=50 against unwatched, epochs alternated in one run (the machine's drift hits both)."""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

import scalediag

from .common import alternate, real_data, threads_as_a_run

IMAGES = 60000  # a whole epoch: the probe set is measured once per epoch, as in a run


def small_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, 10))


def _variant(x: torch.Tensor, y: torch.Tensor, log_dir: Path | None, probe: int = 1000):
    """A loop as a user writes it; with log_dir, watched (every 50 steps, the probe at each epoch's end)."""
    model = small_cnn()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    w = scalediag.watch(model, optimizer, log_dir, every=50, probe=(x[:probe], y[:probe])).__enter__() \
        if log_dir else None
    gen = torch.Generator().manual_seed(0)

    def epoch():
        order = torch.randperm(len(y), generator=gen)
        total = torch.zeros(())
        for i in range(0, len(y), 64):
            idx = order[i : i + 64]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.detach()
        if w:
            w.epoch_end(train_loss=total.item() / (len(y) // 64))

    return epoch


def watch_suite(args) -> dict:
    threads_as_a_run(args.threads or 1)
    data = real_data()
    x, y = data.train.x[:IMAGES].float().div(255).unsqueeze(1), data.train.y[:IMAGES]
    tmp = Path(tempfile.mkdtemp(prefix="scalediag-bench-watch-"))
    variants = {"unwatched": _variant(x, y, None), "watched every 50": _variant(x, y, tmp / "watched", args.probe)}
    wall, cpu, _ = alternate(variants, args.reps)
    ratio = statistics.median(b / a for a, b in zip(wall["unwatched"], wall["watched every 50"]))
    return {"what": f"seconds per pass over {IMAGES} images, small CNN, batch 64, torch's Adam: watched against not",
            "threads": torch.get_num_threads(), "probe_images": args.probe,
            "median_seconds": {n: statistics.median(t) for n, t in wall.items()},
            "ratio watched / unwatched": ratio,
            "cpu ratio": statistics.median(b / a for a, b in zip(cpu["unwatched"], cpu["watched every 50"])),
            "seconds": wall, "reps": args.reps}
