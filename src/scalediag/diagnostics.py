"""What happens inside the network, measured through hooks attached from outside; the model stays pure.

A measured step is captured, not computed: `collect()` hands back its raw measurements (its norms as one vector,
its pre-activations, logits and labels) and `statistics()` turns one capture, or n captures stacked along a first
dimension, into values. Why: the kernels of a logging step run with caches that the 49 plain steps before it have
filled with other work, 10-20 us each here, so the ~40 kernels of its statistics cost more at each step than all of
them once per epoch over the stacked captures (monitor.StepMonitor). The statistics are small pure functions over
[..., B, X] tensors, one kernel per statistic whatever the leading dimensions, each tested on a hand-made tensor.
Hooks are registered by `arm()` for one step and removed by `collect()`: the steps between two logging points run
the model exactly as without diagnostics (a module with hooks takes PyTorch's slower call path: +1-2% per step,
scripts/bench.py choices). Nothing here syncs with the device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from . import tags
from .losses import KERAS_EPSILON
from .model import ACTIVATIONS
from .optim import eps_convention

KINDS = {module: name for name, module in ACTIVATIONS.items()}  # activation module -> model.activation name


def fraction(mask: torch.Tensor) -> torch.Tensor:
    """Share of True along the last dimension, in one kernel."""
    return torch.mean(mask, dim=-1, dtype=torch.float32)


SATURATION = 0.01  # a unit is saturated for a sample where its activation's derivative is below 1% of its maximum
_EDGE = math.atanh(math.sqrt(1 - SATURATION))  # 1 - tanh(z)^2 < 1%  <=>  |z| > 2.993


def _gelu_slope(z: torch.Tensor) -> torch.Tensor:
    return 0.5 * (1 + torch.erf(z / math.sqrt(2))) + z * torch.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


_GELU_MAX = float(_gelu_slope(torch.linspace(0, 4, 4001)).max())  # 1.129, at z = 1.41

# activation -> where its derivative at the pre-activation z is below SATURATION x its maximum
SATURATES = {
    "relu": lambda z: z <= 0,  # derivative 0 (torch's relu'(0) is 0)
    "leaky_relu": lambda z: torch.zeros_like(z, dtype=torch.bool),  # slope 0.01 = 1% of 1: never below
    "gelu": lambda z: _gelu_slope(z).abs() < SATURATION * _GELU_MAX,  # far left, and where the slope crosses 0
    "tanh": lambda z: z.abs() > _EDGE,
    "sigmoid": lambda z: z.abs() > 2 * _EDGE,  # sigmoid' = (1 - tanh(z/2)^2) / 4, its maximum 1/4
}


def dead_fraction(z: torch.Tensor, activation: str = "relu") -> torch.Tensor:
    """Share of units (columns of z [..., B, H], pre-activations; for ReLU also its outputs) saturated for every
    sample: the activation passes (almost) no gradient back through them. For ReLU: zero for every sample."""
    return fraction(SATURATES[activation](z).all(dim=-2))


def saturated_fraction(z: torch.Tensor, activation: str) -> torch.Tensor:
    """Share of (sample, unit) pairs of z [..., B, H] where the activation is saturated."""
    return fraction(SATURATES[activation](z).flatten(-2))


def std_mean(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Standard deviation (n - 1) and mean over the last dimension, in two passes: on the CPU torch.std_mean takes
    0.6-0.7 ms for 128k values here, a mean and the norm of the deviations 0.03 ms."""
    mean = x.mean(dim=-1, keepdim=True)
    std = torch.linalg.vector_norm(x - mean, dim=-1) / math.sqrt(max(1, x.shape[-1] - 1))
    return std, mean.squeeze(-1)


def logit_stats(logits: torch.Tensor) -> dict[str, torch.Tensor]:
    """Range and spread of logits [..., B, C]; margin: mean over samples of top-1 minus top-2."""
    flat = logits.flatten(-2)
    top1, top2 = logits.topk(2, dim=-1).values.unbind(dim=-1)
    # amin and amax: 10x faster here than aminmax's one pass
    return {"min": flat.amin(dim=-1), "max": flat.amax(dim=-1), "std": std_mean(flat)[0],
            "margin": (top1 - top2).mean(dim=-1)}


