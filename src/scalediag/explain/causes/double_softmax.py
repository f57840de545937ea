"""Softmax applied twice: outputs that are already probabilities fed to a loss that applies its own softmax."""

from __future__ import annotations

import math

from ... import tags
from ..facts import classes, final, loss_reads_logits, softmax_floor
from ..where import in_forward, source
from .base import CLASSES_ONLY, Cause, Evidence, Threshold


class DoubleSoftmax(Cause):
    id, title, fix, location = "double_softmax", "softmax applied twice", "code", "loss"
    preflight = True
    tasks = CLASSES_ONLY
    signs = frozenset({"update_ratio", "gradient_flow", "no_gradient"})
    PROBS_SUM_DEV = Threshold(1e-3, "a softmax's rows sum to 1 within 1e-7; logits' rows are off by whole units")

    def where(self, run, evidence):
        softmax = in_forward(run, r"\bsoftmax\(|\bSoftmax\(", "a softmax in forward", last=True) or \
            source(run, "softmax", "a softmax between the model and the loss", most=1)
        return softmax + source(run, "cross_entropy", "a loss that applies its own softmax", most=1)

    def remedy(self, run, evidence):
        found = in_forward(run, r"\bsoftmax\(|\bSoftmax\(", "", last=True) or source(run, "softmax", "", most=1)
        return ("remove the softmax" + (f" at line {found[0].line}" if found else " at the end of forward")
                + ": cross_entropy applies log-softmax itself (or keep `log_softmax` and use `nll_loss`)")

    def test(self, run, symptoms):
        if not loss_reads_logits(run):  # the premise: a loss that applies a softmax of its own consumed them
            return None
        init, fed = run.get("init") or {}, run.get("loss_input") or {}  # the model's outputs; what the loss consumed
        found = [(init.get(tags.LOGITS_MIN), init.get(tags.LOGITS_MAX), init.get(tags.LOGITS_SUM_DEV),
                  "the model's outputs"),
                 (fed.get("min"), fed.get("max"), fed.get("sum_dev"), "the loss's inputs (after the model)")]
        found = [f for f in found if None not in f[:3] and f[0] >= 0 and f[1] <= 1 and f[2] <= self.PROBS_SUM_DEV]
        if not found:
            return None
        low, high, dev, what = found[0]
        c = classes(run)
        floor = softmax_floor(c, 0, 1)
        loss = final(run).get("train_loss")
        return Evidence(
            f"{what} are already probabilities (between {low:.2g} and {high:.2g}, each row summing to "
            f"1 within {dev:.1g}; threshold {self.PROBS_SUM_DEV:g}), and the loss applies a softmax of its own: no "
            f"class can get a probability above e/(e+{c - 1}) = {math.exp(-floor):.2f}, so the loss cannot fall "
            f"below {floor:.2f}" + (f" (final training loss {loss:.3f})" if loss is not None else ""),
            dev, self.PROBS_SUM_DEV, above=False, values={"floor": floor, "low": low, "high": high})
