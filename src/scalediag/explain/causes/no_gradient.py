"""Graph cut: layers in the optimizer that run in the forward pass but receive no gradient."""

from __future__ import annotations

from ..facts import layer_name, program
from ..where import bare, in_forward, source

DETACH = r"\.detach\(\)|\bno_grad\(\)|requires_grad_\(\s*False\s*\)|\.data\b"
from .base import DOWNSTREAM, DOWNSTREAM_SIGNS, Cause, Evidence


class NoGradient(Cause):
    id, title, fix, location = "no_gradient", "graph cut: layers without gradient", "code", "layers"
    preflight = True
    explains, signs = DOWNSTREAM | {"lr_too_low"}, DOWNSTREAM_SIGNS

    def where(self, run, evidence):
        return in_forward(run, DETACH, "cuts the graph in forward", most=2) or \
            source(run, "freeze", "requires_grad=False", most=1)

    def remedy(self, run, evidence):
        cut = in_forward(run, DETACH, "", most=1)
        layers = ", ".join((evidence.values or {}).get("layers") or [])
        return ((f"remove the cut at line {cut[0].line} (`{bare(cut[0].code)}`)" if cut else
                 "remove the `.detach()` / `no_grad()` in forward")
                + f" so that the gradient reaches {layers or 'those layers'}; to freeze them on purpose, set their "
                  "requires_grad=False instead")

    def test(self, run, symptoms):
        found = program(run).get("gradients") or {}
        # from the first step measured (1 in a watched loop; 2 under `scalediag run`, which attaches at the first step)
        first = min((g["first"] for g in found.values() if g.get("first") is not None), default=None)
        cut = {layer: g for layer, g in found.items() if g.get("steps") and g["none"] + g["zero"] == g["steps"]
               and g.get("first") == first}
        # a cut leaves the layers after it with a gradient; where none gets one (zero init, every sample beyond a
        # probability clamp) the loss itself passes nothing back, a cause of its own
        if not cut or len(cut) == len(found):
            return None
        shown = ", ".join(f"{layer_name(run, layer)} (.grad None at {g['none']}, exactly 0 at {g['zero']} of "
                          f"{g['steps']} measured "
                          f"steps)" for layer, g in cut.items())
        return Evidence(
            f"{shown}: in the optimizer and run in the forward pass, but no gradient reaches them, from the first "
            f"measured step on: the graph is cut between them and the loss (a .detach(), torch.no_grad(), .data, or "
            f"an op without a gradient such as argmax or round), so they never learn", len(cut), 0,
            values={"layers": sorted(cut)})
