"""The diagnosis as a chain: the causes that hold (explain/causes/), tried in the registry's order, upstream first,
so that the first is the one the others follow from; the symptoms (rules.py) it explains shown as its consequences;
the rest after them. A failing run without a cause is `unexplained` (unexplained.py), never healthy."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..record import METRICS, read
from .causes import CAUSES, ORDER
from .causes.base import Evidence
from .facts import task, too_short, unmeasured
from .rules import Finding, diagnose, healthy_summary
from .where import Location, unknown
from .unexplained import unexplained

TITLES = {"healthy": "healthy", "unexplained": "unexplained", "too_short": "too short to tell"}  # verdicts, no cause


@dataclass(frozen=True)
class Found:
    """A cause that holds on a run, with its evidence, the user's lines it points at and the fix in their names."""

    id: str
    found: Evidence
    where: tuple[Location, ...] = ()
    remedy: str | None = None

    @property
    def evidence(self) -> str:
        return self.found.text

    @property
    def title(self) -> str:
        return CAUSES[self.id].title if self.id in CAUSES else TITLES[self.id]


@dataclass
class Diagnosis:
    cause: str  # the primary cause's id, or "healthy"
    causes: list[Found]  # every cause that holds, primary first
    consequences: list[Finding] = field(default_factory=list)  # symptoms the primary cause explains
    others: list[Finding] = field(default_factory=list)  # symptoms it does not
    text: str = ""  # the diagnosis as printed (diagnose() fills it)

    @property
    def ids(self) -> str:
        return ";".join(c.id for c in self.causes) or "healthy"


def _explained(primary: str) -> tuple[frozenset, frozenset]:
    """(the causes, the symptoms) that follow from the primary cause: what it declares, and the symptoms that are
    the sign of a cause it explains."""
    cause = CAUSES[primary]
    causes = cause.explains | {primary}
    signs = cause.signs | {s for c in causes if c in CAUSES for s in CAUSES[c].shown_by}
    return causes, signs


def explain(run: dict, symptoms: list[Finding] | None = None) -> Diagnosis:
    """The run's causes in ORDER (the first is primary) and its symptoms split into what the primary cause explains
    and the rest. symptoms: rules.diagnose(run) and any comparison findings; computed here when not given. A run too
    early to judge by its outcome (short, or a pre-flight's) is asked only the causes that need none (Cause.applies),
    and is never `unexplained` (facts.failure is None for it)."""
    symptoms = diagnose(run) if symptoms is None else symptoms
    found = []
    for cause_id in ORDER:
        cause = CAUSES[cause_id]
        evidence = cause.test(run, symptoms) if cause.applies(run) else None
        if evidence:
            found.append(Found(cause_id, evidence, tuple(cause.where(run, evidence)), cause.remedy(run, evidence)))
    # a divergence whose cause the evidence shows is that cause's consequence, not a cause of its own
    found = [f for f in found if f.id != "diverged"] or found
    if not found:
        why = unexplained(run, symptoms)
        if why:
            return Diagnosis("unexplained", [Found("unexplained", Evidence(why))], [], symptoms)
        early = too_short(run)
        if early:
            return Diagnosis("too_short", [Found("too_short", Evidence(early))], [], symptoms)
        return Diagnosis("healthy", [], [], symptoms)
    _, signs = _explained(found[0].id)
    consequences = [f for f in symptoms if f.rule in signs]
    return Diagnosis(found[0].id, found, consequences, [f for f in symptoms if f not in consequences])


def text_lines(run: dict, diagnosis: Diagnosis) -> list[str]:
    """The diagnosis as lines, cause first: its evidence, what follows from it, other causes, other findings."""
    if not diagnosis.causes:
        return [f.message for f in diagnosis.others]
    primary, *rest = diagnosis.causes
    head = "" if primary.id == "too_short" else "cause: "  # a verdict that names no cause
    lines = [f"**{head}{primary.title}** ({primary.id}): {primary.evidence}", *pointers(run, primary)]
    shown = {primary.evidence}
    restated = {s for c in diagnosis.causes if c.id in CAUSES for s in CAUSES[c.id].restates}
    for f in diagnosis.consequences:
        if f.message not in shown and f.rule not in restated:
            lines.append(f"as a result: {f.message}")
            shown.add(f.message)
    explained = CAUSES[primary.id].explains if primary.id in CAUSES else frozenset()
    for c in rest:
        if c.evidence not in shown:
            lines.append(f"{'as a result' if c.id in explained else 'also'}: {c.title} ({c.id}): {c.evidence}")
            shown.add(c.evidence)
    return lines + [f.message for f in diagnosis.others if f.message not in shown and f.rule not in restated]


