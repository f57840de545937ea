"""Missing activation: a weight layer fed straight by another's output, so the pair computes one linear map."""

from __future__ import annotations

from ..facts import program
from .base import DOWNSTREAM, DOWNSTREAM_SIGNS, Cause, Evidence


class MissingActivation(Cause):
    id, title, fix, location = "missing_activation", "missing activation between layers", "code", "activation"
    explains, signs = DOWNSTREAM | {"lr_too_low"}, DOWNSTREAM_SIGNS

    def test(self, run, symptoms):
        pairs = program(run).get("missing_activation") or []
        if not pairs:
            return None
        shown = "; ".join(f"{a} feeds {b} directly" for a, b in pairs)
        return Evidence(
            f"{shown}, with nothing nonlinear between them (the second's input is the first's output, reshaped at "
            f"most, seen on the probe): each such pair computes one linear map, so the stack is no deeper than a "
            f"single layer (an activation missing in forward?)", len(pairs), 0, values={"pairs": pairs})
