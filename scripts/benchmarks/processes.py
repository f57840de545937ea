"""Whole processes as a user starts them: start-up against `import torch` (startup), the 3-divisor sweep (sweep)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import DATA


def startup_suite(args) -> dict:
    """The whole process, as a user starts it, against `python -c "import torch"`, in turn args.reps times: a tiny
    run (64 samples, 1 epoch, real data already imported), a bad-input error, and `scalediag report DIR`."""
    tmp = Path(tempfile.mkdtemp(prefix="scalediag-bench-startup-"))
    root = f"data.root={Path(DATA['root']).absolute()}"
    tiny = [sys.executable, "-m", "scalediag", root, "data.train_limit=64", "data.test_limit=64", "train.epochs=1"]
    subprocess.run([*tiny, f"hydra.run.dir={tmp / 'sweep' / 'run'}"], check=True, capture_output=True)  # for report
    commands = {
        "import torch": [sys.executable, "-c", "import torch"],
        "tiny run": tiny,
        "bad input": [sys.executable, "-m", "scalediag", root, "divisor=0"],
        "report": [sys.executable, "-m", "scalediag", "report", str(tmp / "sweep")],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for rep in range(args.reps):
        for name, cmd in commands.items():
            extra = [f"hydra.run.dir={tmp / f'run{rep}'}"] if name == "tiny run" else []
            start = time.perf_counter()
            subprocess.run([*cmd, *extra], capture_output=True, check=name != "bad input")
            times[name].append(time.perf_counter() - start)
        print(f"rep {rep + 1}/{args.reps}: " + "  ".join(f"{n} {t[-1]:.2f}s" for n, t in times.items()), flush=True)
    ratio = {f"{n} / import torch": statistics.median(a / b for a, b in zip(t, times["import torch"]))
             for n, t in times.items() if n != "import torch"}
    return {"what": "wall seconds of the whole process, each command in turn",
            "median_seconds": {n: statistics.median(t) for n, t in times.items()}, "ratios": ratio,
            "seconds": times, "reps": args.reps}


def sweep_suite(args) -> dict:
    """The whole 3-divisor, 5-epoch sweep end to end, as a user runs it: basic launcher against joblib."""
    out = {}
    for name, extra in (("sequential", []), ("joblib", ["hydra/launcher=local_parallel"])):
        sweep_dir = Path(tempfile.mkdtemp(prefix="scalediag-bench-sweep-"))
        cmd = [sys.executable, "-m", "scalediag", "--multirun", "divisor=1,255,1000", *extra,
               f"hydra.sweep.dir={sweep_dir}"]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        out[name] = time.perf_counter() - start
        print(f"{name}: {out[name]:.1f} s for the 3-divisor, 5-epoch sweep", flush=True)
    return {"what": "wall seconds of `python -m scalediag --multirun divisor=1,255,1000` (5 epochs, real data)",
            "seconds": out, "speedup_joblib": out["sequential"] / out["joblib"], "cpus": os.cpu_count()}
