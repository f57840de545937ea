"""Gradient clipping pins every step: the total gradient norm at the step is the same at every measured step, far
below the probe's unclipped gradient, and the run fails or its steps are tiny."""

from __future__ import annotations

import statistics

from ... import tags
from ..facts import failing, last_diag, program
from ..where import bare, source
from .base import DOWNSTREAM, DOWNSTREAM_SIGNS, Cause, Evidence, Threshold
from .learning_rate import LrTooLow


class GradClip(Cause):
    id, title, fix, location = "grad_clip", "gradient clipping pins every step", "configuration", "optimizer"
    preflight = True
    explains, signs = DOWNSTREAM | {"lr_too_low"}, DOWNSTREAM_SIGNS
    # spread (max - min) / median of the step's total gradient norm
    PINNED = Threshold(0.01, "unclipped 1.07-1.59; AdamW clipped at 1.0, binding nearly always (and healthy: Adam "
                             "rescales), 0.06")
    RATIO = Threshold(10.0, "the probe's unclipped gradient norm against the steps': healthy 0.36-1.92")

    def where(self, run, evidence):
        return source(run, "clip", "the clipping call", most=1)

    def remedy(self, run, evidence):
        found = source(run, "clip", "", most=1)
        return ((f"raise the threshold in `{bare(found[0].code)}`" if found else "raise the clipping threshold")
                + " to about the unclipped gradient norm (clipping should bind only on spikes), or remove it")

    def test(self, run, symptoms):
        found = program(run).get("grad_total") or {}
        norms = [n for s, n in zip(found.get("steps") or [], found.get("norm") or []) if s > 1 and n]
        probe = last_diag(run).get(tags.GRAD_PROBE_TOTAL)
        if len(norms) < 4 or not probe:
            return None
        median = statistics.median(norms)
        spread = (max(norms) - min(norms)) / median
        if spread > self.PINNED or probe < self.RATIO * median:
            return None
        last = last_diag(run)
        ratios = [v for layer in tags.layers(last) if (v := last.get(tags.update_ratio(layer)))]
        harm = failing(run) or (f"every layer moves by less than {LrTooLow.RATIO_MIN:g} of its weights per step"
                                if ratios and max(ratios) < LrTooLow.RATIO_MIN else None)
        if harm is None:  # Adam rescales a clipped gradient: pinned, its steps can still be of a healthy size
            return None
        return Evidence(
            f"gradient clipping binds at every measured step: the gradient's total norm at the optimizer step is "
            f"pinned at {median:.3g} (spread {spread:.1%} over {len(norms)} steps; threshold {self.PINNED:.0%}) "
            f"while the probe set's unclipped gradient is {probe:.3g}, {probe / median:.0f}x larger (threshold "
            f"{self.RATIO:g}x): the steps are a small fraction of what the learning rate would give (max_norm far "
            f"too small); {harm}", probe / median, self.RATIO, values={"spread": spread})
