"""Which layers a model has, found from its modules: the layers with weights (Linear, Conv2d) in model order, the
activation module after each (and the kind of activation it is: also after a pooling or a normalisation layer),
and which of them produces the model's output."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

# activation module -> its kind, the name the statistics (stats.SATURATES) and the report know it by
KINDS = {nn.ReLU: "relu", nn.LeakyReLU: "leaky_relu", nn.GELU: "gelu", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid",
         nn.ELU: "elu", nn.SiLU: "silu"}
WEIGHTED = (nn.Linear, nn.Conv2d)  # a conv layer's output channel is a unit, over images and positions


def activations(model: nn.Module) -> dict[str, tuple[nn.Module, str]]:
    """layer -> (activation module, its kind), for each activation and the weight layer that feeds it (the first
    activation after it, in model order)."""
    found, last = {}, None
    for name, m in model.named_modules():
        if isinstance(m, WEIGHTED):
            last = name
        elif type(m) in KINDS and last is not None and last not in found:
            found[last] = (m, KINDS[type(m)])
    return found


@dataclass
class Layers:
    """linears: name -> weight layer (Linear, Conv2d), in model order; acts: layer -> (activation module, kind) for
    each one followed by an activation; output: the layer whose output is the model's (None if the model ends
    otherwise); others: the layers whose output neither an activation nor the model's output shows."""

    linears: dict[str, nn.Module]  # Linear and Conv2d
    acts: dict[str, tuple[nn.Module, str]]
    output: str | None
    others: list[str]

    @classmethod
    def of(cls, model: nn.Module) -> "Layers":
        linears = {name: m for name, m in model.named_modules() if isinstance(m, WEIGHTED)}
        acts = activations(model)
        leaves = [m for m in model.modules() if not next(m.children(), None)]  # in model order, containers skipped
        last = next(reversed(linears), None)
        output = last if leaves and leaves[-1] is linears.get(last) else None
        return cls(linears, acts, output, [n for n in linears if n not in acts and n != output])
