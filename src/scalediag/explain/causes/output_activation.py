"""An activation on the output: a ReLU, sigmoid or tanh between the last layer and a loss that applies a softmax."""

from __future__ import annotations

import math

from ... import tags
from ..facts import classes, final, loss_reads_logits, softmax_floor
from ..where import in_forward, source

CALLS = {"relu": r"\brelu\(|\bReLU\(", "sigmoid": r"\bsigmoid\(|\bSigmoid\(", "tanh": r"\btanh\(|\bTanh\("}
from .base import CLASSES_ONLY, DOWNSTREAM, DOWNSTREAM_SIGNS, Cause, Evidence, Threshold

def _bounds(row: dict) -> tuple[float, float, float, float] | None:
    values = [row.get(tags.LOGITS_MIN), row.get(tags.LOGITS_MAX), row.get(tags.LOGITS_SUM_DEV),
              row.get(tags.LOGITS_ZEROS)]
    return None if None in values else tuple(values)


class OutputActivation(Cause):
    id, title, fix, location = "output_activation", "an activation on the output", "code", "activation"
    preflight = True
    tasks = CLASSES_ONLY
    explains = DOWNSTREAM | {"lr_too_low", "lr_too_high", "missing_activation"}
    signs = DOWNSTREAM_SIGNS | {"init_loss"}
    RELU_ZEROS = Threshold(0.2, "share of the outputs exactly 0 at init: healthy logits are never exactly 0")
    TANH_PRESSED = Threshold(0.9, "the last epoch's smallest and largest output beyond -0.9 and 0.9, never beyond "
                                  "-1 and 1: an untrained healthy network's logits are small, a trained one's pass 1")
    PROBS_SUM_DEV = Threshold(1e-3, "rows summing to 1 within this are a softmax's (double_softmax), not a sigmoid's")
    SIGMOID_HIGH = Threshold(0.25, "the largest output at init at least this: a sigmoid's at init 0.58-0.76 here; a "
                                   "BERT's classifier at init within [0.0006, 0.0088]")

    def where(self, run, evidence):
        kind = (evidence.values or {}).get("kind")
        return (in_forward(run, CALLS.get(kind, "|".join(CALLS.values())), "the activation on the output", last=True)
                + source(run, "cross_entropy", "the loss, which applies its own softmax", most=1))

    def remedy(self, run, evidence):
        kind = (evidence.values or {}).get("kind") or "activation"
        found = self.where(run, evidence)
        return (f"return the last layer's output as it is: remove the {kind} after it"
                + (f" (line {found[0].line})" if found and "loss" not in found[0].role else "")
                + "; the loss expects logits and applies its own softmax")

    def test(self, run, symptoms):
        if not loss_reads_logits(run):  # the premise: a loss that expects logits
            return None
        init = _bounds(run.get("init") or {})
        history = run.get("history") or []
        last = _bounds((history[-1].get("diag") or {}) if history else {})
        if init is None:
            return None
        c, (low, high, dev, zeros) = classes(run), init
        if low >= 0 and dev <= self.PROBS_SUM_DEV:
            return None  # rows that sum to 1 are a softmax's (double_softmax), exact zeros its underflow
        loss = final(run).get("train_loss")
        said = f" (final training loss {loss:.3f})" if loss is not None else ""
        # before the sigmoid's test (a sigmoid never gives an exact 0); not all zero (zero-initialised weights)
        if low >= 0 and high > 0 and zeros >= self.RELU_ZEROS:
            return Evidence(
                f"{zeros:.0%} of the outputs the loss receives are exactly 0 at init and none is negative "
                f"(threshold {self.RELU_ZEROS:.0%}; healthy logits are never exactly 0): a ReLU on the output; a "
                f"class whose logit is cut to 0 passes no gradient, so wrong classes cannot be pushed below 0" + said,
                zeros, self.RELU_ZEROS, values={"kind": "relu"})
        # a sigmoid's outputs centre on 0.5 at init; logits merely small and all positive by chance are not one
        if low >= 0 and self.SIGMOID_HIGH <= high <= 1 and dev > self.PROBS_SUM_DEV:
            floor = softmax_floor(c, 0, 1)
            return Evidence(
                f"the outputs the loss receives lie in [{low:.2g}, {high:.2g}] at init, rows off 1 by up to "
                f"{dev:.2g}: a sigmoid on the output; a softmax over logits in [0, 1] gives no class more than "
                f"e/(e+{c - 1}) = {math.exp(-floor):.2f}, so the loss cannot fall below {floor:.2f}" + said,
                high, self.SIGMOID_HIGH, values={"kind": "sigmoid", "floor": floor})
        floor = softmax_floor(c, -1, 1)
        epochs = [b for h in history if (b := _bounds(h.get("diag") or {}))]
        # a tanh: never beyond [-1, 1], and pressed against both bounds once trained
        if epochs and all(-1 <= b[0] and b[1] <= 1 for b in [init, *epochs]) and last[0] <= -self.TANH_PRESSED and \
                last[1] >= self.TANH_PRESSED:
            return Evidence(
                f"the outputs the loss receives stay in [-1, 1] from init to the last epoch, pressed against both "
                f"bounds at its end ({last[0]:.3g} to {last[1]:.3g}; threshold {self.TANH_PRESSED:g}): a tanh on "
                f"the output; a softmax over logits in [-1, 1] gives no class more than {math.exp(-floor):.2f}, so "
                f"the loss cannot fall below {floor:.2f}" + (f" (final training loss {loss:.3f})" if loss else ""),
                min(-last[0], last[1]), self.TANH_PRESSED, values={"kind": "tanh", "floor": floor})
        return None
