"""Units dead from initialisation: a hidden layer whose units are dead for every probe sample before any step, with
the weights at their design scale (bad_init is the other way round), in a run that fails. A dead ReLU passes no
gradient, so it never revives: a bias initialised far below zero (nn.init.constant_(bias, -5)), or an activation
threshold above every pre-activation."""

from __future__ import annotations

from ... import tags
from ..facts import failing, gains, layer_name
from .base import DOWNSTREAM_SIGNS, Cause, Evidence, Threshold
from .input_scale import GAIN_RANGE


class DeadAtInit(Cause):
    id, title, fix, location = "dead_at_init", "units dead from initialisation", "model", "init"
    explains, signs = frozenset({"dead_units"}), DOWNSTREAM_SIGNS
    after = ("bad_init", "input_scale")  # weights or inputs off scale can leave units dead at init too
    # a hidden layer's share of units dead for every probe sample at init: over the healthy runs of the doctor and
    # program benchmarks, the bug examples and the tests 0-0.20, median 0.008 (n = 40); the runs failing of another
    # cause up to 0.55 (a 10-class output ReLU: 0.5); zero-initialised weights 1.0 (bad_init)
    DEAD = Threshold(0.9, "healthy 0-0.20, median 0.008 (n = 40)")

    def test(self, run, symptoms):
        init = run.get("init") or {}
        dead = {layer: v for layer in tags.hidden_layers(init) if (v := init.get(tags.dead(layer))) is not None}
        g = gains(run)
        if not dead or max(dead.values()) < self.DEAD or not g or \
                not all(GAIN_RANGE[0] <= v <= GAIN_RANGE[1] for v in g.values()):
            return None
        harm = failing(run)
        if harm is None:
            return None
        layer = max(dead, key=dead.get)
        mean, std = init.get(tags.preact(layer, "preact_mean")), init.get(tags.preact_std(layer))
        shown = ", ".join(f"{layer_name(run, name)} {v:.2f}" for name, v in g.items())
        return Evidence(
            f"{layer_name(run, layer)}: {dead[layer]:.0%} of its units are dead for every probe sample at "
            f"initialisation, before any "
            f"step (threshold {self.DEAD:.0%}; healthy runs 0-20%), with the weights at their design scale "
            f"(RMS(w) x sqrt(fan-in) {shown})"
            + (f" and its pre-activations centred far below 0 (mean {mean:.3g}, std {std:.3g})"
               if mean is not None and std is not None and mean < -std else "")
            + f": a dead unit passes no gradient, so it never revives (a bias initialised far negative? initialise "
            f"biases at 0); {harm}", dead[layer], self.DEAD, values={"layer": layer, "preact_mean": mean})
