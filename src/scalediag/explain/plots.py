"""The sweep report's PNG plots: one line per run, the runs of one configuration (seeds) in one colour."""

from __future__ import annotations

import io
import re
import statistics
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")  # files only: no display on a cluster node or in CI
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from .. import tags  # noqa: E402
from ..files import write_bytes_atomic  # noqa: E402
from ..record import experiment  # noqa: E402


def plots(layers: tuple[list[str], list[str]]) -> dict[str, list[tuple[str, str, str]]]:
    """file -> panels: (title, key in an epoch's record or its "diag", y scale); layers: (every, hidden)."""
    every, hidden = layers
    return {
        "loss.png": [("training loss (epoch mean)", "train_loss", "log"), ("test loss", "test_loss", "log")],
        "dead_units.png": [(f"{layer}: dead units (saturated for every probe sample)", tags.dead(layer), "linear")
                           for layer in hidden],
        "saturated.png": [(f"{layer}: saturated (sample, unit) pairs (probe set)", tags.saturated(layer), "linear")
                          for layer in hidden],
        "logits.png": [("largest logit (probe set)", tags.LOGITS_MAX, "symlog"),
                       ("smallest logit (probe set)", tags.LOGITS_MIN, "symlog")],
        "clipped.png": [("share of samples at the probability clip (probe set)", tags.CLIPPED, "linear")],
        "update_ratio.png": [(f"{layer}: ||dw|| / ||w|| per step", tags.update_ratio(layer), "log")
                             for layer in every],
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


def natural(label: str) -> tuple:
    """A sort key that orders the numbers in labels by value: divisor=1, 255, 1000 (not 1, 1000, 255)."""
    return tuple((0, float(part), "") if i % 2 else (1, 0.0, part)
                 for i, part in enumerate(re.split(r"(\d+(?:\.\d+)?(?:e-?\d+)?)", label)) if part)


def _scale(wanted: str, values: list[float]) -> str:
    """A log axis only for positive values (a VAE's negative ELBO, a loss written by hand can go below 0)."""
    return "linear" if wanted == "log" and any(v <= 0 for v in values) else wanted


def write_plots(runs: list[dict], labels: list[str], out_dir: Path, layers: tuple[list[str], list[str]]) -> list[str]:
    """Write every per-epoch plot that has data; return the file names written. Legends and colours follow the
    labels in natural order."""
    ordered = sorted(zip(runs, labels), key=lambda rl: natural(rl[1]))
    runs, labels = [r for r, _ in ordered], [label for _, label in ordered]
    colours = {label: f"C{i % 10}" for i, label in enumerate(dict.fromkeys(labels))}
    written = []
    for name, panels in plots(layers).items():
        if not panels:
            continue
        fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4), squeeze=False)
        drawn = False
        for ax, (title, key, scale) in zip(axes[0], panels):
            shown, xs, ys = set(), [], []
            for run, label in zip(runs, labels):
                x, y = series(run, key)
                if not x:
                    continue
                ax.plot(x, y, marker="o", ms=3, color=colours[label], label=None if label in shown else label)
                shown.add(label)
                xs, ys, drawn = xs + x, ys + y, True
            ax.set_title(title)
            ax.set_xlabel("epoch (0 = at initialization)" if 0 in xs else "epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole: no tick at 1.5
            ax.set_yscale(_scale(scale, ys))
            ax.grid(alpha=0.3)
            if shown:
                ax.legend(fontsize=7)
        if drawn:
            written.append(_save(fig, out_dir / name))
        plt.close(fig)
    return written


def _save(fig, path: Path) -> str:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=90)
    write_bytes_atomic(path, buf.getvalue())
    return path.name


def _finals(runs: list[dict], keys: list, key: str) -> dict:
    """{group key: {(divisor, eps): [final value of each seed]}} over the completed runs."""
    out: dict = {}
    for run, k in zip(runs, keys):
        if run.get("status") == "completed" and (run.get("final") or {}).get(key) is not None and \
                experiment(run) is not None:
            cell = (experiment(run)["divisor"], run["config"]["optimizer"]["eps"])
            out.setdefault(k, {}).setdefault(cell, []).append(run["final"][key])
    return out


def write_sweep_plots(runs: list[dict], lines: list[str], contexts: list[str], out_dir: Path) -> list[str]:
    """divisor.png where the divisor varies: final losses against it, one line per other configuration (lines),
    mean and standard deviation over seeds; divisor_eps.png where eps varies too: the final training loss over
    divisor x eps, one heatmap per context (the configuration but divisor, eps and seed)."""
    done = [r for r in runs if r.get("status") == "completed" and experiment(r) is not None]
    divisors = {experiment(r)["divisor"] for r in done}
    written = []
    if len(divisors) > 1:
        written.append(_divisor_plot(runs, lines, out_dir / "divisor.png"))
    if len(divisors) > 1 and len({r["config"]["optimizer"]["eps"] for r in done}) > 1:
        written.append(_heatmaps(_finals(runs, contexts, "train_loss"), out_dir / "divisor_eps.png"))
    return written


def _divisor_plot(runs: list[dict], lines: list[str], path: Path) -> str:
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for ax, (key, title) in zip(axes, (("train_loss", "final training loss"), ("test_loss", "final test loss"))):
        for line, cells in sorted(_finals(runs, lines, key).items(), key=lambda lc: natural(lc[0] or "")):
            points = sorted((d, values) for (d, _), values in cells.items())
            mean = [statistics.fmean(v) for _, v in points]
            spread = [statistics.stdev(v) if len(v) > 1 else 0.0 for _, v in points]
            ax.errorbar([d for d, _ in points], mean, yerr=spread, marker="o", ms=4, capsize=3, label=line or "all")
        ax.set(xscale="log", yscale="log", xlabel="divisor (the network sees pixels / divisor)", title=title)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    name = _save(fig, path)
    plt.close(fig)
    return name


def _heatmaps(tables: dict, path: Path) -> str:
    fig, axes = plt.subplots(1, len(tables), figsize=(5.5 * len(tables), 4.5), squeeze=False)
    for ax, (context, cells) in zip(axes[0], tables.items()):
        divisors, epss = sorted({d for d, _ in cells}), sorted({e for _, e in cells})
        grid = np.full((len(epss), len(divisors)), np.nan)
        for (d, e), values in cells.items():
            grid[epss.index(e), divisors.index(d)] = statistics.fmean(values)
        image = ax.imshow(grid, cmap="viridis_r", norm=LogNorm(), aspect="auto")
        for (i, j), value in np.ndenumerate(grid):
            if np.isfinite(value):
                light = image.norm(value) < 0.5  # viridis_r: low losses are pale
                ax.text(j, i, f"{value:.3g}", ha="center", va="center", color="k" if light else "w", fontsize=9)
        ax.set_xticks(range(len(divisors)), [f"{d:g}" for d in divisors])
        ax.set_yticks(range(len(epss)), [f"{e:g}" for e in epss])
        ax.set(xlabel="divisor", ylabel="Adam's eps", title=f"final training loss {context}".strip())
        fig.colorbar(image, ax=ax)
    name = _save(fig, path)
    plt.close(fig)
    return name
