"""The schedule drove the learning rate to 0: it collapsed long before the run's end, and the run stalled."""

from __future__ import annotations

from ..facts import epoch_of, failing, history, program
from ..where import bare, source
from .base import DOWNSTREAM, DOWNSTREAM_SIGNS, Cause, Evidence, Threshold


class LrSchedule(Cause):
    id, title, fix, location = "lr_schedule", "the schedule drove the learning rate to 0", "schedule", "lr"
    explains, signs = DOWNSTREAM | {"lr_too_low", "eps_dominates"}, DOWNSTREAM_SIGNS | {"eps_dominates"}
    COLLAPSE = Threshold(1e-3, "lr below this x its largest so far; step decay by 10x twice gives 1e-2, warm-up "
                               "never falls")
    SOUND_END = Threshold(0.9, "before this share of the run: a cosine schedule reaches 0 only at the very end")
    STALLED = Threshold(0.02, "relative improvement of the training loss per epoch after the collapse")

    def where(self, run, evidence):
        return (source(run, "scheduler_step", "the scheduler's step()", most=1)
                + source(run, "scheduler_built", "the scheduler's construction", most=1))

    def remedy(self, run, evidence):
        steps = source(run, "scheduler_step", "", most=1)
        return ((f"`{bare(steps[0].code)}` runs" if steps else "the scheduler steps")
                + " more often than its decay was "
                "sized for: step it once per epoch (outside the batch loop), or size its decay for the number of "
                "optimizer steps")

    def test(self, run, symptoms):
        lr = program(run).get("lr") or {}
        rows = [(s, v[0]) for s, v in zip(lr.get("steps") or [], lr.get("lr") or []) if v]
        total = run.get("steps") or max((h.get("step") or 0 for h in run.get("history") or []), default=0)
        top, collapse = 0.0, None
        for step, value in rows:
            if top and value < self.COLLAPSE * top and step < self.SOUND_END * total:
                collapse = (step, value)
                break
            top = max(top, value)
        if collapse is None:
            return None
        step, value = collapse
        epoch, epochs = epoch_of(run, step), len(run.get("history") or [])
        after = [v for v in history(run, "train_loss")[(epoch or 1) - 1 :] if v is not None]
        gain = (after[0] - after[-1]) / after[0] / max(1, len(after) - 1) if len(after) > 1 and after[0] else 0.0
        harm = failing(run) or (f"the training loss stopped improving after it ({gain:.1%} per epoch; threshold "
                                f"{self.STALLED:.0%})" if gain < self.STALLED else None)
        if harm is None:
            return None
        return Evidence(
            f"the learning rate fell from {top:.3g} to {value:.2g} by step {step} (epoch {epoch} of {epochs}), "
            f"{step / total:.0%} into the run (threshold: below {self.COLLAPSE:g} x its largest before "
            f"{self.SOUND_END:.0%} of the steps; a cosine schedule reaches 0 only at the very end), and {harm}: the "
            f"scheduler, not the learning rate set, is what stalls the run (a per-epoch scheduler stepped every "
            f"batch?)", value / top, self.COLLAPSE, above=False, values={"step": step})
