"""What happens inside the network, measured through hooks attached from outside; the model stays pure.

The statistics are small pure functions (tensors in, 0-dim tensors out) so that each can be tested on a hand-made
tensor. `Diagnostics` only calls them. Hooks are registered by `arm()` for one step and removed by `collect()`:
the steps between two logging points run the model exactly as without diagnostics (a module with hooks takes
PyTorch's slower call path: +1-2% per step, scripts/bench.py choices). Nothing here syncs with the device: the
writer does, at the logging cadence.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .losses import KERAS_EPSILON


def dead_fraction(act: torch.Tensor) -> torch.Tensor:
    """Share of units (columns of act [B, H], after the ReLU) that are zero for every sample."""
    return (act <= 0).all(dim=0).float().mean()


def logit_stats(logits: torch.Tensor) -> dict[str, torch.Tensor]:
    """Range and spread of logits [B, C]; margin: mean over samples of top-1 minus top-2."""
    top2 = logits.topk(2, dim=1).values
    low, high = torch.aminmax(logits)  # one pass for both (a logging step runs ~60 small kernels: they add up)
    return {"min": low, "max": high, "std": logits.std(), "margin": (top2[:, 0] - top2[:, 1]).mean()}


def prob_fractions(logits: torch.Tensor, target: torch.Tensor, eps: float = KERAS_EPSILON) -> dict[str, torch.Tensor]:
    """clipped: share of samples whose true-class probability is below eps (where Keras' clamp passes no gradient);
    saturated: share whose largest probability is above 1 - eps. Computed in log space, exact where p underflows."""
    logp = logits.float().log_softmax(dim=1)
    clipped = logp.gather(1, target[:, None]).squeeze(1) < math.log(eps)
    saturated = logp.max(dim=1).values > math.log1p(-eps)
    return {"clipped_fraction": clipped.float().mean(), "saturated_fraction": saturated.float().mean()}


def preact_stats(z: torch.Tensor) -> dict[str, torch.Tensor]:
    std, mean = torch.std_mean(z)
    low, high = torch.aminmax(z)
    return {"preact_mean": mean, "preact_std": std, "preact_max_abs": torch.maximum(-low, high)}


class Diagnostics:
    """Forward hooks on the Linear and ReLU modules and on the model's output, and gradient hooks on the Linear
    outputs, for the armed step only; none is left after collect() or on exit:

        with Diagnostics(model) as diag:
            diag.arm(y)            # before the forward pass of a step to be measured
            ...forward, backward, optimizer step...
            stats = diag.collect()  # {tag: 0-dim tensor}

    update/<layer>/ratio, ||w - w_armed|| / ||w_armed||, is the step's relative size: arm() keeps a copy of the
    weights, collect() compares. No optimizer hook is needed, so the step can be any call that updates the weights.
    """

    def __init__(self, model: nn.Module, clip_eps: float = KERAS_EPSILON):
        self.model, self.clip_eps = model, clip_eps
        self.linears = {name: m for name, m in model.named_modules() if isinstance(m, nn.Linear)}
        self.relus = {name: m for name, m in model.named_modules() if isinstance(m, nn.ReLU)}
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
        self.armed, self.target, self.seen = True, target, {}
        self.before = {name: self._copy(name, m.weight) for name, m in self.linears.items()} if update else {}
        for name, m in self.linears.items():
            self.handles.append(m.register_forward_hook(self._linear_hook(name)))
        for m in self.relus.values():
            self.handles.append(m.register_forward_hook(self._relu_hook))
        self.handles.append(self.model.register_forward_hook(self._output_hook))

    def _copy(self, name: str, weight: torch.Tensor) -> torch.Tensor:
        """Into a buffer allocated once: a fresh 400 KB copy per logging step is one more large block for glibc to
        place among the step's own and to trim again (page faults: scripts/bench.py epoch counts them)."""
        buf = self.buffers.get(name)
        if buf is None or buf.shape != weight.shape or buf.device != weight.device or buf.dtype != weight.dtype:
            buf = self.buffers[name] = torch.empty_like(weight, memory_format=torch.contiguous_format)
        return buf.copy_(weight.detach())

    # hooks: they keep references only, the statistics are computed once in collect()
    def _linear_hook(self, name: str):
        def hook(module, inputs, output):
            if output.requires_grad:
                output.register_hook(lambda g: self.seen.__setitem__(f"output_grad/{name}", g))

        return hook

    def _relu_hook(self, module, inputs, output) -> None:
        self.seen["preact"], self.seen["act"] = inputs[0].detach(), output.detach()

    def _output_hook(self, module, inputs, output) -> None:
        self.seen["logits"] = output.detach()

    def collect(self) -> dict[str, torch.Tensor]:
        """The armed step's statistics as 0-dim tensors, tagged for TensorBoard; removes the hooks."""
        self._detach()
        seen, stats = self.seen, {}
        stats.update(self._norms())
        if "preact" in seen:
            stats.update({f"act/hidden/{k}": v for k, v in preact_stats(seen["preact"]).items()})
            stats["relu/dead_fraction_batch"] = dead_fraction(seen["act"])
        if "logits" in seen:
            stats.update({f"logits/{k}": v for k, v in logit_stats(seen["logits"]).items()})
            if self.target is not None:
                fractions = prob_fractions(seen["logits"], self.target, self.clip_eps)
                stats.update({f"probs/{k}": v for k, v in fractions.items()})
        self.seen, self.target, self.before = {}, None, {}
        return stats

    def _norms(self) -> dict[str, torch.Tensor]:
        """Every norm the step needs, from two _foreach_norm calls (one before the weight change is formed in place)."""
        plain: dict[str, torch.Tensor] = {}  # tag -> tensor whose 2-norm is the statistic
        for name, m in self.linears.items():
            plain[f"weights/{name}/norm"], plain[f"bias/{name}/norm"] = m.weight.detach(), m.bias.detach()
            if m.weight.grad is not None:
                plain[f"grad/{name}/norm"] = m.weight.grad
        out_grads = {name: self.seen[f"output_grad/{name}"] for name in self.linears
                     if f"output_grad/{name}" in self.seen}
        before = list(self.before.values())
        norms = torch._foreach_norm([*plain.values(), *out_grads.values(), *before])
        if before:  # the buffers become w_armed - w, in place (no 400 KB temporary)
            torch._foreach_sub_(before, [self.linears[n].weight.detach() for n in self.before])
        moved = torch._foreach_norm(before) if before else []
        k, g = len(plain), len(out_grads)
        stats = dict(zip(plain, norms[:k]))
        for (name, grad), norm in zip(out_grads.items(), norms[k : k + g]):
            stats[f"grad/{name}/output_rms"] = norm / math.sqrt(grad.numel())  # rms = ||g|| / sqrt(numel)
        for name, step, weight in zip(self.before, moved, norms[k + g :]):
            stats[f"update/{name}/ratio"] = step / weight  # ||w - w_armed|| / ||w_armed||
        return stats

    @torch.no_grad()
    def probe(self, x: torch.Tensor, target: torch.Tensor) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Forward a fixed probe batch: (scalars incl. relu/dead_fraction, tensors for histograms)."""
        was_training = self.model.training
        self.model.eval()
        self.arm(target, update=False)
        self.model(x)
        seen = dict(self.seen)
        stats = self.collect()
        self.model.train(was_training)
        stats["relu/dead_fraction"] = stats.pop("relu/dead_fraction_batch")  # over the probe set: the usual "dead"
        hists = {"act/hidden/preact": seen["preact"], "logits": seen["logits"]}
        for name, m in self.linears.items():
            hists[f"weights/{name}"], hists[f"bias/{name}"] = m.weight.detach(), m.bias.detach()
        return stats, hists
