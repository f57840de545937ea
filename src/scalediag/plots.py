"""The sweep report's PNG plots: one line per run, the runs of one configuration (seeds) in one colour."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on a cluster node or in CI
import matplotlib.pyplot as plt  # noqa: E402

from .files import write_bytes_atomic  # noqa: E402

# file -> panels: (title, key in an epoch's record or its "diag", y scale)
PLOTS = {
    "loss.png": [("training loss (epoch mean)", "train_loss", "log"), ("test loss", "test_loss", "log")],
    "dead_relu.png": [("dead ReLU fraction (probe set)", "relu/dead_fraction", "linear")],
    "logits.png": [("largest logit (probe set)", "logits/max", "symlog"),
                   ("smallest logit (probe set)", "logits/min", "symlog")],
    "clipped.png": [("share of samples with p_true < 1e-7 (probe set)", "probs/clipped_fraction", "linear")],
    "update_ratio.png": [("fc1: ||dw|| / ||w|| per step", "update/fc1/ratio", "log"),
                         ("fc2: ||dw|| / ||w|| per step", "update/fc2/ratio", "log")],
}


def series(run: dict, key: str) -> tuple[list[int], list[float]]:
    """(epochs, values) of one key; epoch 0 is the measurement at initialization, where there is one."""
    points = []
    init = run.get("init") or {}
    init_key = "loss/init" if key == "train_loss" else key
    if init.get(init_key) is not None:
        points.append((0, init[init_key]))
    for h in run.get("history") or []:
        value = h.get(key, (h.get("diag") or {}).get(key))
        if value is not None:
            points.append((h["epoch"], value))
    return [e for e, _ in points], [v for _, v in points]


def write_plots(runs: list[dict], labels: list[str], out_dir: Path) -> list[str]:
    """Write every plot that has data; return the file names written."""
    colours = {label: f"C{i % 10}" for i, label in enumerate(dict.fromkeys(labels))}
    written = []
    for name, panels in PLOTS.items():
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
