"""Four doctors on the same records, scored: scalediag's cause, and the three published rule sets (baselines.py).

A case is a run with an injected fault and the locations that count as finding it (the vocabulary of DeepFD and
DeepDiagnosis), or a healthy control (no fault). Per tool: detected (a problem flagged on a faulty run), located
(the location it points at is one the case accepts), false_alarms (a problem flagged on a healthy control).
"""

from __future__ import annotations

from .baselines import TOOLS, Verdict
from .causes import CAUSES
from .chain import explain

def location(cause_id: str) -> str | None:
    """Where a cause's fix lies, in the benchmark's vocabulary: the cause's own declaration (None: no place to fix,
    or no cause)."""
    return CAUSES[cause_id].location if cause_id in CAUSES else None


def scalediag(run: dict) -> Verdict:
    diagnosis = explain(run)
    if diagnosis.cause in ("healthy", "too_short"):  # too short to tell claims no fault
        return Verdict((), None)
    return Verdict(tuple(c.id for c in diagnosis.causes), location(diagnosis.cause))


DOCTORS = {"scalediag": scalediag, **TOOLS}


def verdicts(run: dict) -> dict[str, Verdict]:
    return {name: doctor(run) for name, doctor in DOCTORS.items()}


def score(cases: list[dict]) -> dict[str, dict[str, int]]:
    """cases: {"fault": its name or None for a healthy control, "accepts": [locations], "verdicts": {tool:
    {"problems": [...], "location": ...}}}. Returns per tool: faulty, healthy, detected, located, false_alarms."""
    scores = {}
    for tool in DOCTORS:
        faulty = [c for c in cases if c["fault"]]
        healthy = [c for c in cases if not c["fault"]]
        seen = [c["verdicts"][tool] for c in faulty]
        scores[tool] = {
            "faulty": len(faulty), "healthy": len(healthy),
            "detected": sum(bool(v["problems"]) for v in seen),
            "located": sum(v["location"] in c["accepts"] for v, c in zip(seen, faulty)),
            "false_alarms": sum(bool(c["verdicts"][tool]["problems"]) for c in healthy),
        }
    return scores
