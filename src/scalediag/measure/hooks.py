"""The hooks of one measured step, attached from outside; the model stays pure.

A measured step is captured, not computed: `collect()` hands back its raw measurements (its norms as one vector,
its pre-activations, logits and labels) and `statistics()` turns one capture, or n captures stacked along a first
dimension, into values. Why: the kernels of a logging step run with caches that the 49 plain steps before it have
filled with other work, 10-20 us each here, so the ~40 kernels of its statistics cost more at each step than all of
them once per epoch over the stacked captures (monitor.StepMonitor). The statistics themselves are in stats.py, the
norms in norms.py, Adam's state in adam.py, which layers a model has in layers.py.
Hooks are registered by `arm()` for one step and removed by `collect()`: the steps between two logging points run
the model exactly as without diagnostics (a module with hooks takes PyTorch's slower call path: +1-2% per step,
scripts/bench.py choices). Nothing here syncs with the device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .. import tags
from .adam import adam_stats
from .layers import Layers
from .norms import gradient_shares, step_norms
from .stats import KERAS_EPSILON, logit_stats, preact_stats, prob_fractions, rule_unit_stats, saturation

# a conv layer's (image, position) samples kept, evenly strided: all of a batch of 64 28x28 images, one in 12 of a
# 1000-image probe set, whose statistics over all 784k samples would cost ~5% of a small CNN's epoch here
CONV_SAMPLES = 1 << 16
# the probe set goes through the model in chunks: 1000 images of a small CNN at once are 50 MB of activations, which
# no cache holds (3x slower per image here than in chunks of 128)
PROBE_CHUNK = 128
HIST_VALUES = 1 << 18  # a histogram needs no more: a conv layer's probe pre-activations can be 12M values


@dataclass
class Capture:
    """A measured step's raw measurements, or n of them stacked along a new first dimension.

    tensors: "norms" [..., k], the 2-norms named by norm_tags (a "moved/<layer>" entry is ||w - w_armed||);
    "preact/<layer>" [..., B, H] per hidden layer; "logits" [..., B, C]; "target" [..., B]; each where the step
    produced it.
    """

    norm_tags: tuple[str, ...]
    tensors: dict[str, torch.Tensor]


class Diagnostics:
    """Forward hooks on the activation modules and on the model's output, for the armed step only; none is left
    after collect() or on exit. A Linear's output is the input of the activation after it, or the model's output
    for the last one: there the hooks keep the tensor and retain its gradient (cheaper than a Linear forward hook
    plus a Python gradient hook each: ~70 us of a logging step here); a Linear whose output neither is gets a hook
    of its own.

        with Diagnostics(model) as diag:
            diag.arm(y)            # before the forward pass of a step to be measured
            ...forward, backward, optimizer step...
            capture = diag.collect()
            stats = diag.statistics(capture)  # {tag: 0-dim tensor}; of n stacked captures: {tag: [n]}

    update/<layer>/ratio, ||w - w_armed|| / ||w||, is the step's size relative to the weights it produced: arm()
    keeps a copy of the weights, collect() compares. No optimizer hook is needed, so the step can be any call that
    updates the weights.
    """

    def __init__(self, model: nn.Module, clip_eps: float = KERAS_EPSILON):
        self.model, self.clip_eps = model, clip_eps
        self.layers = Layers.of(model)
        self.linears, self.acts = self.layers.linears, self.layers.acts
        self.retained: dict[str, torch.Tensor] = {}  # layer -> its output, whose gradient autograd retains
        self.handles: list = []
        self.armed = False
        self.target: torch.Tensor | None = None
        self.seen: dict[str, torch.Tensor] = {}
        self.before: dict[str, torch.Tensor] = {}  # the weights at arm(), copied into buffers kept across steps
        self.buffers: dict[str, torch.Tensor] = {}

    def __enter__(self) -> "Diagnostics":
        return self

    def __exit__(self, *exc) -> None:
        self._detach()

    def _detach(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles.clear()
        self.armed = False

    def arm(self, target: torch.Tensor | None = None, update: bool = True) -> None:
        """Measure the next forward/backward; target (labels [B]) enables the probability fractions; update: an
        optimizer step follows before collect(), whose size to measure."""
        self._detach()
        self.armed, self.target, self.seen, self.retained = True, target, {}, {}
        self.before = {name: self._copy(name, m.weight) for name, m in self.linears.items()} if update else {}
        for name in self.layers.others:
            self.handles.append(self.linears[name].register_forward_hook(self._linear_hook(name)))
        for layer, (m, _) in self.acts.items():
            self.handles.append(m.register_forward_hook(self._act_hook(layer)))
        self.handles.append(self.model.register_forward_hook(self._output_hook))

    def _copy(self, name: str, weight: torch.Tensor) -> torch.Tensor:
        """Into a buffer allocated once: a fresh 400 KB copy per logging step is one more large block for glibc to
        place among the step's own and to trim again (page faults: scripts/bench.py epoch counts them)."""
        buf = self.buffers.get(name)
        if buf is None or buf.shape != weight.shape or buf.device != weight.device or buf.dtype != weight.dtype:
            buf = self.buffers[name] = torch.empty_like(weight, memory_format=torch.contiguous_format)
        return buf.copy_(weight.detach())

    # hooks: they keep references only, what is measured is decided in collect() and statistics()
    def _retain(self, layer: str, output: torch.Tensor) -> None:
        if output.requires_grad:
            output.retain_grad()
            self.retained[layer] = output

    def _linear_hook(self, name: str):
        def hook(module, inputs, output):
            self._retain(name, output)

        return hook

    def _act_hook(self, layer: str):
        def hook(module, inputs, output):
            z = inputs[0].detach()
            if z.dim() > 2:  # [B, C, H, W]: a channel is a unit, each (image, position) a sample -> [B*H*W, C]
                z = _every_nth(z.movedim(1, -1).reshape(-1, z.shape[1]), CONV_SAMPLES)
            self.seen[f"preact/{layer}"] = z
            self._retain(layer, inputs[0])

        return hook

    def _output_hook(self, module, inputs, output) -> None:
        self.seen["logits"] = output.detach()
        if self.layers.output is not None:
            self._retain(self.layers.output, output)

    def collect(self) -> Capture:
        """The armed step's raw measurements; removes the hooks. Besides the norms, references only: a caller that
        keeps a capture beyond the step copies it (monitor.Pending)."""
        self._detach()
        names, norms = step_norms(self.linears, self.retained, self.before)
        tensors = {"norms": torch.stack(norms)}
        tensors.update({key: v for key, v in self.seen.items() if key.startswith("preact/") or key == "logits"})
        if "logits" in tensors and self.target is not None:
            tensors["target"] = self.target
        self.seen, self.target, self.before, self.retained = {}, None, {}, {}
        return Capture(tuple(names), tensors)

    def statistics(self, capture: Capture) -> dict[str, torch.Tensor]:
        """Tagged values of one capture (0-dim tensors), or of n stacked captures ([n] tensors)."""
        t, stats = capture.tensors, {}
        for tag, norm in zip(capture.norm_tags, t["norms"].unbind(dim=-1)):
            if tag.startswith("moved/"):
                name = tag.removeprefix("moved/")
                stats[tags.update_ratio(name)] = norm / stats[tags.weight_norm(name)]  # ||w - w_armed|| / ||w||
            else:
                stats[tag] = norm
        for layer, (_, kind) in self.acts.items():
            if f"preact/{layer}" in t:
                z = t[f"preact/{layer}"]
                stats.update({tags.preact(layer, k): v for k, v in preact_stats(z).items()})
                stats[tags.dead_batch(layer)], stats[tags.saturated_batch(layer)] = saturation(z, kind)
        if "logits" in t:
            stats.update({tags.logits(k): v for k, v in logit_stats(t["logits"]).items()})
            if "target" in t:
                fractions = prob_fractions(t["logits"], t["target"], self.clip_eps)
                stats.update({tags.probs(k): v for k, v in fractions.items()})
        return stats

    def gradients(self, x: torch.Tensor, target: torch.Tensor, loss_fn) -> dict[str, torch.Tensor]:
        """Each layer's gradient statistics on a fixed batch (norms.gradient_shares), without an optimizer step and
        without touching .grad; loss_fn(logits, target, reduction="mean")."""
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.enable_grad():
                return gradient_shares(self.linears, loss_fn(self.model(x), target, reduction="mean"))
        finally:
            self.model.train(was_training)

    def adam(self, optimizer) -> dict[str, torch.Tensor]:
        """Per Linear layer, Adam's eps_fraction and sqrt_v_median (adam.py); epoch ends only."""
        return adam_stats(self.linears, optimizer)

    @torch.no_grad()
    def probe(self, x: torch.Tensor, target: torch.Tensor) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Forward a fixed probe batch: (scalars incl. each hidden layer's dead fraction, the inputs' RMS, each
        layer's weight gain, the accuracy; tensors for histograms)."""
        was_training = self.model.training
        self.model.eval()
        parts = []
        for i in range(0, len(x), PROBE_CHUNK):
            self.arm(target[i : i + PROBE_CHUNK] if target is not None else None, update=False)
            self.model(x[i : i + PROBE_CHUNK])
            parts.append(self.collect())
        self.model.train(was_training)
        # the chunks' captures together; a conv layer's samples thinned again to about CONV_SAMPLES
        capture = Capture(parts[0].norm_tags, {k: parts[0].tensors[k] if k == "norms" else
                                               torch.cat([p.tensors[k] for p in parts]) for k in parts[0].tensors})
        capture.tensors.update({k: _every_nth(v, CONV_SAMPLES) for k, v in capture.tensors.items()
                                if k.startswith("preact/")})
        stats = self.statistics(capture)
        stats[tags.INPUT_RMS] = x.float().square().mean().sqrt()
        stats[tags.INPUT_MIN], stats[tags.INPUT_MAX] = x.amin().float(), x.amax().float()
        stats[tags.ACC_PROBE] = torch.mean(capture.tensors["logits"].argmax(dim=-1) == target, dtype=torch.float32)
        hists = {tags.LOGITS: capture.tensors["logits"]}
        for layer, (_, kind) in self.acts.items():  # over the probe set: the usual "dead"
            stats[tags.dead(layer)] = stats.pop(tags.dead_batch(layer))
            stats[tags.saturated(layer)] = stats.pop(tags.saturated_batch(layer))
            z = capture.tensors[f"preact/{layer}"]
            hists[tags.preact(layer)] = _every_nth(z.flatten(), HIST_VALUES)
            stats.update({tags.unit_stat(layer, k): v for k, v in rule_unit_stats(z, kind).items()})
        for name, m in self.linears.items():
            w = m.weight.detach()
            stats[tags.weight_gain(name)] = w.square().mean().sqrt() * math.sqrt(w[0].numel())  # x sqrt(fan-in)
            stats[tags.weight_var(name)] = w.var()
            hists[tags.weights(name)] = w
            if m.bias is not None:
                hists[tags.bias(name)] = m.bias.detach()
        return stats, hists


def _every_nth(t: torch.Tensor, limit: int) -> torch.Tensor:
    """About limit of t's rows, evenly strided; t itself when it has no more."""
    stride = -(-t.shape[0] // limit)
    return t[::stride] if stride > 1 else t
