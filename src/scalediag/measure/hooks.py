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
from .functional import FunctionalActs
from .inputs import call, evaluating, first_tensor, flat_scores, floating, length, logits_of, rows
from .layers import Layers, trainable, weights_of
from .norms import UPDATE_SAMPLE, gradient_shares, grad_norms, sample, step_norms
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
    """Forward hooks on the activation modules, on the model's output and on the layers neither shows, for the armed
    step only; none is left after collect() or on exit. A weight layer's output is the input of the activation
    after it, or the model's output for the last one: there the hooks keep the tensor and retain its gradient
    (cheaper than a layer forward hook plus a Python gradient hook each: ~70 us of a logging step here); the other
    layers whose output gradient is measured (layers.OUTPUT_MEASURED) get a hook of their own. A step may run several
    forward passes (micro-batches, two inputs): each hook keeps all of them, and the statistics describe them
    together.

        with Diagnostics(model) as diag:
            diag.arm(y)            # before the forward pass of a step to be measured
            ...forward, backward, optimizer step...
            capture = diag.collect()
            stats = diag.statistics(capture)  # {tag: 0-dim tensor}; of n stacked captures: {tag: [n]}

    update/<layer>/ratio, ||w - w_armed|| / ||w||, is the step's size relative to the weights it produced: arm()
    keeps a copy of the trainable weights, collect() compares. No optimizer hook is needed, so the step can be any
    call that updates the weights; a caller whose gradients may be gone by collect() (zeroed before the next
    forward pass) reads them earlier with read_gradients().
    """

    def __init__(self, model: nn.Module, clip_eps: float = KERAS_EPSILON):
        self.model, self.clip_eps = model, clip_eps
        self.layers = Layers.of(model)
        self.modules, self.acts = self.layers.modules, self.layers.acts
        self.functional: dict[str, str] = {}  # layer -> kind of the activation applied as a function after it
        self.retained: dict[str, list[torch.Tensor]] = {}  # layer -> its outputs, whose gradient autograd retains
        self.handles: list = []
        self.armed = False
        self.target: torch.Tensor | None = None
        self.seen: dict[str, list[torch.Tensor]] = {}
        self.grads: dict[str, list[torch.Tensor]] | None = None  # read_gradients()'s norms
        self.total: list[torch.Tensor] = []
        self.before: dict[str, list[torch.Tensor]] = {}  # the weights at arm(), copied into buffers kept across steps
        self.buffers: dict[tuple[str, int], torch.Tensor] = {}
        # wraps each hook: scalediag.watch turns an error of its own into a warning, never the user's exception
        self.guard = lambda fn: fn

    def __enter__(self) -> "Diagnostics":
        return self

    def __exit__(self, *exc) -> None:
        self.disarm()

    def disarm(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles.clear()
        self.armed = False

    def arm(self, target: torch.Tensor | None = None, update: bool = True) -> None:
        """Measure the next forward/backward; target (labels [B]) enables the probability fractions; update: an
        optimizer step follows before collect(), whose size to measure."""
        self.disarm()
        self.armed, self.target, self.seen, self.retained, self.grads = True, target, {}, {}, None
        self.total: list[torch.Tensor] = []  # the whole model's gradient norm, per optimizer
        self.before = {}
        for name, m in self.modules.items() if update else ():
            if copies := [self._copy(name, p) for p in trainable(m)]:
                self.before[name] = copies
        hook = self.guard
        for name in self.layers.others:
            self.handles.append(self.modules[name].register_forward_hook(hook(self._layer_hook(name))))
        for layer, (m, _) in self.acts.items():
            self.handles.append(m.register_forward_hook(hook(self._act_hook(layer))))
        self.handles.append(self.model.register_forward_hook(hook(self._output_hook)))

    def _copy(self, layer: str, p: torch.Tensor) -> torch.Tensor:
        """Into a buffer allocated once: a fresh 400 KB copy per logging step is one more large block for glibc to
        place among the step's own and to trim again (page faults: scripts/bench.py epoch counts them)."""
        w = sample(p)
        buf = self.buffers.get((layer, id(p)))  # a weight tied into two layers: a copy for each
        if buf is None or buf.shape != w.shape or buf.device != w.device or buf.dtype != w.dtype:
            buf = self.buffers[(layer, id(p))] = torch.empty_like(w, memory_format=torch.contiguous_format)
        return buf.copy_(w)

    def read_gradients(self, params: set[int] | None = None) -> None:
        """The armed step's weight-gradient norms as they are now (params: of these parameters only; added to
        those read before)."""
        self.grads = self.grads or {}
        for layer, norms in grad_norms(self.modules, params).items():
            self.grads.setdefault(layer, []).extend(norms)
        # every parameter's gradient, biases too: what clip_grad_norm_ bounds
        grads = [p.grad for p in self.model.parameters() if p.grad is not None and (params is None or id(p) in params)]
        if grads:
            self.total.append(torch.linalg.vector_norm(torch.stack([n.float() for n in torch._foreach_norm(grads)])))

    # hooks: they keep references only, what is measured is decided in collect() and statistics()
    def _keep(self, key: str, value: torch.Tensor) -> None:
        self.seen.setdefault(key, []).append(value)

    def _retain(self, layer: str, output) -> None:
        if torch.is_tensor(output) and output.requires_grad:
            output.retain_grad()
            self.retained.setdefault(layer, []).append(output)

    def _layer_hook(self, name: str):
        def hook(module, inputs, output):
            self._retain(name, first_tensor(output))

        return hook

    def keep_preact(self, layer: str, z: torch.Tensor) -> bool:
        """Keep a layer's pre-activations (an activation's input); False for a call after another layer."""
        dim, units = self.layers.unit_dim(layer), self.layers.units(layer)
        if units is not None and (z.dim() < 2 or z.shape[dim] != units):
            return False
        if z.dim() > 2:  # a channel (or a sequence's feature) is a unit, each (sample, position) a sample
            z = _every_nth(z.movedim(dim, -1).reshape(-1, z.shape[dim]), CONV_SAMPLES)
        self._keep(f"preact/{layer}", _compact(z))
        return True

    def kinds(self) -> dict[str, str]:
        """layer -> the kind of activation after it: its module's, or the function's the probe saw."""
        return {**self.functional, **{layer: kind for layer, (_, kind) in self.acts.items()}}

    def _act_hook(self, layer: str):
        def hook(module, inputs, output):
            if self.keep_preact(layer, inputs[0].detach()):
                self._retain(layer, inputs[0])

        return hook

    def _output_hook(self, module, inputs, output) -> None:
        logits = logits_of(output)
        if logits is None or logits.dim() < 2:  # a scalar: the loss of a call redirected to training_step (Lightning)
            return
        self._keep("logits", _compact(flat_scores(logits.detach())))
        if self.layers.output is not None:
            self._retain(self.layers.output, logits)

    def collect(self) -> Capture:
        """The armed step's raw measurements; removes the hooks. Besides the norms, references only: a caller that
        keeps a capture beyond the step copies it (monitor.Pending)."""
        self.disarm()
        names, norms = step_norms(self.modules, self.retained, self.before, self.grads)
        if self.total:
            names, norms = [*names, tags.GRAD_TOTAL], [*norms, torch.linalg.vector_norm(torch.stack(self.total))]
        tensors = {"norms": torch.stack(norms)} if norms else {}
        for key, parts in self.seen.items():  # parts of another width (a module reused elsewhere) are left out
            parts = [t for t in parts if t.shape[1:] == parts[0].shape[1:]]
            tensors[key] = parts[0] if len(parts) == 1 else torch.cat(parts)
        if "logits" in tensors and self.target is not None and len(self.target) == len(tensors["logits"]):
            tensors["target"] = self.target
        self.seen, self.target, self.before, self.retained, self.grads = {}, None, {}, {}, None
        return Capture(tuple(names), tensors)

    def statistics(self, capture: Capture) -> dict[str, torch.Tensor]:
        """Tagged values of one capture (0-dim tensors), or of n stacked captures ([n] tensors)."""
        t, stats = capture.tensors, {}
        for tag, norm in zip(capture.norm_tags, t["norms"].unbind(dim=-1) if "norms" in t else ()):
            if tag.startswith("moved/"):
                name = tag.removeprefix("moved/")
                stats[tags.update_ratio(name)] = norm / _weight_sample_norm(self.modules[name], stats, name)
            else:
                stats[tag] = norm
        for layer, kind in self.kinds().items():
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

    def gradients(self, x, target: torch.Tensor, loss_fn) -> dict[str, torch.Tensor]:
        """Each layer's gradient statistics on a fixed batch (norms.gradient_shares), in eval mode, without an
        optimizer step and without touching .grad; loss_fn(logits, target, reduction="mean")."""
        with evaluating(self.model), torch.enable_grad():
            logits = logits_of(call(self.model, x))
            if logits.dim() > 2 and logits.shape[:-1].numel() == len(target):  # [B, T, V] against [B*T] labels
                logits = flat_scores(logits)
            return gradient_shares(self.modules, loss_fn(logits, target, reduction="mean"))

    def adam(self, optimizers) -> dict[str, torch.Tensor]:
        """Per layer, Adam's eps_fraction and sqrt_v_median (adam.py); epoch ends only."""
        return adam_stats(self.modules, optimizers)

    @torch.no_grad()
    def probe(self, x, target: torch.Tensor, whole: bool = False) -> tuple[dict[str, torch.Tensor],
                                                                             dict[str, torch.Tensor]]:
        """Forward a fixed probe batch in eval mode: (scalars incl. each hidden layer's dead fraction, the inputs'
        RMS, each weight layer's gain, the accuracy; tensors for histograms). whole: in one piece (its labels are
        per output row), else in chunks of PROBE_CHUNK samples."""
        parts = []
        with evaluating(self.model):
            for i in range(0, 1 if whole else length(x), PROBE_CHUNK):
                self.arm(target if whole else target[i : i + PROBE_CHUNK] if target is not None else None,
                         update=False)
                with FunctionalActs(self, self.functional):
                    call(self.model, x if whole else rows(x, i, i + PROBE_CHUNK))
                parts.append(self.collect())
        # the chunks' captures together; a conv layer's samples thinned again to about CONV_SAMPLES
        capture = Capture(parts[0].norm_tags, {k: parts[0].tensors[k] if k == "norms" else
                                               torch.cat([p.tensors[k] for p in parts]) for k in parts[0].tensors})
        capture.tensors.update({k: _every_nth(v, CONV_SAMPLES) for k, v in capture.tensors.items()
                                if k.startswith("preact/")})
        stats = self.statistics(capture)
        first = floating(x)
        if first is not None:
            stats[tags.INPUT_RMS] = first.float().square().mean().sqrt()
            stats[tags.INPUT_MIN], stats[tags.INPUT_MAX] = first.amin().float(), first.amax().float()
        hists = {}
        if "logits" in capture.tensors:
            logits = capture.tensors["logits"]
            hists[tags.LOGITS] = logits
            if target is not None and len(logits) == len(target):
                stats[tags.ACC_PROBE] = torch.mean(logits.argmax(dim=-1) == target, dtype=torch.float32)
        for layer, kind in self.kinds().items():  # over the probe set: the usual "dead"
            if f"preact/{layer}" not in capture.tensors:  # a layer the probe's forward pass does not reach
                continue
            stats[tags.dead(layer)] = stats.pop(tags.dead_batch(layer))
            stats[tags.saturated(layer)] = stats.pop(tags.saturated_batch(layer))
            z = capture.tensors[f"preact/{layer}"]
            hists[tags.preact(layer)] = _every_nth(z.flatten(), HIST_VALUES)
            stats.update({tags.unit_stat(layer, k): v for k, v in rule_unit_stats(z, kind).items()})
        for name, m in self.layers.weighted.items():
            w = m.weight.detach()
            stats[tags.weight_gain(name)] = (w.square().mean().sqrt() * math.sqrt(w[0].numel())).float()  # x fan-in
            stats[tags.weight_var(name)] = w.var().float()
            hists[tags.weights(name)] = _every_nth(w.reshape(-1), HIST_VALUES)
            if m.bias is not None:
                hists[tags.bias(name)] = m.bias.detach()
        return stats, hists


def _weight_sample_norm(m: nn.Module, stats: dict, name: str) -> torch.Tensor:
    """||w|| over the entries the update was measured on: the weight norm itself unless a tensor was sampled."""
    if all(p.numel() <= UPDATE_SAMPLE for p in trainable(m)) and len(trainable(m)) == len(weights_of(m)):
        return stats[tags.weight_norm(name)]
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(sample(p)) for p in trainable(m)])).float()


def _compact(t: torch.Tensor) -> torch.Tensor:
    """A capture of its own, in float32 (bf16 under autocast) or float64: a strided view would keep the whole
    batch's activations alive until the step is collected."""
    if t.dtype not in (torch.float32, torch.float64):
        return t.float()
    return t if t.is_contiguous() else t.contiguous()


def _every_nth(t: torch.Tensor, limit: int) -> torch.Tensor:
    """About limit of t's rows, evenly strided; t itself when it has no more."""
    stride = -(-t.shape[0] // limit)
    return t[::stride] if stride > 1 else t
