"""Missing activation: a weight layer fed straight by another's output, so the pair computes one linear map."""

from __future__ import annotations

from ..facts import program
import re

from ..where import in_forward
from .base import DOWNSTREAM, DOWNSTREAM_SIGNS, Cause, Evidence


class MissingActivation(Cause):
    id, title, fix, location = "missing_activation", "missing activation between layers", "code", "activation"
    preflight = True
    explains, signs = DOWNSTREAM | {"lr_too_low"}, DOWNSTREAM_SIGNS

    def where(self, run, evidence):
        found = []
        for first, second in (evidence.values or {}).get("pairs") or []:
            a, b = (re.escape(n.rsplit(".", 1)[-1]) for n in (first, second))
            found += in_forward(run, rf"\b{b}\b.*\b{a}\b|\b{a}\b(?!.*\b{b}\b)",
                                f"{first} feeds {second} with no activation between", most=1)
        return list(dict.fromkeys(found))[:2]

    def remedy(self, run, evidence):
        pairs = (evidence.values or {}).get("pairs") or []
        shown = " and ".join(f"{a} and {b}" for a, b in pairs[:2])
        return (f"put a nonlinearity (e.g. `F.relu`) between {shown or 'the layers in a row'}: two linear layers "
                "in a row compute one linear map")

    def test(self, run, symptoms):
        pairs = program(run).get("missing_activation") or []
        if not pairs:
            return None
        shown = "; ".join(f"{a} feeds {b} directly" for a, b in pairs)
        return Evidence(
            f"{shown}, with nothing nonlinear between them (the second's input is the first's output, reshaped at "
            f"most, seen on the probe): each such pair computes one linear map, so the stack is no deeper than a "
            f"single layer (an activation missing in forward?)", len(pairs), 0, values={"pairs": pairs})
