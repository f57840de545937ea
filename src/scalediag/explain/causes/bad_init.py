"""Weights initialised off scale: a layer's RMS(w) x sqrt(fan-in) far from what the usual initialisations give."""

from __future__ import annotations

import math

from ... import tags
from ..facts import against_classes, classes, failing, gains, layer_name
from .base import DOWNSTREAM, DOWNSTREAM_SIGNS, Cause, Evidence, Threshold


class BadInit(Cause):
    id, title, fix, location = "bad_init", "weights initialised off scale", "model", "init"
    preflight = True
    explains, signs = DOWNSTREAM, DOWNSTREAM_SIGNS | {"init_loss", "preact_scale"}
    # RMS(w) x sqrt(fan-in) at init: 0.58 (torch), 1.0 (LeCun), 1.31 (Glorot here), 1.41 (He)
    GAIN_LOW = Threshold(0.1, "the usual initialisations give 0.58-1.41; below 0.1 the units are all but identical "
                              "(zeros gives 0)")
    GAIN_HIGH = Threshold(4.0, "the usual initialisations give 0.58-1.41")

    def test(self, run, symptoms):
        low, high = self.GAIN_LOW, self.GAIN_HIGH
        off = {layer: g for layer, g in gains(run).items() if not low <= g <= high}
        if not off:
            return None
        init = run.get("init") or {}
        harm = failing(run) or (f"its initial loss {init[tags.LOSS_INIT]:.3g} is far above ln C"
                                if against_classes(run) and init.get(tags.LOSS_INIT, 0.0) > 2 * math.log(classes(run))
                                else None)
        if harm is None:
            return None
        rms = init.get(tags.INPUT_RMS)
        layers = ", ".join(f"{layer_name(run, layer)} {g:.3g}" for layer, g in off.items())
        worst = max(off.values())
        return Evidence(
            f"weight scale RMS(w) x sqrt(fan-in) at init: {layers} (the usual initialisations give 0.58-1.41; "
            f"outside {low:g}-{high:g}" + (": all units identical" if min(off.values()) == 0 else "") + ")"
            + (f", with the inputs in range (RMS {rms:.3g})" if rms is not None else "") + f"; and {harm}",
            worst if worst > high else min(off.values()), high if worst > high else low, above=worst > high,
            values={"gains": off})