def pointers(run: dict, found: Found) -> list[str]:
    """Where the cause is in the user's code and what to write instead; where the record cannot know the line (its
    own experiment, a framework's loop), said so for the causes whose fix is in the code, data or schedule."""
    cause = CAUSES.get(found.id)
    out = []
    if found.where:
        out.append("where: " + "; ".join(str(w) for w in found.where))
    elif cause is not None and cause.fix in ("code", "data", "schedule") and unknown(run):
        out.append(f"where: not known ({unknown(run)})")
    if found.remedy:
        out.append(f"fix: {found.remedy}")
    return out


def stopped(run: dict) -> str | None:
    """An interrupted or failed run's state, said first: its diagnosis covers only the epochs it finished."""
    if run.get("status") not in ("interrupted", "failed"):
        return None
    kept, planned = len(run.get("history") or []), ((run.get("config") or {}).get("train") or {}).get("epochs")
    return (f"{run['status']} after epoch {kept}" + (f" of {planned}" if planned else "")
            + (f" ({run['error']})" if run.get("error") else "")
            + (": diagnosed on the finished epochs" if kept else ": no epoch finished, nothing to diagnose"))


def lines(run: dict, diagnosis: Diagnosis) -> list[str]:
    """text_lines, or the healthy run's key numbers where nothing was found; then what the record says of its own
    measurement (frozen layers, a watch that turned itself off). An interrupted or failed run says so first."""
    state = stopped(run)
    if state and not run.get("history"):
        return [state]
    found = text_lines(run, diagnosis)
    if not diagnosis.causes:  # every run gets a verdict, also one with findings that did not harm it
        missing = unmeasured(run)  # never "healthy" on what was not measured
        found = [f"no cause found in what was measured; not measured: {'; '.join(missing)}" if missing else
                 healthy_summary(run, harmless=bool(found)), *found]
    return ([state] if state else []) + found + notes(run, blamed=tuple(c.id for c in diagnosis.causes))


def notes(run: dict, blamed: tuple = ()) -> list[str]:
    """blamed: the diagnosis's causes; where the freezing is one of them, it is not called on purpose."""
    frozen = ((run.get("config") or {}).get("model") or {}).get("frozen") or []
    found = [f"frozen: {', '.join(frozen)} (requires_grad=False: not trained, on purpose; not a fault)"] \
        if frozen and "frozen_model" not in blamed else []
    if run.get("kind") == "watched":  # what the causes were asked of: those of other tasks stay silent
        loss = ((run.get("config") or {}).get("loss") or {}).get("name")
        found.insert(0, f"task: {task(run)} (the loss the program trains with: {loss or 'none seen'})")
    off = run.get("watch_error")
    if off:
        found.append(f"scalediag.watch stopped measuring at step {off.get('step')} ({off.get('error')}): the epochs "
                     f"after it carry the numbers the loop gave, no measurements")
    return found


def diagnosed(run: dict) -> Diagnosis:
    """The run's diagnosis with its text, as Markdown bullets."""
    found = explain(run)
    found.text = "\n".join(f"- {line}" for line in lines(run, found))
    return found


def diagnose_dir(log_dir) -> Diagnosis:
    """The diagnosis of the record in log_dir, with its text: what scalediag.diagnose returns."""
    return diagnosed(read(Path(log_dir) / METRICS))


def run_text(run: dict) -> str:
    """The run's own diagnosis as Markdown bullets (TensorBoard's Text dashboard, the end of a single run)."""
    return diagnosed(run).text
