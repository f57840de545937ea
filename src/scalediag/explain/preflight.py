"""What `scalediag run --preflight` says when it stops a script after its first optimizer steps: the causes whose
evidence shows that early (Cause.preflight: the structure and the probe at entry, the measured steps' gradients and
modes, the first steps' sizes), each with its lines and its fix; the others need the whole run and are named as
such. The run's outcome is not judged (facts.failing is None on a pre-flight record), so a loss still high after a
hundred steps blames nothing."""

from __future__ import annotations

from .causes import CAUSES, ORDER
from .chain import Diagnosis, explain, pointers

EARLY = frozenset(i for i in ORDER if CAUSES[i].preflight)
LATER = tuple(i for i in ORDER if not CAUSES[i].preflight)


def diagnose(run: dict) -> Diagnosis:
    """A pre-flight record's diagnosis: explain asks it only the EARLY causes (Cause.applies reads its preflight
    mark), and never judges its outcome."""
    return explain(run)


def lines(run: dict, diagnosis: Diagnosis | None = None) -> list[str]:
    """The pre-flight's verdict as lines: each early cause found (primary first) with its lines and fix, or that
    none was; then what needs the full run."""
    diagnosis = diagnosis or diagnose(run)
    steps = (run.get("preflight") or {}).get("steps") or run.get("steps")
    out = []
    for found in diagnosis.causes:
        out += [f"**{found.title}** ({found.id}): {found.evidence}", *pointers(run, found)]
    if not diagnosis.causes:
        out.append(f"nothing found in the first {steps} steps: checked {', '.join(sorted(EARLY))}")
    out.append(f"needs the full run: {', '.join(LATER)}")
    return out