def prob_fractions(logits: torch.Tensor, target: torch.Tensor, eps: float = KERAS_EPSILON) -> dict[str, torch.Tensor]:
    """clipped: share of samples whose true-class probability is below eps (where Keras' clamp passes no gradient);
    saturated: share whose largest probability is above 1 - eps. logits [..., B, C], target [..., B]. Computed in
    log space, exact where p underflows."""
    logp = logits.float().log_softmax(dim=-1)
    true = logp.gather(-1, target.unsqueeze(-1)).squeeze(-1)
    return {"clipped_fraction": fraction(true < math.log(eps)),
            "saturated_fraction": fraction(logp.amax(dim=-1) > math.log1p(-eps))}


def preact_stats(z: torch.Tensor) -> dict[str, torch.Tensor]:
    """Mean, standard deviation and largest magnitude of the pre-activations z [..., B, H]."""
    flat = z.flatten(-2)
    std, mean = std_mean(flat)
    return {"preact_mean": mean, "preact_std": std, "preact_max_abs": flat.abs().amax(dim=-1)}  # 20x the inf-norm


def eps_dominance(sqrt_v: torch.Tensor, eps: float) -> dict[str, torch.Tensor]:
    """sqrt_v: per weight, the term Adam adds eps to. eps_fraction: share of weights where eps exceeds it (there the
    step is lr * m / eps, proportional to the gradient); sqrt_v_median: the gradient scale Adam divides by."""
    flat = sqrt_v.flatten()
    return {"eps_fraction": fraction(flat < eps), "sqrt_v_median": flat.median()}


@dataclass
class Capture:
    """A measured step's raw measurements, or n of them stacked along a new first dimension.

    tensors: "norms" [..., k], the 2-norms named by norm_tags (a "moved/<layer>" entry is ||w - w_armed||);
    "preact/<layer>" [..., B, H] per hidden layer; "logits" [..., B, C]; "target" [..., B]; each where the step
    produced it.
    """

    norm_tags: tuple[str, ...]
    tensors: dict[str, torch.Tensor]


def activations(model: nn.Module) -> dict[str, tuple[nn.Module, str]]:
    """layer -> (activation module, its name), for each activation and the Linear layer that feeds it."""
    found, last = {}, None
    for name, m in model.named_modules():
        if isinstance(m, nn.Linear):
            last = name
        elif type(m) in KINDS and last is not None:
            found[last] = (m, KINDS[type(m)])
    return found


