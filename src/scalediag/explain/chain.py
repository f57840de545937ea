"""The diagnosis as a chain: the causes that hold (causes.py; the program's bugs, bugs.py; the data's and the
schedule's, schedule.py), tried upstream first so that the first is the one the others follow from; the symptoms
(rules.py) it explains shown as its consequences; the rest after them. A failing run without a cause is
`unexplained` (unexplained.py), never healthy."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import bugs, schedule
from .causes import FROM_SYMPTOMS, TESTS
from .rules import Finding, diagnose, healthy_summary
from .unexplained import unexplained

# the program's own bugs first (bugs.py): each is structural, and what follows from it looks like the causes after
# it; then the data's and the schedule's (schedule.py), then the configuration's; overfitting last: the others fail
ORDER = ("grad_cleared", "not_optimized", "no_gradient", "grad_accumulation", "batch_mixing", "eval_mode",
         "output_activation", "double_softmax", "missing_activation", "preprocessing_mismatch", "lr_schedule",
         "grad_clip", "weight_decay", "unshuffled", "bad_init", "input_scale", "eps_dominates", "labels_misaligned",
         "label_noise", "lr_too_high", "lr_too_low", "probability_clip", "vanishing_gradient", "saturation",
         "dead_units", "overfitting", "diverged")
ALL_TESTS = {**TESTS, **bugs.TESTS, **schedule.TESTS}
TITLES = {"double_softmax": "softmax applied twice", "bad_init": "weights initialised off scale",
          "input_scale": "inputs off the scale the weights were initialised for", "label_noise": "noisy labels",
          "eps_dominates": "Adam's eps dominates its step", "lr_too_high": "learning rate too large",
          "lr_too_low": "learning rate too small", "probability_clip": "samples stuck at the probability clip",
          "vanishing_gradient": "vanishing gradient", "saturation": "saturated activations",
          "dead_units": "dead units", "diverged": "diverged", "healthy": "healthy", "unexplained": "unexplained",
          **bugs.TITLES, **schedule.TITLES}
# symptom rule (rules.py) -> the cause id it is the sign of, where a cause explains it
SIGN_OF = {"init_loss": "input_scale", "preact_scale": "input_scale", "dead_units": "dead_units",
           "saturated": "saturation", "gradient_flow": "vanishing_gradient", "clip_plateau": "probability_clip",
           "overconfident": "probability_clip", "update_ratio": "lr_too_low", "eps_dominates": "eps_dominates",
           "no_gradient": "vanishing_gradient"}
# what each upstream cause explains downstream (its consequences): symptom rules and cause ids
DOWNSTREAM = {"dead_units", "saturated", "gradient_flow", "update_ratio", "no_gradient", "clip_plateau",
              "overconfident", "probability_clip", "vanishing_gradient", "saturation", "diverged"}
EXPLAINS = {
    "grad_cleared": DOWNSTREAM | {"lr_too_low", "labels_misaligned", "no_gradient"},
    "not_optimized": DOWNSTREAM | {"lr_too_low"},
    "no_gradient": DOWNSTREAM | {"lr_too_low"},
    "grad_accumulation": DOWNSTREAM | {"lr_too_high", "lr_too_low", "eps_dominates"},
    "batch_mixing": DOWNSTREAM | {"lr_too_low", "label_noise", "missing_activation"},
    "eval_mode": DOWNSTREAM | {"label_noise"},
    "output_activation": DOWNSTREAM | {"lr_too_low", "lr_too_high", "init_loss", "missing_activation"},
    "missing_activation": DOWNSTREAM | {"lr_too_low"},
    "preprocessing_mismatch": {"overfitting"},
    "lr_schedule": DOWNSTREAM | {"lr_too_low", "eps_dominates"},
    "grad_clip": DOWNSTREAM | {"lr_too_low"},
    "weight_decay": DOWNSTREAM | {"lr_too_low", "lr_too_high", "labels_misaligned", "bad_init"},
    "unshuffled": DOWNSTREAM | {"label_noise", "lr_too_high", "labels_misaligned"},
    "labels_misaligned": DOWNSTREAM | {"lr_too_low", "label_noise", "overfitting"},
    "double_softmax": {"update_ratio", "gradient_flow", "no_gradient"},
    "bad_init": DOWNSTREAM | {"init_loss", "preact_scale"},
    "input_scale": DOWNSTREAM | {"init_loss", "preact_scale", "eps_dominates", "lr_too_low"},
    "label_noise": {"overconfident"},
    "eps_dominates": {"eps_dominates", "update_ratio", "lr_too_low"},
    "lr_too_high": DOWNSTREAM,
    "lr_too_low": {"update_ratio"},
    "probability_clip": {"clip_plateau", "overconfident", "update_ratio", "no_gradient"},
    "vanishing_gradient": {"gradient_flow", "no_gradient", "update_ratio"},
    "saturation": {"saturated", "gradient_flow", "no_gradient", "vanishing_gradient"},
    "dead_units": {"dead_units", "gradient_flow", "no_gradient", "update_ratio", "vanishing_gradient"},
}


@dataclass(frozen=True)
class Cause:
    id: str
    evidence: str  # the measured numbers that tell this cause from its look-alikes, with their thresholds

    @property
    def title(self) -> str:
        return TITLES[self.id]


@dataclass
class Diagnosis:
    cause: str  # the primary cause's id, or "healthy"
    causes: list[Cause]  # every cause that holds, primary first
    consequences: list[Finding] = field(default_factory=list)  # symptoms the primary cause explains
    others: list[Finding] = field(default_factory=list)  # symptoms it does not

    @property
    def ids(self) -> str:
        return ";".join(c.id for c in self.causes) or "healthy"


def explain(run: dict, symptoms: list[Finding] | None = None) -> Diagnosis:
    """The run's causes in ORDER (the first is primary) and its symptoms split into what the primary cause explains
    and the rest. symptoms: rules.diagnose(run) and any comparison findings; computed here when not given."""
    symptoms = diagnose(run) if symptoms is None else symptoms
    found = []
    for cause in ORDER:
        test = ALL_TESTS.get(cause)
        evidence = test(run) if test else FROM_SYMPTOMS[cause](run, symptoms)
        if evidence:
            found.append(Cause(cause, evidence))
    if found and found[0].id != "diverged" and found[-1].id == "diverged":
        found.pop()  # a divergence whose cause the evidence shows is that cause's consequence
    if not found:
        why = unexplained(run)
        if why:
            return Diagnosis("unexplained", [Cause("unexplained", why)], [], symptoms)
        return Diagnosis("healthy", [], [], symptoms)
    explained = EXPLAINS.get(found[0].id, set()) | {found[0].id}
    consequences = [f for f in symptoms if f.rule in explained or SIGN_OF.get(f.rule) in explained]
    return Diagnosis(found[0].id, found, consequences, [f for f in symptoms if f not in consequences])


def text_lines(run: dict, diagnosis: Diagnosis) -> list[str]:
    """The diagnosis as lines, cause first: its evidence, what follows from it, other causes, other findings."""
    if not diagnosis.causes:
        return [f.message for f in diagnosis.others]
    primary, *rest = diagnosis.causes
    lines = [f"**cause: {primary.title}** ({primary.id}): {primary.evidence}"]
    shown = {primary.evidence}
    for f in diagnosis.consequences:
        if f.message not in shown:
            lines.append(f"as a result: {f.message}")
            shown.add(f.message)
    explained = EXPLAINS.get(primary.id, set())
    for c in rest:
        if c.evidence not in shown:
            lines.append(f"{'as a result' if c.id in explained else 'also'}: {c.title} ({c.id}): {c.evidence}")
            shown.add(c.evidence)
    return lines + [f.message for f in diagnosis.others if f.message not in shown]


def lines(run: dict, diagnosis: Diagnosis) -> list[str]:
    """text_lines, or the healthy run's key numbers where nothing was found; then what the record says of its own
    measurement (frozen layers, a watch that turned itself off)."""
    return (text_lines(run, diagnosis) or [healthy_summary(run)]) + notes(run)


def notes(run: dict) -> list[str]:
    frozen = ((run.get("config") or {}).get("model") or {}).get("frozen") or []
    found = [f"frozen: {', '.join(frozen)} (requires_grad=False: not trained, on purpose; not a fault)"] \
        if frozen else []
    off = run.get("watch_error")
    if off:
        found.append(f"scalediag.watch stopped measuring at step {off.get('step')} ({off.get('error')}): the epochs "
                     f"after it carry the numbers the loop gave, no measurements")
    return found


def run_text(run: dict) -> str:
    """The run's own diagnosis as Markdown bullets (TensorBoard's Text dashboard, the end of a single run)."""
    return "\n".join(f"- {line}" for line in lines(run, explain(run)))
