"""Inputs off the scale the weights were initialised for: the first layer's pre-activations far from std 1 at init
while the weights are at their design scale (bad_init is the other way round)."""

from __future__ import annotations

from ... import tags
from ...record import experiment
from ..facts import first_hidden, gains, layer_name
from ..where import site
from .base import DOWNSTREAM, DOWNSTREAM_SIGNS, Cause, Evidence, Threshold

GAIN_RANGE = (0.25, 4.0)  # the weights at their design scale: the usual initialisations give 0.58-1.41


def _estimated_preact(run: dict) -> tuple[str, float] | None:
    """Where no activation module shows the first layer's pre-activations (an LSTM, a functional relu): the inputs'
    RMS x the first layer's gain, what a fan-in-scaled layer gives dense inputs (the MLP's measured 150 against
    115 x 1.31 = 151)."""
    init, g = run.get("init") or {}, gains(run)
    rms, first = init.get(tags.INPUT_RMS), next(iter(g), None)
    return (first, rms * g[first]) if rms is not None and first is not None else None


class InputScale(Cause):
    id, title, fix, location = ("input_scale", "inputs off the scale the weights were initialised for", "data",
                                "preprocessing")
    preflight = True
    explains = DOWNSTREAM | {"eps_dominates", "lr_too_low"}
    signs = DOWNSTREAM_SIGNS | {"init_loss", "preact_scale", "eps_dominates"}
    shown_by = frozenset({"init_loss", "preact_scale"})
    restates = frozenset({"preact_scale"})  # the first layer's pre-activation std at init, quoted in the evidence
    after = ("bad_init",)  # weights off scale give the same pre-activations; input_scale needs them at design scale
    # first hidden layer's pre-activation std at init; about 1 is the design point
    PREACT_LOW = Threshold(0.05, "about 1 by design; 20x below it")
    PREACT_HIGH = Threshold(10.0, "about 1 by design; the question's raw pixels (divisor 1) start at 150")

    def _std(self, run) -> tuple[str | None, float | None, bool]:
        init = run.get("init") or {}
        layer = first_hidden(init)
        std = init.get(tags.preact_std(layer)) if layer else None
        estimated = std is None and (estimate := _estimated_preact(run)) is not None and \
            estimate[1] > self.PREACT_HIGH
        if estimated:  # the large side only: sparse inputs (mostly zeros) give a small estimate without being off
            layer, std = estimate
        return layer, std, estimated

    def where(self, run, evidence):
        return site(run, "forward", "the inputs enter the model here")

    def remedy(self, run, evidence):
        rms = (evidence.values or {}).get("input_rms")
        shown = f": their RMS is {rms:.3g}" if rms else ""
        if experiment(run) is not None:  # the question's own runs: the divisor is the preprocessing
            return "divide the pixels by 255 (`divisor=255`): inputs of RMS about 0.45" + \
                (f", where these have {rms:.3g}" if rms else "")
        return "scale the inputs to about unit size where they are loaded (pixels / 255, or the training set's " \
            f"mean and std){shown}"

    def test(self, run, symptoms):
        init, (layer, std, estimated) = run.get("init") or {}, self._std(run)
        low, high = self.PREACT_LOW, self.PREACT_HIGH
        g = gains(run)
        if std is None or low <= std <= high or not all(GAIN_RANGE[0] <= v <= GAIN_RANGE[1] for v in g.values()):
            return None
        rms, way = init.get(tags.INPUT_RMS), "large" if std > high else "small"
        shown = ", ".join(f"{layer_name(run, name)} {v:.2f}" for name, v in g.items())
        return Evidence(
            f"inputs too {way}" + (f" (RMS {rms:.3g}, about 1 expected)" if rms is not None else "")
            + f" for weights at their design scale (RMS(w) x sqrt(fan-in) {shown}; 0.58-1.41 is usual): "
              f"{layer_name(run, layer)}'s "
            f"pre-activations start with std {std:.3g}" + (" (estimated: inputs' RMS x its gain)" if estimated else "")
            + f" (healthy {low:g}-{high:g}, about 1 by design)",
            std, high if std > high else low, above=std > high, values={"input_rms": rms})

    def near(self, run, symptoms):
        init = run.get("init") or {}
        layer = first_hidden(init)
        std = init.get(tags.preact_std(layer)) if layer else None
        if not std:
            return None
        low, high = self.PREACT_LOW, self.PREACT_HIGH
        above = std / high >= low / std
        return Evidence(f"input_scale: first pre-activation std {std:.3g} at init (healthy {low:g}-{high:g})",
                        std, high if above else low, above=above)
