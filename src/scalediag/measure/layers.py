"""Which layers a model has, found from its modules: every module with parameters of its own (a layer), in model
order, by its module name; the weight layers among them (Linear, Conv1d/2d/3d: a fan-in, a unit per output feature
or channel); the activation module after each weight layer (and the kind of activation it is: also after a pooling
or a normalisation layer); which layer produces the model's output; which layers are frozen."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

# activation module -> its kind, the name the statistics (stats.SATURATES) and the report know it by
KINDS = {nn.ReLU: "relu", nn.LeakyReLU: "leaky_relu", nn.GELU: "gelu", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid",
         nn.ELU: "elu", nn.SiLU: "silu"}
CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)  # a channel is a unit, over samples and positions
WEIGHTED = (nn.Linear, *CONV)
# layers whose output gradient is measured besides the weight layers: their (first) output is what they compute
# from their weights. Not a normalisation layer (it rescales) nor attention (its output is out_proj's).
OUTPUT_MEASURED = (*WEIGHTED, nn.Embedding, nn.RNNBase)


def is_bias(name: str) -> bool:
    """A parameter that shifts rather than weighs (bias, in_proj_bias, bias_ih_l0, bias_k)."""
    return "bias" in name


def own_parameters(m: nn.Module) -> list[tuple[str, nn.Parameter]]:
    # read straight from the module's own dict: named_parameters(recurse=False) costs ~10x more, at every logging step
    return [(n, p) for n, p in m._parameters.items() if p is not None]


def weights_of(m: nn.Module) -> list[nn.Parameter]:
    """A layer's weight tensors (weight, in_proj_weight, weight_ih_l0 and weight_hh_l0 of each layer of an RNN)."""
    return [p for n, p in own_parameters(m) if not is_bias(n)]


def biases_of(m: nn.Module) -> list[nn.Parameter]:
    return [p for n, p in own_parameters(m) if is_bias(n)]


def trainable(m: nn.Module) -> list[nn.Parameter]:
    """Its weight tensors that require grad: what its gradient and update ratio are measured on."""
    return [p for p in weights_of(m) if p.requires_grad]


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
    """modules: name -> every module with weights of its own, in model order (a tied weight is measured in each module
    that holds it); weighted: the Linear and Conv layers among them; acts: layer -> (activation module, kind) for each
    weight layer followed by an activation; output: the layer whose output is the model's (None if the model ends
    otherwise); others: the layers whose output gradient is measured by a hook of their own (no activation module
    and not the model's output shows it); frozen: the layers none of whose weights require grad."""

    modules: dict[str, nn.Module]
    weighted: dict[str, nn.Module]
    acts: dict[str, tuple[nn.Module, str]]
    output: str | None
    others: list[str]
    frozen: list[str]

    @classmethod
    def of(cls, model: nn.Module) -> "Layers":
        # a model's own parameters (no submodule holds them) are the layer "root"
        modules = {name or "root": m for name, m in model.named_modules() if weights_of(m)}
        weighted = {name: m for name, m in modules.items() if isinstance(m, WEIGHTED)}
        acts = activations(model)
        leaves = [m for m in model.modules() if not next(m.children(), None)]  # in model order, containers skipped
        last = next(reversed(weighted), None)
        output = last if leaves and leaves[-1] is weighted.get(last) else None
        frozen = [name for name, m in modules.items() if not trainable(m)]
        others = [n for n, m in modules.items() if isinstance(m, OUTPUT_MEASURED) and n not in acts and n != output
                  and n not in frozen]
        return cls(modules, weighted, acts, output, others, frozen)

    def units(self, layer: str) -> int | None:
        """A Linear or Conv layer's output units (None for the others): one activation module called after several
        layers (self.relu reused through forward) belongs, for this layer, to the calls of that width only."""
        m = self.modules[layer]
        return weights_of(m)[0].shape[0] if isinstance(m, WEIGHTED) else None

    def unit_dim(self, layer: str) -> int:
        """Where a layer's units are in its output: the channel (1) of a conv layer, the last dimension otherwise."""
        return 1 if isinstance(self.modules[layer], CONV) else -1
