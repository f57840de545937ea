"""The fault benchmark: runs with injected faults and healthy controls, each trained alone on the real data, then
four doctors on the same records (scalediag's cause, AUTOTRAINER, DeepDiagnosis, SageMaker Debugger), scored.

Each faulty case names the locations that count as finding it (DeepFD's and DeepDiagnosis's vocabulary). Every case
runs with seeds 0 and 1, for EPOCHS epochs (the baselines' trend rules need several: AUTOTRAINER's slow convergence
and oscillation, DeepDiagnosis's 5-epoch windows), two jobs at a time (joblib), one torch thread each.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from joblib import Parallel, delayed

from scalediag.explain.scoring import score, verdicts

EPOCHS = 5
SEEDS = (0, 1)
DEEP = "[" + ",".join(["128"] * 8) + "]"
# name -> (overrides, accepted locations); no locations: a healthy control
CASES = {
    "input too large /1": (["divisor=1"], ["preprocessing"]),
    "input too large /10": (["divisor=10"], ["preprocessing"]),
    "input too small /1e4": (["divisor=10000"], ["preprocessing"]),
    "input too small /1e5": (["divisor=100000"], ["preprocessing"]),
    "lr too high 1": (["optimizer.lr=1"], ["lr"]),
    "lr too high 0.1": (["optimizer.lr=0.1"], ["lr"]),
    "lr too low 1e-5": (["optimizer.lr=1e-5"], ["lr"]),
    "lr too low 1e-6": (["optimizer.lr=1e-6"], ["lr"]),
    "eps dominates 1": (["optimizer.eps=1"], ["optimizer"]),
    "eps dominates 0.1": (["optimizer.eps=0.1"], ["optimizer"]),
    "zero init": (["model.init=zeros"], ["init"]),
    "oversized init std 0.5": (["model.init=normal", "model.init_std=0.5"], ["init"]),
    "oversized init std 1": (["model.init=normal", "model.init_std=1"], ["init"]),
    "double softmax": (["model.output=softmax"], ["loss", "activation"]),
    "double softmax, lr 3e-3": (["model.output=softmax", "optimizer.lr=3e-3"], ["loss", "activation"]),
    "label noise 0.4": (["data.label_noise=0.4"], ["labels"]),
    "label noise 0.2": (["data.label_noise=0.2"], ["labels"]),
    "deep sigmoid x8": (["model.activation=sigmoid", f"model.hidden={DEEP}"], ["activation", "layers"]),
    "deep sigmoid x6": (["model.activation=sigmoid", "model.hidden=[128,128,128,128,128,128]"],
                        ["activation", "layers"]),
    "clamped plateau /1": (["divisor=1", "loss=keras_clipped"], ["preprocessing", "loss"]),
    "clamped plateau /2": (["divisor=2", "loss=keras_clipped"], ["preprocessing", "loss"]),
    "healthy default": ([], []),
    "healthy tanh": (["model.activation=tanh"], []),
    "healthy two hidden layers": (["model.hidden=[128,128]"], []),
    "healthy torch's Adam": (["optimizer=torch"], []),
    "healthy batch 128": (["train.batch_size=128"], []),
}


def _train(overrides: list[str], run_dir: Path) -> float:
    cmd = [sys.executable, "-m", "scalediag", *overrides, f"train.epochs={EPOCHS}", "train.threads=1",
           f"hydra.run.dir='{run_dir}'"]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd)} failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - start


def doctor_suite(args) -> dict:
    out = Path(tempfile.mkdtemp(prefix="scalediag-bench-doctor-"))
    jobs = [(name, seed, [*overrides, f"seed={seed}"], out / f"{i:02d}-seed{seed}")
            for i, (name, (overrides, _)) in enumerate(CASES.items()) for seed in SEEDS]
    print(f"{len(jobs)} runs of {EPOCHS} epochs into {out}, 2 at a time", flush=True)
    start = time.perf_counter()
    seconds = Parallel(n_jobs=2, verbose=5)(delayed(_train)(o, d) for _, _, o, d in jobs)
    wall = time.perf_counter() - start
    cases = []
    for (name, seed, overrides, run_dir), took in zip(jobs, seconds):
        run = json.loads((run_dir / "metrics.json").read_text())
        accepts = CASES[name][1]
        found = {tool: {"problems": list(v.problems), "location": v.location} for tool, v in verdicts(run).items()}
        cases.append({"case": name, "seed": seed, "overrides": overrides, "fault": name if accepts else None,
                      "accepts": accepts, "status": run["status"], "final": run["final"], "seconds": took,
                      "verdicts": found})
    tools = score(cases)
    _print(cases, tools)
    return {"what": f"fault benchmark: {len(jobs)} runs ({EPOCHS} epochs, real Fashion-MNIST), four doctors",
            "tools": tools, "cases": cases, "wall_seconds": wall, "epochs": EPOCHS, "seeds": list(SEEDS)}


def _print(cases: list[dict], tools: dict) -> None:
    print(f"\n{'case':28s} seed " + " ".join(f"{t:>24s}" for t in tools))
    for c in cases:
        cells = []
        for t in tools:
            v = c["verdicts"][t]
            mark = "ok" if (v["location"] in c["accepts"]) else ("--" if not v["problems"] else "x")
            if not c["fault"]:
                mark = "ok" if not v["problems"] else "ALARM"
            cells.append(f"{mark} {v['location'] or '-'}"[:24])
        print(f"{c['case'][:28]:28s} {c['seed']:4d} " + " ".join(f"{x:>24s}" for x in cells))
    print(f"\n{'tool':14s} faulty healthy detected located false_alarms")
    for t, s in tools.items():
        print(f"{t:14s} {s['faulty']:6d} {s['healthy']:7d} {s['detected']:8d} {s['located']:7d} "
              f"{s['false_alarms']:12d}")
