"""Vanishing gradient: the loss gradient shrinks layer by layer towards the input, so the first layers learn from
little but noise."""

from __future__ import annotations

from ..facts import failing, flow, last_diag, layer_name
from .base import Cause, Evidence, Threshold


class VanishingGradient(Cause):
    id, title, fix, location = "vanishing_gradient", "vanishing gradient", "model", "activation"
    # in a pre-flight only over FLOW_DEPTH+ layers, where depth itself is the evidence: over 3 layers, a gradient
    # below 1e-4 in the first steps came downstream of causes the pre-flight cannot judge yet (SGD at a learning rate
    # too high, zero init, class-sorted batches in the program benchmark)
    preflight = True
    signs = frozenset({"gradient_flow", "no_gradient", "update_ratio"})
    shown_by = frozenset({"gradient_flow", "no_gradient"})
    restates = frozenset({"gradient_flow"})  # the same first/last RMS ratio, against the symptom's wider range
    # first/last output-gradient RMS below this: vanished whether or not the loss shows it yet
    VANISHED_FLOW = Threshold(1e-4, "an 8-layer sigmoid MLP: 3e-6, 6 layers: 6e-5; healthy: 2 ReLU layers 0.2, small "
                                    "CNNs 0.002-0.008 (a conv output spreads the gradient over its positions)")
    FLOW_LOW = Threshold(0.05, "healthy small CNNs reach 0.002-0.008: so only in a run that fails, over FLOW_DEPTH+ "
                               "layers")
    # a failing run's 3-layer networks shrink the gradient to 0.005-0.04 whatever made them fail (misaligned labels,
    # gradients cleared, 33% label noise): shrinking layer by layer is evidence of depth only over more layers
    FLOW_DEPTH = 4

    def test(self, run, symptoms):
        """In the last epoch, or at an early step: Adam rescales each weight's step, so a gradient that vanished at
        the start may look merely small by the end while the first layers have learned from little but noise."""
        rows = [(f"step {s}", r) for s, r in sorted((run.get("early") or {}).items(), key=lambda sr: int(sr[0]))]
        flows = [(where, f) for where, row in [*rows, ("the last epoch", last_diag(run))] if (f := flow(row))]
        fail = failing(run)
        hits = [(where, f) for where, f in flows if f[0] < self.VANISHED_FLOW or
                (f[0] < self.FLOW_LOW and fail and len(f[1]) >= self.FLOW_DEPTH)]
        if run.get("preflight"):
            hits = [(where, f) for where, f in hits if len(f[1]) >= self.FLOW_DEPTH]
        if not hits:
            return None
        where, (ratio, rms) = min(hits, key=lambda h: h[1][0])
        return Evidence(
            f"the loss gradient shrinks layer by layer towards the input over {len(rms)} layers: at {where} its RMS "
            f"at {layer_name(run, rms[0][0])}'s output is {ratio:.2g} x that at {layer_name(run, rms[-1][0])}'s "
            f"({rms[0][1]:.2g} against "
            f"{rms[-1][1]:.2g}; threshold {self.VANISHED_FLOW:g}, or {self.FLOW_LOW:g} over {self.FLOW_DEPTH}+ "
            f"layers in a failing run), so the first layers learn from little but noise"
            + (f"; {fail}" if fail else ""),
            ratio, self.VANISHED_FLOW if ratio < self.VANISHED_FLOW else self.FLOW_LOW, above=False)
