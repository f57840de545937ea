"""Weight decay collapses the weights: lr x weight_decay summed over the run past 1, the weights' norm fallen far
below its value at step 1, and the run fails."""

from __future__ import annotations

import statistics

from ... import tags
from ..facts import failing, last_diag, layer_name, program
from ..where import name, source
from .base import DOWNSTREAM, DOWNSTREAM_SIGNS, Cause, Evidence, Threshold


class WeightDecay(Cause):
    id, title, fix, location = "weight_decay", "weight decay collapses the weights", "configuration", "optimizer"
    explains = DOWNSTREAM | {"lr_too_low", "lr_too_high", "labels_misaligned", "bad_init"}
    signs = DOWNSTREAM_SIGNS
    COLLAPSE = Threshold(0.2, "a layer's weight norm at the end against its norm at step 1: healthy 0.99-3.1")
    TOTAL = Threshold(1.0, "lr x weight_decay summed over the steps: the weights shrink by e^-this from decay alone")

    def where(self, run, evidence):
        return source(run, "optimizer_built", "the optimizer's construction, its weight_decay", most=1)

    def remedy(self, run, evidence):
        opt = name(run, "optimizer", "optimizer")
        return (f"lower weight_decay in `{opt}`'s construction: lr x weight_decay summed over the steps is "
                f"{(evidence.values or {}).get('summed', float('nan')):.3g}, and the weights shrink by e^-that "
                "from decay alone (AdamW's usual 0.01-0.1 at lr 1e-3 gives well under 1 over a run)")

    def test(self, run, symptoms):
        lr = program(run).get("lr") or {}
        decay = (lr.get("weight_decay") or [None])[0]
        values = [v[0] for v in lr.get("lr") or [] if v]
        total = run.get("steps") or 0
        if not decay or not values or not total:
            return None
        summed = statistics.mean(values) * decay * total
        first = (run.get("early") or {}).get("1") or {}
        last = last_diag(run)
        shrunk = {layer: last[tags.weight_norm(layer)] / first[tags.weight_norm(layer)]
                  for layer in tags.layers(first)
                  if first.get(tags.weight_norm(layer)) and last.get(tags.weight_norm(layer)) is not None}
        collapsed = {layer: r for layer, r in shrunk.items() if r < self.COLLAPSE}
        harm = failing(run)
        if summed < self.TOTAL or not collapsed or len(collapsed) < len(shrunk) / 2 or harm is None:
            return None
        shown = ", ".join(f"{layer_name(run, layer)} {r:.2g}" for layer, r in collapsed.items())
        per_step = statistics.mean(values) * decay
        return Evidence(
            f"weight decay shrinks the weights faster than the gradient moves them: their norm fell to {shown} of "
            f"its value at step 1 (threshold {self.COLLAPSE:g}), with lr x weight_decay = {per_step:.2g} per step "
            f"(weight_decay {decay:g}), {summed:.3g} over {total} steps (threshold {self.TOTAL:g}: e^-{summed:.3g} "
            f"from decay alone; AdamW's usual 1e-2 at lr 1e-3 is 1e-5 per step); {harm}",
            min(collapsed.values()), self.COLLAPSE, above=False, values={"summed": summed})
