"""metrics.json, the run's record: one schema, written through one object, always whole (atomic); written by a run,
read by the report.

    schema        the layout's version (SCHEMA); a record without one is of version 1, read through upgrade()
    kind          "experiment" (the question's Hydra app) or "watched" (scalediag.watch, `scalediag run`, a callback)
    status        running | completed | diverged | failed | interrupted
    name, config  the run's name (Hydra's override_dirname) and its configuration: the Hydra app's resolved one;
                  for a watched run what watch can know (loss, model, optimizer(s), watch's own settings)
    experiment    the question's experiment block, {divisor, seed}, on the Hydra app's runs only (null otherwise):
                  only the sweep's comparisons read it
    init          the probe set's statistics before any update (null without diagnostics)
    early         every statistic of each early step (diag.early_steps), by step
    history       per finished epoch: epoch, train_loss, test_loss, test_acc, never_predicted, seconds, [diag]
    final         the last epoch's train_loss, test_loss, test_acc, never_predicted (null before the first)
    device, threads, blas_threads, versions
    host, pid     where the run's process runs: a "running" record whose process is gone was killed outright
    epoch, step, error   where a run stopped early: the epoch in progress, the step, what happened
A watched run adds: task, classes, labels (the probe's), program (what the hooks saw of the loop, and where in the
user's code: program.where), steps, targets (a mean-squared-error regression's first-epoch targets: mean, var,
values), preflight (a pre-flight's steps and seconds), watch_error.
"""

from __future__ import annotations

import json
import os
import platform
import socket
from importlib import metadata
from pathlib import Path

from . import __version__
from .files import write_json_atomic

METRICS = "metrics.json"
SCHEMA = 2  # 2: kind and the experiment block; version 1 kept divisor and seed in config, null for watched runs
KINDS = ("experiment", "watched")
FINAL_KEYS = ("train_loss", "test_loss", "test_acc", "never_predicted")


class Record:
    def __init__(self, out_dir: Path, name: str, config: dict, experiment: dict | None = None):
        """experiment: the question's {divisor, seed}, for the Hydra app's runs; a watched run has none."""
        self.path = Path(out_dir) / METRICS
        self.data = {"schema": SCHEMA, "kind": "experiment" if experiment is not None else "watched",
                     "status": "running", "name": name, "config": config, "experiment": experiment,
                     "init": None, "early": {}, "history": [], "final": None, "device": None, "threads": None,
                     "blas_threads": None, "versions": versions(), "host": socket.gethostname(),
                     "pid": os.getpid()}

    @property
    def history(self) -> list[dict]:
        return self.data["history"]

    def update(self, **fields) -> None:
        self.data.update(fields)

    def start_epoch(self, epoch: int) -> None:
        self.data["epoch"] = epoch  # the epoch in progress, for the record of a fault

    def end_epoch(self, result: dict) -> None:
        self.history.append(result)
        self.data["final"] = {k: result[k] for k in FINAL_KEYS}

    def add_early(self, rows: dict[str, dict]) -> None:
        self.data["early"] = {**self.data["early"], **rows}

    def restore(self, init: dict | None, history: list[dict], early: dict | None = None) -> None:
        """What a checkpoint kept of the epochs before it."""
        self.data["init"], self.data["early"] = init, early or {}
        for result in history:
            self.end_epoch(result)

    def completed(self) -> None:
        self.data.pop("epoch", None)
        self.data["status"] = "completed"

    def stopped(self, status: str, error: str, step: int | None = None) -> None:
        """diverged, failed or interrupted: the epoch it was in, the step where known, what happened."""
        self.data.update(status=status, epoch=self.data.pop("epoch", None), error=error)
        if step is not None:
            self.data["step"] = step

    def write(self) -> None:
        write_json_atomic(self.path, self.data)


class RecordError(ValueError):
    """A metrics.json that cannot be read as a run's record; the message says what is wrong."""


def read(path: Path) -> dict:
    """A run's record from its metrics.json, checked for what a report needs; RecordError otherwise."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise RecordError(f"unreadable ({type(e).__name__}: {e})") from e
    if not isinstance(data, dict):
        raise RecordError("not a run's record (no JSON object)")
    data = upgrade(data)
    missing = [k for k in ("status", "config", "history") if k not in data]
    config = data.get("config")
    if not missing and isinstance(config, dict):
        missing = [f"config.{k}" for k in ("loss", "model", "optimizer") if k not in config]
        if data["kind"] == "experiment":
            missing += [f"experiment.{k}" for k in ("divisor", "seed") if k not in (data.get("experiment") or {})]
    if missing or not isinstance(data["history"], list):
        raise RecordError(f"incomplete, without {', '.join(missing) or 'a history list'}")
    return data


def upgrade(data: dict) -> dict:
    """A record of an older schema in the current layout; one of a newer schema is refused."""
    version = data.get("schema", 1)
    if not isinstance(version, int) or not 1 <= version <= SCHEMA:
        raise RecordError(f"written by another scalediag (record schema {version!r}; this one reads 1 to {SCHEMA})")
    if version == 1:
        config = dict(data.get("config") or {})
        divisor = config.get("divisor")
        if divisor is None:  # a watched run: version 1 wrote divisor and seed as null
            config.pop("divisor", None)
            config.pop("seed", None)
        data = {**data, "schema": SCHEMA, "kind": "experiment" if divisor is not None else "watched",
                "experiment": {"divisor": divisor, "seed": config.get("seed")} if divisor is not None else None,
                **({"config": config} if isinstance(data.get("config"), dict) else {})}
    if data.get("kind") not in KINDS:
        raise RecordError(f"kind {data.get('kind')!r} is none of {', '.join(KINDS)}")
    return data


def experiment(run: dict) -> dict | None:
    """The question's {divisor, seed} of a Hydra app's run; None for a watched one (a record read whole, or one
    built by hand in the layout of version 1)."""
    return run["experiment"] if "schema" in run else upgrade(run).get("experiment")


def alive(data: dict) -> bool | None:
    """Whether a "running" record's process still runs: None where this host cannot tell (another host's run, or
    a record without a pid); False for a run killed outright (SIGKILL, out of memory) on this host."""
    if data.get("host") != socket.gethostname() or not data.get("pid"):
        return None
    try:
        os.kill(data["pid"], 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    return True


def versions() -> dict:
    import numpy
    import torch

    return {
        "scalediag": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": _version("torchvision"),  # its import costs 1.7 s, and the run does not need it
        "numpy": numpy.__version__,
        "hydra": _version("hydra-core"),  # a watched run may not have loaded it
    }


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


# config.optimizer._target_ of a loop that updates the weights itself, without torch.optim (measure/handwritten.py)
HAND_WRITTEN = "hand-written update"


def by_hand(run: dict) -> bool:
    """The run's weights were updated by the loop's own code, not by a torch.optim optimizer."""
    return ((run.get("config") or {}).get("optimizer") or {}).get("_target_") == HAND_WRITTEN


def optimizer_name(optimizer: dict) -> str:
    """The optimizer's class or function name from its config (KerasAdam, torch_adam)."""
    return str(optimizer.get("_target_", "")).rsplit(".", 1)[-1]
