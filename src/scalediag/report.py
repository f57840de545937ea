"""Read the runs of a sweep directory (files only, so it works after any launcher or a crash) and summarise them."""

from __future__ import annotations

import csv
import io
import json
import re
import statistics
from pathlib import Path

from .files import write_text_atomic

ITEM = re.compile(r",(?=[\w.+~/]+=)")  # a comma that starts the next key=value of an override_dirname
COLUMNS = ("run", "status", "seed", "divisor", "loss", "init", "eps", "epochs", "train_loss", "test_loss", "test_acc",
           "never_predicted",
           "seconds_per_epoch")


def collect(sweep_dir: Path) -> list[dict]:
    runs = []
    for path in sorted(Path(sweep_dir).rglob("metrics.json")):
        metrics = json.loads(path.read_text())
        metrics["dir"] = str(path.parent.relative_to(sweep_dir))
        runs.append(metrics)
    return runs


def label(run: dict) -> str:
    """The run's name (Hydra's override_dirname) without its seed: runs of one label differ by seed only."""
    items = [i for i in ITEM.split(run.get("name") or "") if i and not i.startswith("seed=")]
    return ",".join(items) or "all"


def _sort_key(label: str):
    """divisor=1 < divisor=255 < divisor=1000: numbers compare as numbers."""
    key = []
    for item in ITEM.split(label):
        k, _, v = item.partition("=")
        try:
            key.append((k, 0, float(v), ""))
        except ValueError:
            key.append((k, 1, 0.0, v))
    return key


def row(run: dict) -> dict:
    cfg, final, history = run["config"], run.get("final") or {}, run.get("history") or []
    seconds = [h["seconds"] for h in history if h.get("seconds") is not None]
    return {
        "run": run["dir"], "status": run["status"], "seed": cfg["seed"], "divisor": cfg["divisor"],
        "loss": cfg["loss"]["name"], "init": cfg["model"]["init"], "eps": cfg["optimizer"]["eps"],
        "epochs": len(history), "train_loss": final.get("train_loss"), "test_loss": final.get("test_loss"),
        "test_acc": final.get("test_acc"), "never_predicted": final.get("never_predicted"),
        "seconds_per_epoch": statistics.median(seconds) if seconds else None,
    }


def aggregate(runs: list[dict]) -> list[dict]:
    """Mean, standard deviation and n of the final metrics per configuration (runs that differ only by seed)."""
    groups: dict[str, list[dict]] = {}
    for run in runs:
        groups.setdefault(label(run), []).append(row(run))
    out = []
    for name in sorted(groups, key=_sort_key):
        rows = groups[name]
        entry = {"config": name, "n": len(rows), "seeds": [r["seed"] for r in rows]}
        for key in ("train_loss", "test_loss", "test_acc", "seconds_per_epoch"):
            values = [r[key] for r in rows if r[key] is not None]
            entry[key] = statistics.fmean(values) if values else None
            entry[f"{key}_std"] = statistics.stdev(values) if len(values) > 1 else 0.0 if values else None
        out.append(entry)
    return out


def _pm(mean, std, digits=4) -> str:
    return "-" if mean is None else f"{mean:.{digits}f} ± {std:.{digits}f}"


def table(groups: list[dict]) -> str:
    head = "| configuration | n | train loss | test loss | test acc | s/epoch |\n|---|---|---|---|---|---|\n"
    lines = [
        f"| {g['config']} | {g['n']} | {_pm(g['train_loss'], g['train_loss_std'])} | "
        f"{_pm(g['test_loss'], g['test_loss_std'])} | {_pm(g['test_acc'], g['test_acc_std'])} | "
        f"{_pm(g['seconds_per_epoch'], g['seconds_per_epoch_std'], 2)} |"
        for g in groups
    ]
    return head + "\n".join(lines) + "\n"


def write_report(sweep_dir: Path) -> str:
    """Write summary.csv (one row per run) and summary.md (mean ± std over seeds); return the table."""
    sweep_dir = Path(sweep_dir)
    runs = collect(sweep_dir)
    if not runs:
        raise FileNotFoundError(f"{sweep_dir}: no run with a metrics.json below it")
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(row(r) for r in runs)
    write_text_atomic(sweep_dir / "summary.csv", buf.getvalue())
    text = table(aggregate(runs))
    write_text_atomic(sweep_dir / "summary.md", f"# scalediag sweep {sweep_dir.name}\n\nFinal metrics, mean ± "
                      f"standard deviation over seeds (n runs).\n\n{text}")
    return text
