"""Causes that a symptom (rules.py) establishes on its own: Adam's eps above sqrt(v), samples stuck at the
probability clip, saturated activations, dead units. Their evidence is the symptom's."""

from __future__ import annotations

from ... import tags
from ..facts import last_diag
from ..rules import DEAD_MAX
from .base import CLASSES_ONLY, Cause, Evidence


class _FromSymptom(Cause):
    rules: tuple = ()  # the symptoms whose findings are this cause's evidence

    def test(self, run, symptoms):
        found = [f for f in symptoms if f.rule in self.rules]
        if not found:
            return None
        worst = max(found, key=lambda f: f.value)
        return Evidence("; ".join(f.message for f in found), worst.value, worst.threshold)


class EpsDominates(_FromSymptom):
    id, title, fix, location = "eps_dominates", "Adam's eps dominates its step", "configuration", "optimizer"
    explains, signs = frozenset({"eps_dominates", "lr_too_low"}), frozenset({"eps_dominates", "update_ratio"})
    shown_by = frozenset({"eps_dominates"})
    rules = ("eps_dominates",)

    def test(self, run, symptoms):  # the first finding: the other ones are the layers whose gradients vanished
        found = next((f for f in symptoms if f.rule == "eps_dominates"), None)
        return Evidence(found.message, found.value, found.threshold) if found else None


class ProbabilityClip(_FromSymptom):
    id, title, fix, location = ("probability_clip", "samples stuck at the probability clip", "configuration",
                                "loss")
    signs = frozenset({"clip_plateau", "overconfident", "update_ratio", "no_gradient"})
    shown_by = frozenset({"clip_plateau", "overconfident"})
    rules = ("clip_plateau",)
    tasks = CLASSES_ONLY  # Keras' clamp of the class probabilities


class Saturation(_FromSymptom):
    id, title, fix, location = "saturation", "saturated activations", "model", "activation"
    signs = frozenset({"saturated", "gradient_flow", "no_gradient"})
    shown_by = frozenset({"saturated"})
    rules = ("saturated",)
    # a gradient that vanishes over 4+ layers is the stack's fault (depth with a saturating activation); the
    # saturated layers are where it shows
    after = ("vanishing_gradient",)


class DeadUnits(_FromSymptom):
    id, title, fix, location = "dead_units", "dead units", "model", "activation"
    explains = frozenset({"dead_units"})
    signs = frozenset({"dead_units", "gradient_flow", "no_gradient", "update_ratio"})
    shown_by = frozenset({"dead_units"})
    rules = ("dead_units",)
    after = ("vanishing_gradient", "saturation")  # as for saturation; a saturated unit is also counted dead

    def near(self, run, symptoms):
        last = last_diag(run)
        dead = [last.get(tags.dead(h)) or 0.0 for h in tags.hidden_layers(last)]
        if not dead:
            return None
        return Evidence(f"dead_units: {max(dead):.0%} of a layer's units dead (threshold {DEAD_MAX:.0%})", max(dead),
                        DEAD_MAX)
