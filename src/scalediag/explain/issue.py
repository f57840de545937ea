"""One run's diagnosis as a Markdown block to paste into an issue or a forum post: what ran (versions, task,
optimizer, how far), the cause with its evidence and where its fix lives, and the rest of the diagnosis. Written
beside the run's record as diagnosis.md when the run ends."""

from __future__ import annotations

from pathlib import Path

from ..files import write_text_atomic
from ..record import METRICS, experiment, optimizer_name, read
from .causes import CAUSES
from .chain import Diagnosis, diagnosed, explain, lines
from .facts import classes, task

FILE = "diagnosis.md"


def _versions(run: dict) -> str:
    v = run.get("versions") or {}
    shown = ", ".join(f"{k} {v[k]}" for k in ("scalediag", "torch", "python") if v.get(k))
    return f"{shown or 'versions not recorded'}; device {run.get('device') or 'not recorded'}"


def _what_ran(run: dict) -> str:
    config = run.get("config") or {}
    opt = config.get("optimizer") or {}
    loss = (config.get("loss") or {}).get("name")
    kind = task(run)
    parts = [] if run.get("kind") == "watched" else [f"{kind}, loss {loss}"]  # a watched run's task line follows
    if kind == "classification" and run.get("classes"):
        parts.append(f"{classes(run)} classes")
    if opt.get("_target_"):
        parts.append(f"{optimizer_name(opt)} lr {opt.get('lr'):g}" if isinstance(opt.get("lr"), (int, float))
                     else optimizer_name(opt))
    if experiment(run) is not None:
        parts.append(f"divisor {experiment(run)['divisor']:g}, seed {experiment(run)['seed']}")
    return ", ".join(parts) or "see the task below"


def _how_far(run: dict) -> str:
    epochs = len(run.get("history") or [])
    planned = ((run.get("config") or {}).get("train") or {}).get("epochs")
    steps = run.get("steps")
    return (f"{run.get('status') or 'status not recorded'}, {epochs}" + (f" of {planned}" if planned else "")
            + " epochs" + (f", {steps} optimizer steps" if steps else ""))


def block(run: dict, where: str, script: str | None = None, diagnosis: Diagnosis | None = None) -> str:
    """The Markdown block; where: the run's directory or name, script: the script that ran, where known."""
    diagnosis = diagnosis or explain(run)
    cause = CAUSES.get(diagnosis.cause)
    fix = (f"; the fix is in the {cause.fix}" + (f" ({cause.location})" if cause.location else "")) if cause else ""
    head = [f"**scalediag diagnosis** of `{where}`" + (f" (`{script}`)" if script else ""), "",
            f"- verdict: `{diagnosis.cause}`" + (f" ({cause.title}){fix}" if cause else ""),
            f"- what ran: {_what_ran(run)}",
            f"- run: {_how_far(run)}",
            f"- versions: {_versions(run)}"]
    return "\n".join(head + [f"- {line}" for line in lines(run, diagnosis)]) + "\n"


def write(run: dict, run_dir: Path, script: str | None = None, diagnosis: Diagnosis | None = None) -> Path:
    """diagnosis.md in run_dir (atomically: a reader sees the old one or the new one); its path."""
    path = Path(run_dir) / FILE
    write_text_atomic(path, block(run, str(run_dir), script, diagnosis))
    return path


def diagnose_and_write(run_dir, script: str | None = None) -> tuple[Diagnosis, Path]:
    """The diagnosis of the record in run_dir, with its text, and the block written beside it: a run's end."""
    run = read(Path(run_dir) / METRICS)
    found = diagnosed(run)
    return found, write(run, run_dir, script, found)
