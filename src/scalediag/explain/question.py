"""The question's answer, from a sweep's own runs: where divisor 1 was trained with Keras' clamped loss (and with
the exact cross-entropy), what each ended at and why they differ. The first lines of such a sweep's report."""

from __future__ import annotations

import math
import statistics

from .. import tags
from ..record import experiment
from .facts import last_diag
from .rules import eps_text


def _ended(runs: list[dict], loss: str) -> tuple[float, float, float | None, int] | None:
    """(mean final training loss, test loss, clipped fraction, n) of the completed divisor-1 runs of a loss."""
    done = [r for r in runs if r.get("status") == "completed" and (experiment(r) or {}).get("divisor") == 1
            and r["config"]["loss"]["name"] == loss and (r.get("final") or {}).get("train_loss") is not None]
    if not done:
        return None
    clipped = [v for r in done if (v := last_diag(r).get(tags.CLIPPED)) is not None]
    return (statistics.fmean(r["final"]["train_loss"] for r in done),
            statistics.fmean(r["final"]["test_loss"] for r in done),
            statistics.fmean(clipped) if clipped else None, len(done))


def answer(runs: list[dict]) -> list[str]:
    """Two lines where the sweep holds the question's divisor 1 with the clamped loss; none otherwise."""
    clamped = _ended(runs, "keras_clipped")
    if clamped is None:
        return []
    train, test, clipped, n = clamped
    eps = next(r["config"]["loss"].get("clip_eps", tags.KERAS_EPSILON) for r in runs
               if r["config"]["loss"]["name"] == "keras_clipped")
    cost = -math.log(eps)
    lines = [f"The question's 12.9: the raw pixels (divisor 1) with Keras' clamped loss end at training loss "
             f"{train:.3f}, test loss {test:.3f} (mean of {n} run(s))"
             + (f": {clipped:.0%} of the training samples sit at the clamp, p_true < {eps_text(eps)}, each costing "
                f"-ln({eps_text(eps)}) = {cost:.3f} and passing no gradient ({clipped:.3f} x {cost:.3f} = "
                f"{clipped * cost:.3f}), so the loss cannot move" if clipped is not None else "")]
    exact = _ended(runs, "cross_entropy")
    if exact is not None:
        lines.append(f"With the exact cross-entropy the same raw pixels end at training loss {exact[0]:.3f}, test "
                     f"loss {exact[1]:.3f}: inputs 255x too large slow the start (input_scale); the clamp turns it "
                     f"into a plateau.")
    else:
        lines.append("Add loss=cross_entropy,keras_clipped to the sweep to see the same inputs without the clamp.")
    return lines
