"""Where zero_grad() is called: never (gradients accumulate over every step), or between backward() and step()
(every step finds its gradients cleared). Both read the gradients measure/program.py saw at the measured steps."""

from __future__ import annotations

from ... import tags
from ..facts import program
from ...record import by_hand
from ..where import name, site, source, update_by_hand
from .base import DOWNSTREAM, DOWNSTREAM_SIGNS, Cause, Evidence, Threshold


def loss_change(run: dict) -> str:
    history = [h["train_loss"] for h in run.get("history") or [] if h.get("train_loss") is not None]
    init = (run.get("init") or {}).get(tags.LOSS_INIT)
    start = init if init is not None else (history[0] if history else None)
    if start is None or not history:
        return ""
    return f"; the training loss went from {start:.3g} to {history[-1]:.3g}"


class GradCleared(Cause):
    id, title, fix, location = "grad_cleared", "gradients cleared before the step", "code", "training_loop"
    preflight = True
    explains = DOWNSTREAM | {"lr_too_low", "labels_misaligned", "no_gradient"}
    signs = DOWNSTREAM_SIGNS
    # measured steps whose gradients backward computed and the step found cleared
    CLEARED_STEPS = Threshold(2, "0 in the 24 healthy program shapes of tests/test_watch_programs.py")

    def where(self, run, evidence):
        steps = site(run, "backward", "backward") + site(run, "step", "the step")
        between = source(run, "zero_grad", "the zero_grad() between them", between=tuple(steps)) \
            if len(steps) == 2 else []
        return between or source(run, "zero_grad", "a zero_grad()") + steps

    def remedy(self, run, evidence):
        opt = name(run, "optimizer", "optimizer")
        found = self.where(run, evidence)
        return (f"move `{opt}.zero_grad()`" + (f" (line {found[0].line})" if found and "zero_grad" in found[0].code
                                                else "") + f" before the forward pass, or right after `{opt}.step()`")

    def test(self, run, symptoms):
        found = program(run).get("gradients") or {}
        if not found or not all(g.get("steps", 0) >= self.CLEARED_STEPS and g.get("cleared") == g["steps"]
                                for g in found.values()):
            return None
        steps = min(g["steps"] for g in found.values())
        return Evidence(
            f"every layer's gradient is computed by backward() and gone by optimizer.step(): at each of the {steps} "
            f"measured steps the backward pass reached every optimized weight, and at the step their .grad was None "
            f"or exactly 0 (threshold: every layer, every measured step, at least {self.CLEARED_STEPS}): zero_grad() "
            f"is called between backward() and step(), so no step moves a weight (zero the gradients before the "
            f"forward pass or right after the step)" + loss_change(run), steps, self.CLEARED_STEPS)


class GradAccumulation(Cause):
    id, title, fix, location = "grad_accumulation", "gradients never zeroed", "code", "training_loop"
    preflight = True
    explains = DOWNSTREAM | {"lr_too_high", "lr_too_low", "eps_dominates"}
    signs = DOWNSTREAM_SIGNS | {"eps_dominates"}
    # of the measured steps after the first, those whose first backward found a gradient
    STALE_SHARE = Threshold(0.5, "0 in the 24 healthy program shapes (accumulation over micro-batches included)")

    def where(self, run, evidence):
        if by_hand(run):
            return (site(run, "backward", "backward adds to the last step's .grad")
                    + update_by_hand(run, "the update, with no .grad cleared since the last")
                    + source(run, "grad_cleared_by_hand", "a .grad cleared, but not once per step", most=1))
        return (site(run, "backward", "backward adds to the last step's .grad")
                + site(run, "step", "the step, with no zero_grad() since the last")
                + source(run, "zero_grad", "a zero_grad() that does not run once per step", most=1))

    def remedy(self, run, evidence):
        if by_hand(run):
            update = update_by_hand(run)
            return "clear each parameter's gradient once per step, after the update" + \
                (f" at line {update[0].line}" if update else "") + " (`p.grad = None`, or `p.grad.zero_()`)"
        opt = name(run, "optimizer", "optimizer")
        back = site(run, "backward", "")
        return f"call `{opt}.zero_grad()` once per step, before" + \
            (f" the `backward()` at line {back[0].line}" if back else " each `backward()`") + \
            f" (or right after `{opt}.step()`)"

    def test(self, run, symptoms):
        stale = program(run).get("stale_gradient") or {}
        n, of, worst = stale.get("steps", 0), stale.get("of", 0), stale.get("worst")
        if not worst or n < 1 or n < self.STALE_SHARE * (of - 1):
            return None
        return Evidence(
            f"gradients are not zeroed between optimizer steps: at {n} of the {of} measured steps the step's first "
            f"backward found .grad still holding the earlier steps' gradients (norm {worst['before']:.3g} against a "
            f"new one of {worst['new']:.3g} at step {worst['step']}; zeroed, it holds exactly 0; threshold "
            f"{self.STALE_SHARE:.0%} of the steps): each step applies the sum of every gradient since the start "
            f"({'each p.grad cleared' if by_hand(run) else 'optimizer.zero_grad()'} once per step)" + loss_change(run),
            n / max(1, of - 1), self.STALE_SHARE)
