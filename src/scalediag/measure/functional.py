"""Activations applied as functions inside forward (F.relu(self.conv1(x)), x.sigmoid()): no module to hook, so the
probe's forward pass runs under a TorchFunctionMode that sees each such call and gives its input, the
pre-activations, to the weight layer it follows (the last one called, of the same width, not followed by an
activation module): the dead and saturated fractions then stand for those layers as for a module's. Only at the
probe: no training step pays for it."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

# the function -> the activation's kind (layers.KINDS's names); F.tanh and F.sigmoid call the Tensor methods
ACTIVATIONS = {F.relu: "relu", torch.relu: "relu", torch.Tensor.relu: "relu", F.relu_: "relu", torch.relu_: "relu",
               torch.Tensor.relu_: "relu", F.leaky_relu: "leaky_relu", F.gelu: "gelu", F.elu: "elu", F.silu: "silu",
               torch.tanh: "tanh", torch.Tensor.tanh: "tanh", torch.sigmoid: "sigmoid", torch.Tensor.sigmoid: "sigmoid"}
IN_PLACE = (F.relu_, torch.relu_, torch.Tensor.relu_)


class FunctionalActs(TorchFunctionMode):
    """For one probe forward pass: which layer each functional activation follows. found: layer -> kind, kept
    across passes (the first kind seen names the layer); keep(layer, pre-activations) takes each call's input."""

    def __init__(self, diag, found: dict[str, str]):
        super().__init__()
        self.diag, self.found, self.last = diag, found, None
        # the weight layers whose activation no module shows (the model's output layer has none on purpose)
        self.candidates = {name: m for name, m in diag.layers.weighted.items()
                           if name not in diag.acts and name != diag.layers.output}
        self.handles = []

    def __enter__(self):
        for name, m in self.candidates.items():
            self.handles.append(m.register_forward_hook(self._called(name)))
        return super().__enter__()

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()
        self.handles.clear()
        return super().__exit__(*exc)

    def _called(self, name: str):
        def hook(module, inputs, output):
            self.last = name

        return hook

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        kind = ACTIVATIONS.get(func)
        if kind is not None and self.last is not None and args and torch.is_tensor(args[0]):
            layer, z = self.last, args[0]
            units, dim = self.diag.layers.units(layer), self.diag.layers.unit_dim(layer)
            if z.dim() >= 2 and z.shape[dim] == units and self.found.setdefault(layer, kind) == kind:
                self.last = None  # the first activation after the layer is its own
                in_place = func in IN_PLACE or kwargs.get("inplace") or (len(args) > 1 and args[-1] is True)
                self.diag.keep_preact(layer, z.detach().clone() if in_place else z.detach())
        return func(*args, **kwargs)