class Diagnostics:
    """Forward hooks on the activation modules and on the model's output, for the armed step only; none is left
    after collect() or on exit. A Linear's output is the input of the activation after it, or the model's output
    for the last one: there the hooks keep the tensor and retain its gradient (cheaper than a Linear forward hook
    plus a Python gradient hook each: ~70 us of a logging step here); a Linear whose output neither is gets a hook
    of its own.

        with Diagnostics(model) as diag:

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
        self.linears = {name: m for name, m in model.named_modules() if isinstance(m, nn.Linear)}
        self.acts = activations(model)
        children = list(model.children())
        last = next(reversed(self.linears), None)
        self.output_linear = last if children and children[-1] is self.linears.get(last) else None
        self.other_linears = [n for n in self.linears if n not in self.acts and n != self.output_linear]
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
        for name in self.other_linears:
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
            self.seen[f"preact/{layer}"] = inputs[0].detach()
            self._retain(layer, inputs[0])

        return hook

    def _output_hook(self, module, inputs, output) -> None:
        self.seen["logits"] = output.detach()
        if self.output_linear is not None:
            self._retain(self.output_linear, output)

    def collect(self) -> Capture:
        """The armed step's raw measurements; removes the hooks. Besides the norms, references only: a caller that
        keeps a capture beyond the step copies it (monitor.Pending)."""
        self._detach()
        names, norms = self._norms()
        tensors = {"norms": torch.stack(norms)}
        tensors.update({key: v for key, v in self.seen.items() if key.startswith("preact/") or key == "logits"})
        if "logits" in tensors and self.target is not None:
            tensors["target"] = self.target
        self.seen, self.target, self.before, self.retained = {}, None, {}, {}
        return Capture(tuple(names), tensors)

    def _norms(self) -> tuple[list[str], list[torch.Tensor]]:
        """Every norm the step needs, from one _foreach_norm call once the weight change is formed in place."""
        plain: dict[str, torch.Tensor] = {}  # tag -> tensor whose 2-norm is the statistic
        for name, m in self.linears.items():
            plain[tags.weight_norm(name)], plain[tags.bias_norm(name)] = m.weight.detach(), m.bias.detach()
            if m.weight.grad is not None:
                plain[tags.grad_norm(name)] = m.weight.grad
        out_grads = {name: self.retained[name].grad for name in self.linears
                     if name in self.retained and self.retained[name].grad is not None}
        moved = list(self.before.values())
        if moved:  # the buffers become w_armed - w, in place (no 400 KB temporary)
            torch._foreach_sub_(moved, [self.linears[n].weight.detach() for n in self.before])
        norms = torch._foreach_norm([*plain.values(), *out_grads.values(), *moved])
        if out_grads:  # rms = ||g|| / sqrt(numel)
            torch._foreach_div_(norms[len(plain) : len(plain) + len(out_grads)],
                                [math.sqrt(g.numel()) for g in out_grads.values()])
        names = [*plain, *(tags.output_rms(n) for n in out_grads), *(f"moved/{n}" for n in self.before)]
        return names, list(norms)

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
                stats[tags.dead_batch(layer)] = dead_fraction(z, kind)
                stats[tags.saturated_batch(layer)] = saturated_fraction(z, kind)
        if "logits" in t:
            stats.update({tags.logits(k): v for k, v in logit_stats(t["logits"]).items()})
            if "target" in t:
                fractions = prob_fractions(t["logits"], t["target"], self.clip_eps)
                stats.update({tags.probs(k): v for k, v in fractions.items()})
        return stats

    @torch.no_grad()
    def adam(self, optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
        """Per Linear layer, from Adam's own state of its weight: eps_fraction and sqrt_v_median, in the optimizer's
        convention (optim.eps_convention); nothing before the first step. Reads Adam's step count: epoch ends only."""
        group_of = {id(p): g for g in optimizer.param_groups for p in g["params"]}
        stats = {}
        for name, m in self.linears.items():
            state = optimizer.state.get(m.weight)
            if not state or id(m.weight) not in group_of:
                continue
            scale, eps = eps_convention(optimizer, group_of[id(m.weight)], state)
            found = eps_dominance(state["exp_avg_sq"].sqrt() / scale, eps)
            stats[tags.eps_fraction(name)] = found["eps_fraction"]
            stats[tags.sqrt_v_median(name)] = found["sqrt_v_median"]
        return stats

    @torch.no_grad()
    def probe(self, x: torch.Tensor, target: torch.Tensor) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Forward a fixed probe batch: (scalars incl. each hidden layer's dead fraction, tensors for histograms)."""
        was_training = self.model.training
        self.model.eval()
        self.arm(target, update=False)
        self.model(x)
        capture = self.collect()
        self.model.train(was_training)
        stats = self.statistics(capture)
        hists = {tags.LOGITS: capture.tensors["logits"]}
        for layer in self.acts:  # over the probe set: the usual "dead"
            stats[tags.dead(layer)] = stats.pop(tags.dead_batch(layer))
            stats[tags.saturated(layer)] = stats.pop(tags.saturated_batch(layer))
            hists[tags.preact(layer)] = capture.tensors[f"preact/{layer}"]
        for name, m in self.linears.items():
            hists[tags.weights(name)], hists[tags.bias(name)] = m.weight.detach(), m.bias.detach()
        return stats, hists
