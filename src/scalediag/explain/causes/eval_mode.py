"""Trained in eval mode: Dropout or BatchNorm in eval mode while the optimizer steps (model.train() not called
again after an evaluation)."""

from __future__ import annotations

from ..facts import epoch_of, program
from ..where import name, site, source
from .base import DOWNSTREAM, DOWNSTREAM_SIGNS, Cause, Evidence, Threshold


class EvalMode(Cause):
    id, title, fix, location = "eval_mode", "trained in eval mode", "code", "training_loop"
    preflight = True
    explains, signs = DOWNSTREAM | {"label_noise"}, DOWNSTREAM_SIGNS
    # measured steps in eval mode: two, so that one step between a toggle is not a verdict
    EVAL_STEPS = Threshold(2, "0 in the 24 healthy program shapes of tests/test_watch_programs.py")

    def where(self, run, evidence):
        return (source(run, "eval_call", "the .eval() left in force", last=True, most=1)
                + site(run, "trained_in_eval", "a training step taken in eval mode")
                + source(run, "train_call", "the only .train()", most=1))

    def remedy(self, run, evidence):
        model = name(run, "model", "model")
        found = source(run, "eval_call", "", last=True, most=1)
        return (f"call `{model}.train()` at the start of each epoch's training, after the evaluation"
                + (f" (whose `.eval()` is at line {found[0].line})" if found else ""))

    def test(self, run, symptoms):
        found = program(run).get("eval_mode") or {}
        steps, measured = found.get("steps") or [], program(run).get("measured_steps") or 0
        if len(steps) < self.EVAL_STEPS:
            return None
        kinds = sorted(set((found.get("modules") or {}).values()))
        first, last = epoch_of(run, steps[0]), epoch_of(run, steps[-1])
        when = (f"epochs {first}-{last}" if first != last else f"epoch {first}") if first else \
            f"steps {steps[0]}-{steps[-1]}"
        effects = [e for kind, e in (("Dropout", "Dropout off"), ("BatchNorm", "BatchNorm's statistics frozen"))
                   if any(k.startswith(kind) for k in kinds)]
        return Evidence(
            f"{when} trained in eval mode: {len(steps)} of the {measured} measured optimizer steps "
            f"({len(steps) / max(1, measured):.0%}), from step {steps[0]} on, ran with {', '.join(kinds)} in eval "
            f"mode ({', '.join(effects)}; threshold {self.EVAL_STEPS} steps, healthy 0): model.train() is not called "
            f"again after an evaluation", len(steps), self.EVAL_STEPS, values={"first_step": steps[0]})
