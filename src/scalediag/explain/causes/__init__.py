"""The causes scalediag names, one object each (base.Cause), one module per cause or small family. The registry
finds them; their order, upstream first, comes from what each declares must be tried before it; check() says what
is inconsistent (tests/test_registry.py asserts it finds nothing)."""

from __future__ import annotations

import importlib
import pkgutil

from .base import FIXES, LOCATIONS, TASKS, Cause, Evidence, Threshold

__all__ = ["CAUSES", "ORDER", "Cause", "Evidence", "Threshold", "check", "fixed_in", "said"]


def _discover() -> dict[str, Cause]:
    found: dict[str, Cause] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Cause) and value.__module__ == module.__name__ and \
                    value.id:
                if value.id in found:
                    raise RuntimeError(f"cause {value.id!r} declared twice ({module.__name__})")
                found[value.id] = value()
    return found


def _order(causes: dict[str, Cause]) -> tuple[str, ...]:
    """A topological order of the edges: `after`, and each cause after those that explain it; among causes free at
    once, the one whose fix lies upstream (code before data before schedule ...), then by id, so that the order never
    depends on the files' order."""
    rank = {fix: i for i, fix in enumerate(FIXES)}
    waiting = {c.id: {a for a in c.after if a in causes} for c in causes.values()}
    for c in causes.values():  # a cause is tried after every cause that explains it
        for later in c.explains - {c.id}:
            waiting[later].add(c.id)
        if c.after_all:
            waiting[c.id] |= {i for i, other in causes.items() if not other.after_all}
    order: list[str] = []
    while waiting:
        free = sorted((rank.get(causes[i].fix, len(FIXES)), i) for i, deps in waiting.items() if not deps)
        if not free:
            raise RuntimeError(f"the causes' `after` edges form a cycle among {sorted(waiting)}")
        _, chosen = free[0]
        order.append(chosen)
        del waiting[chosen]
        for deps in waiting.values():
            deps.discard(chosen)
    return tuple(order)


CAUSES = _discover()
ORDER = _order(CAUSES)


def fixed_in(*fixes: str) -> tuple[str, ...]:
    """The causes whose fix lies in one of these places ("code": the program's bugs), in ORDER."""
    return tuple(i for i in ORDER if CAUSES[i].fix in fixes)


def said(cause_id: str, run: dict, symptoms: tuple = ()) -> str | None:
    """One cause's evidence on a run, as text, or None: its test alone, outside the chain, on the symptoms given
    (rules.diagnose(run) for those that read them)."""
    found = CAUSES[cause_id].test(run, list(symptoms))
    return found.text if found else None


def check(symptoms: frozenset[str]) -> list[str]:
    """Everything inconsistent in the registry: a missing title, fix, location or task set, an edge to an unknown
    cause, a symptom not among `symptoms` (rules.py's), a symptom that is the sign of two causes, a threshold
    without the healthy spread it was set from."""
    problems, shown = [], {}
    for c in CAUSES.values():
        where = f"{c.id} ({type(c).__module__})"
        if not c.title:
            problems.append(f"{where}: no title")
        if c.fix not in FIXES:
            problems.append(f"{where}: fix {c.fix!r} is not one of {FIXES}")
        if c.location is not None and c.location not in LOCATIONS:
            problems.append(f"{where}: location {c.location!r} is not one of {LOCATIONS}")
        if not c.tasks or not set(c.tasks) <= set(TASKS):
            problems.append(f"{where}: tasks {sorted(c.tasks)} not within {TASKS}")
        for edge, ids in (("after", c.after), ("explains", c.explains)):
            problems += [f"{where}: {edge} names unknown cause {i!r}" for i in ids if i not in CAUSES]
        for s in c.signs | c.shown_by | c.restates:
            if s not in symptoms:
                problems.append(f"{where}: unknown symptom {s!r}")
        for s in c.shown_by:
            if s in shown:
                problems.append(f"symptom {s!r} is the sign of both {shown[s]} and {c.id}")
            shown[s] = c.id
        if not c.restates <= c.signs | c.shown_by:
            problems.append(f"{where}: restates {sorted(c.restates - c.signs - c.shown_by)}, which are not its signs")
        for name, t in type(c).thresholds().items():
            if not getattr(t, "healthy", "").strip():
                problems.append(f"{where}: threshold {name} says nothing of the healthy runs it was set from")
        if type(c).test is Cause.test:
            problems.append(f"{where}: no test")
    if set(ORDER) != set(CAUSES):
        problems.append(f"causes without a place in the order: {sorted(set(CAUSES) - set(ORDER))}")
    return problems
