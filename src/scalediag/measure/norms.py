"""The 2-norms one measured step needs, from one _foreach_norm call: each layer's weight, bias and weight gradient,
the RMS of the loss gradient at its output, and how far the step moved its weights; and, once per epoch on the
probe set, each weight gradient's mean |g| and share of exact zeros, which published rule sets read.

A layer with several weight tensors (an LSTM's weight_ih_l0 and weight_hh_l0, ...) has one norm over all of them:
the square root of the sum of their squared norms."""

from __future__ import annotations

import math

import torch
from torch import nn

from .. import tags
from .layers import is_bias, own_parameters, trainable

# a larger weight tensor's update is measured on an evenly strided sample of this many entries: copying a 23M-entry
# embedding at each logging step would cost more than the step
UPDATE_SAMPLE = 1 << 20


def sample(p: torch.Tensor) -> torch.Tensor:
    """The entries of p that its update ratio is measured on (all of them up to UPDATE_SAMPLE)."""
    flat = p.detach().reshape(-1)
    stride = -(-flat.numel() // UPDATE_SAMPLE)
    return flat[::stride] if stride > 1 else flat


def grad_norms(modules: dict[str, nn.Module], params: set[int] | None = None) -> dict[str, list[torch.Tensor]]:
    """layer -> the 2-norms of its weights' gradients as they are now (params: only these ids); read where the
    gradient is what the optimizer steps with (an optimizer's step pre-hook: after GradScaler's unscale_)."""
    found: dict[str, list[torch.Tensor]] = {}
    grads, names = [], []
    for name, m in modules.items():
        for p in trainable(m):
            if p.grad is not None and (params is None or id(p) in params):
                grads.append(p.grad.detach())
                names.append(name)
    if not grads:
        return found
    for name, norm in zip(names, torch._foreach_norm(grads)):
        found.setdefault(name, []).append(norm.float())
    return found


def _combined(parts: list[torch.Tensor]) -> torch.Tensor:
    return parts[0] if len(parts) == 1 else torch.linalg.vector_norm(torch.stack(parts))


def step_norms(modules: dict[str, nn.Module], retained: dict[str, list[torch.Tensor]],
               before: dict[str, list[torch.Tensor]], grads: dict[str, list[torch.Tensor]] | None = None
               ) -> tuple[list[str], list[torch.Tensor]]:
    """(names, 0-dim float32 norms). retained: layer -> its outputs, whose gradient autograd kept (several forward
    passes in one step: their RMS together); before: layer -> copies of its trainable weights' samples before the
    step, turned into w_armed - w in place, named "moved/<layer>"; grads: the gradients' norms read earlier
    (grad_norms), else read now."""
    tensors, owner = [], []  # each tensor whose 2-norm is wanted, and the tag it belongs to
    for name, m in modules.items():
        for n, p in own_parameters(m):
            tensors.append(p.detach())
            owner.append(tags.bias_norm(name) if is_bias(n) else tags.weight_norm(name))
    if grads is None:
        grads = grad_norms(modules)
    sizes: dict[str, int] = {}
    for name, outputs in retained.items():
        for out in outputs:
            if out.grad is not None:
                tensors.append(out.grad)
                owner.append(tags.output_rms(name))
                sizes[name] = sizes.get(name, 0) + out.grad.numel()
    moved = [copy for copies in before.values() for copy in copies]
    if moved:
        torch._foreach_sub_(moved, [sample(p) for name in before for p in trainable(modules[name])])
        tensors += moved
        owner += [f"moved/{name}" for name, copies in before.items() for _ in copies]
    parts: dict[str, list[torch.Tensor]] = {}
    for tag, norm in zip(owner, torch._foreach_norm(tensors) if tensors else []):
        parts.setdefault(tag, []).append(norm.float())
    for name, norms in grads.items():
        parts[tags.grad_norm(name)] = norms
    out = {}
    for tag, norms in parts.items():
        out[tag] = _combined(norms)
    for name, size in sizes.items():  # rms = ||g|| / sqrt(numel)
        out[tags.output_rms(name)] = out[tags.output_rms(name)] / math.sqrt(size)
    # the order the report reads the layers in: the model's
    order = [t for name in modules for t in (tags.weight_norm(name), tags.bias_norm(name), tags.grad_norm(name))]
    order += [tags.output_rms(name) for name in modules] + [f"moved/{name}" for name in modules]
    names = [t for t in order if t in out]
    return names, [out[t] for t in names]


def gradient_shares(modules: dict[str, nn.Module], loss: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per layer with trainable weights, the mean |g| and the share of exactly-zero entries of d loss / d weights,
    through autograd.grad: the weights' .grad stays as the training loop left it, and frozen weights are not asked
    for a gradient. Once per epoch, not per logging step: there the two reductions cost ~1% of an epoch here
    (scripts/bench.py epoch)."""
    owned = [(name, p) for name, m in modules.items() for p in trainable(m)]
    if not owned or not loss.requires_grad:
        return {}
    grads = torch.autograd.grad(loss, [p for _, p in owned], allow_unused=True)
    sums: dict[str, list[torch.Tensor]] = {}
    for (name, _), g in zip(owned, grads):
        if g is not None:  # None: a layer the loss does not reach
            sums.setdefault(name, []).append(g.detach().reshape(-1))
    found, total = {}, []
    for name, gs in sums.items():
        g = gs[0] if len(gs) == 1 else torch.cat(gs)
        found[tags.grad_mean_abs(name)] = g.abs().mean().float()
        found[tags.grad_zero_fraction(name)] = (1 - g.sign().abs().mean()).float()  # 6x faster than (g == 0)
        total.append(torch.linalg.vector_norm(g).float())
    if total:
        found[tags.GRAD_PROBE_TOTAL] = torch.linalg.vector_norm(torch.stack(total))
    return found
