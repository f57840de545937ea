"""What a cause is: one object that declares where it applies, where its fix lives, what it explains, what must be
tried before it and its thresholds; its test reads a record and returns typed evidence, or nothing."""

from __future__ import annotations

from dataclasses import dataclass, field

from ... import tags
from ..facts import CLASSIFICATION, short, task
from ..where import site, source

FIXES = ("code", "data", "schedule", "configuration", "model")  # where the user changes something
# the fault benchmark's vocabulary of locations (DeepFD's and DeepDiagnosis's), which scoring reads
LOCATIONS = ("preprocessing", "lr", "optimizer", "init", "loss", "labels", "activation", "layers", "training_loop",
             "training_data")
TASKS = tags.TASKS  # what a run learns: classification, binary, regression, generative, unknown
CLASSES_ONLY = frozenset({CLASSIFICATION})  # a cause whose premise is classes: a softmax, labels, a class order
# what an upstream fault brings about downstream: the symptoms (rules.py) and the causes that read them
DOWNSTREAM_SIGNS = frozenset({"dead_units", "saturated", "gradient_flow", "update_ratio", "no_gradient",
                              "clip_plateau", "overconfident"})
DOWNSTREAM = frozenset({"dead_units", "probability_clip", "vanishing_gradient", "saturation", "diverged"})


class Threshold(float):
    """A cause's threshold: a number, with the healthy spread it was set from (value <op> threshold is the fault)."""

    def __new__(cls, value: float, healthy: str):
        self = super().__new__(cls, value)
        self.healthy = healthy
        return self

    def __str__(self) -> str:  # a count of steps reads "2", not "2.0"
        return str(int(self)) if float(self).is_integer() else float.__repr__(self)

    def __format__(self, spec: str) -> str:
        return str(self) if not spec else super().__format__(spec)


@dataclass(frozen=True)
class Evidence:
    """The numbers a cause rests on. value against threshold gives the closeness: 1 at the threshold, above 1 past
    it; `above` says which side is the fault. text is the sentence the report shows, made from these numbers."""

    text: str
    value: float | None = None
    threshold: float | None = None
    above: bool = True
    values: dict = field(default_factory=dict)  # the other measured numbers the text quotes

    @property
    def closeness(self) -> float | None:
        if self.value is None or not self.threshold:
            return None
        if self.above:
            return self.value / self.threshold
        return self.threshold / self.value if self.value else float("inf")


class Cause:
    """Subclass per cause, in a module of explain/causes/. test() returns Evidence where the cause holds; near()
    the same measured against the threshold where it can be measured at all (unexplained ranks them)."""

    id: str = ""
    title: str = ""
    fix: str = ""  # one of FIXES
    location: str | None = None  # one of LOCATIONS; None: a consequence, not a place to fix (diverged)
    tasks: frozenset = frozenset(TASKS)  # where it applies; on the other tasks it is silent
    explains: frozenset = frozenset()  # causes that follow from this one where it is primary
    signs: frozenset = frozenset()  # symptoms (rules.py) that follow from it
    shown_by: frozenset = frozenset()  # symptoms that are this cause's own sign, wherever it is explained
    restates: frozenset = frozenset()  # signs whose message says what its evidence says: not shown again under it
    after: tuple = ()  # causes tried before this one: their faults can show this one's evidence too
    after_all = False  # tried after every cause that is not: a consequence of any of them (diverged, overfitting)
    # its evidence shows in the first steps without the run's outcome (structure, the probe at entry, the measured
    # steps' gradients and modes): what `scalediag run --preflight` asks; the others need the full run
    preflight = False

    def applies(self, run: dict) -> bool:
        """On the run's task; and, on a run too short (or a pre-flight too early) to judge its outcome, only where its
        evidence needs no outcome (preflight)."""
        return task(run) in self.tasks and (self.preflight or not (short(run) or run.get("preflight")))

    def test(self, run: dict, symptoms: list) -> Evidence | None:
        raise NotImplementedError

    def near(self, run: dict, symptoms: list) -> Evidence | None:
        return None

    # where its fix goes, declared where no name of the program's is needed: ("source" | "site", key, what the line
    # is to it); a source key is one of measure.where.PATTERNS, a site one of the roles the hooks keep
    points_at: tuple = ()
    advice: str | None = None  # the fix, where it needs no name of the program's

    def where(self, run: dict, evidence: Evidence) -> list:
        """The user's lines this cause points at (explain/where.py's Locations, what each line is to it), from what
        the record keeps of the program; [] where it keeps none that matter."""
        found = []
        for kind, key, shown_as in self.points_at:
            found += source(run, key, shown_as, most=1) if kind == "source" else site(run, key, shown_as)
        return found

    def remedy(self, run: dict, evidence: Evidence) -> str | None:
        """One concrete sentence of what to change, in the program's own names where the record has them."""
        return self.advice

    @classmethod
    def thresholds(cls) -> dict[str, Threshold]:
        return {name: v for k in reversed(cls.__mro__) for name, v in vars(k).items() if isinstance(v, Threshold)}
