"""The learning rate too large (the loss rises, the first steps move the weights by a large share) or too small
(every layer moves by a tiny share per step while its gradient is there and the loss is still high)."""

from __future__ import annotations

import math

from ... import tags
from ..facts import against_classes, classes, early_ratios, failing, final, last_diag, layer_name, number
from ...record import by_hand
from ..where import name, source, update_by_hand
from .base import DOWNSTREAM, DOWNSTREAM_SIGNS, Cause, Evidence, Threshold


def _construction(run: dict) -> list:
    if by_hand(run):
        return update_by_hand(run)
    return source(run, "optimizer_built", "the optimizer's construction, its lr", most=1)


def _change_lr(run: dict, way: str) -> str:
    """The fix of a learning rate too large or too small, in the program's name for its optimizer."""
    if by_hand(run):
        found = update_by_hand(run)
        return f"{way} the learning rate the update" + (f" at line {found[0].line}" if found else "") + \
            " multiplies the gradient by, by 10x to start with"
    opt = name(run, "optimizer", "optimizer")
    lr = ((run.get("config") or {}).get("optimizer") or {}).get("lr")
    return f"{way} the learning rate in `{opt}`'s construction" + (f" (now {lr:g})" if isinstance(lr, float) else "") \
        + ", by 10x to start with"


class LrTooHigh(Cause):
    id, title, fix, location = "lr_too_high", "learning rate too large", "configuration", "lr"
    preflight = True
    explains, signs = DOWNSTREAM, DOWNSTREAM_SIGNS
    # each makes the first steps' ||dw||/||w|| large without a learning rate at fault: weights near 0 (a ratio over
    # a tiny norm), raw inputs (large gradients), labels that carry nothing (a failing run whose steps are 0.1-0.5,
    # which labels_misaligned accepts as healthy)
    after = ("bad_init", "input_scale", "labels_misaligned")
    EARLY_RATIO_MAX = Threshold(0.1, "an early step's ||dw||/||w||: Adam at lr 1e-3 gives 0.02 at step 1; 10x the "
                                     "healthy range's top")

    def where(self, run, evidence):
        return _construction(run)

    def remedy(self, run, evidence):
        return _change_lr(run, "lower")

    def test(self, run, symptoms):
        init, rows = run.get("init") or {}, run.get("early") or {}
        start = init.get(tags.LOSS_INIT)
        history = run.get("history") or []
        losses = [(f"step {s}", number(r[tags.LOSS_TRAIN_STEP])) for s, r in rows.items() if tags.LOSS_TRAIN_STEP in r]
        losses += [("epoch 1", history[0]["train_loss"])] if history and history[0].get("train_loss") is not None \
            else []
        rose = [(where, v) for where, v in losses if start is not None and not v <= max(2 * start, start + 1)]
        big = [(s, layer, v) for s, layer, v in early_ratios(run) if not v <= self.EARLY_RATIO_MAX]
        harm = failing(run)
        if not rose and not (big and harm):
            return None
        parts, value = [], None
        if rose:
            where, v = max(rose, key=lambda wv: wv[1] if math.isfinite(wv[1]) else math.inf)
            parts.append(f"the training loss rose from {start:.3g} at init to {v:.4g} ({where})")
        if big:
            s, layer, value = max(big, key=lambda t: t[2] if math.isfinite(t[2]) else math.inf)
            parts.append(f"the first steps moved the weights by ||dw||/||w|| = {value:.3g} "
                         f"({layer_name(run, layer)}, step {s}; "
                         f"threshold {self.EARLY_RATIO_MAX:g}, 1e-3 is typical)")
        return Evidence("; ".join(parts) + (f"; {harm}" if harm else ""), value, self.EARLY_RATIO_MAX,
                        values={"rose": rose[:1]})

    def near(self, run, symptoms):
        early = [v for _, _, v in early_ratios(run)]
        if not early:
            return None
        return Evidence(f"lr_too_high: largest early ||dw||/||w|| {max(early):.2g} (threshold "
                        f"{self.EARLY_RATIO_MAX:g})", max(early), self.EARLY_RATIO_MAX)


class LrTooLow(Cause):
    id, title, fix, location = "lr_too_low", "learning rate too small", "configuration", "lr"
    signs = frozenset({"update_ratio"})
    shown_by = frozenset({"update_ratio"})
    # every layer's per-step ||dw||/||w|| below this in the last epoch: the steps are too small
    RATIO_MIN = Threshold(1e-4, "about 1e-3 in healthy runs (rules.UPDATE_RATIO_RANGE's centre)")
    # final training loss below this x ln(classes): small steps may just mean it has converged
    LEARNED_LOSS = Threshold(0.2, "a converged SGD run's small steps at a low loss are healthy")

    def where(self, run, evidence):
        return _construction(run)

    def remedy(self, run, evidence):
        return _change_lr(run, "raise")

    def test(self, run, symptoms):
        last = last_diag(run)
        ratios = {layer: v for layer in tags.layers(last) if (v := last.get(tags.update_ratio(layer))) is not None}
        if not ratios or max(ratios.values()) >= self.RATIO_MIN or min(ratios.values()) <= 0:
            return None  # a ratio of 0 is no gradient, not a small learning rate
        grads = [last.get(tags.grad_norm(layer)) for layer in ratios]
        if any(g is not None and g <= 0 for g in grads):
            return None
        loss = final(run).get("train_loss")
        if loss is None:  # a watched run without train_loss: the probe set's
            loss = last.get(tags.LOSS_PROBE)
        if not against_classes(run):  # no ln C to judge the loss by: only where it did not fall at all
            if failing(run) is None:
                return None
            learned = None
        else:
            learned = self.LEARNED_LOSS * math.log(classes(run))
            if loss is not None and loss <= learned:
                return None
        shown = ", ".join(f"{layer_name(run, layer)} {v:.2g}" for layer, v in ratios.items())
        return Evidence(
            f"every layer moves by less than {self.RATIO_MIN:g} of its weights per step in the last epoch "
            f"(||dw||/||w||: {shown}; about 1e-3 is typical) while its gradient is present, and the training loss is "
            "still " + (f"{loss:.3g} (above {learned:.2f}, {self.LEARNED_LOSS} x ln C)" if learned and loss is not None
                        else failing(run) or "unknown"), max(ratios.values()), self.RATIO_MIN, above=False)

    def near(self, run, symptoms):
        last = last_diag(run)
        ratios = [v for layer in tags.layers(last) if (v := last.get(tags.update_ratio(layer)))]
        if not ratios:
            return None
        return Evidence(f"lr_too_low: largest ||dw||/||w|| {max(ratios):.2g} in the last epoch (threshold "
                        f"{self.RATIO_MIN:g})", max(ratios), self.RATIO_MIN, above=False)
