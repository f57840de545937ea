"""The sweep report's PNG plots: one line per run, the runs of one configuration (seeds) in one colour."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on a cluster node or in CI
import matplotlib.pyplot as plt  # noqa: E402

from . import tags  # noqa: E402
from .files import write_bytes_atomic  # noqa: E402


def plots(layers: list[str]) -> dict[str, list[tuple[str, str, str]]]:
    """file -> panels: (title, key in an epoch's record or its "diag", y scale)."""
    return {
        "loss.png": [("training loss (epoch mean)", "train_loss", "log"), ("test loss", "test_loss", "log")],
        "dead_relu.png": [("dead ReLU fraction (probe set)", tags.DEAD, "linear")],
        "logits.png": [("largest logit (probe set)", tags.LOGITS_MAX, "symlog"),
                       ("smallest logit (probe set)", tags.LOGITS_MIN, "symlog")],
        "clipped.png": [("share of samples at the probability clip (probe set)", tags.CLIPPED, "linear")],
        "update_ratio.png": [(f"{layer}: ||dw|| / ||w|| per step", tags.update_ratio(layer), "log")
                             for layer in layers],
    }


def series(run: dict, key: str) -> tuple[list[int], list[float]]:
    """(epochs, values) of one key; epoch 0 is the measurement at initialization, where there is one."""
    points = []
    init = run.get("init") or {}
    init_key = tags.LOSS_INIT if key == "train_loss" else key
    if init.get(init_key) is not None:
        points.append((0, init[init_key]))
    for h in run.get("history") or []:
        value = h.get(key, (h.get("diag") or {}).get(key))
        if value is not None:
            points.append((h["epoch"], value))
    return [e for e, _ in points], [v for _, v in points]


def write_plots(runs: list[dict], labels: list[str], out_dir: Path, layers: list[str]) -> list[str]:
    """Write every plot that has data; return the file names written."""
    colours = {label: f"C{i % 10}" for i, label in enumerate(dict.fromkeys(labels))}
    written = []
    for name, panels in plots(layers).items():
        if not panels:
            continue
        fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4), squeeze=False)
        drawn = False
        for ax, (title, key, scale) in zip(axes[0], panels):
            shown = set()
            for run, label in zip(runs, labels):
                x, y = series(run, key)
                if not x:
                    continue
                ax.plot(x, y, marker="o", ms=3, color=colours[label], label=None if label in shown else label)
                shown.add(label)
                drawn = True
            ax.set_title(title)
            ax.set_xlabel("epoch (0 = at initialization)")
            ax.set_yscale(scale)
            ax.grid(alpha=0.3)
            if shown:
                ax.legend(fontsize=7)
        if drawn:
            buf = io.BytesIO()
            fig.tight_layout()
            fig.savefig(buf, format="png", dpi=90)
            write_bytes_atomic(out_dir / name, buf.getvalue())
            written.append(name)
        plt.close(fig)
    return written
