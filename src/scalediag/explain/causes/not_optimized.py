"""Layers the optimizer does not hold: they require grad and get gradients, but no param group has them."""

from __future__ import annotations

from ..facts import layer_name, program
from ..where import name, site, source
from .base import DOWNSTREAM, DOWNSTREAM_SIGNS, Cause, Evidence


class NotOptimized(Cause):
    id, title, fix, location = "not_optimized", "layers the optimizer does not hold", "code", "optimizer"
    preflight = True
    explains, signs = DOWNSTREAM | {"lr_too_low"}, DOWNSTREAM_SIGNS

    def where(self, run, evidence):
        return (source(run, "optimizer_built", "the optimizer's construction", most=1)
                + source(run, "assigned", "the layer assigned last", last=True, most=1)
                + site(run, "not_optimized", "a step that leaves them out"))

    def remedy(self, run, evidence):
        opt, model = name(run, "optimizer", "optimizer"), name(run, "model", "model")
        layers = ", ".join((evidence.values or {}).get("layers") or []) or "the layers named"
        if source(run, "assigned", "", most=1):  # a layer assigned after the optimizer was built
            return (f"build `{opt}` from `{model}.parameters()` after the model is complete (after {layers} is "
                    f"assigned), or add the new layers: `{opt}.add_param_group({{'params': ...}})`")
        return f"build `{opt}` from all of `{model}.parameters()` (it leaves out {layers})"

    def test(self, run, symptoms):
        layers = program(run).get("not_optimized") or {}
        if not layers:
            return None
        shown = ", ".join(f"{layer_name(run, layer)} (from step {step})" for layer, step in layers.items())
        return Evidence(
            f"{shown}: its parameters require grad and receive gradients but belong to no param group of the "
            f"optimizer, so they never change (a layer replaced after the optimizer was built? build the optimizer "
            f"after the model is complete, or add_param_group)", len(layers), 0, values={"layers": dict(layers)})
