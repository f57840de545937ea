"""The 2-norms one measured step needs, from one _foreach_norm call: each Linear's weight, bias and weight gradient,
the RMS of the loss gradient at its output, and how far the step moved its weights; and, once per epoch on the
probe set, each weight gradient's mean |g| and share of exact zeros, which published rule sets read."""

from __future__ import annotations

import math

import torch
from torch import nn

from .. import tags


def step_norms(linears: dict[str, nn.Linear], retained: dict[str, torch.Tensor],
               before: dict[str, torch.Tensor]) -> tuple[list[str], list[torch.Tensor]]:
    """(names, 0-dim norms). retained: layer -> its output, whose gradient autograd kept; before: layer -> a copy of
    its weights before the step, turned into w_armed - w in place (no 400 KB temporary), named "moved/<layer>"."""
    plain: dict[str, torch.Tensor] = {}  # tag -> tensor whose 2-norm is the statistic
    for name, m in linears.items():
        plain[tags.weight_norm(name)] = m.weight.detach()
        if m.bias is not None:
            plain[tags.bias_norm(name)] = m.bias.detach()
        if m.weight.grad is not None:
            plain[tags.grad_norm(name)] = m.weight.grad
    out_grads = {name: retained[name].grad for name in linears
                 if name in retained and retained[name].grad is not None}
    moved = list(before.values())
    if moved:
        torch._foreach_sub_(moved, [linears[n].weight.detach() for n in before])
    norms = torch._foreach_norm([*plain.values(), *out_grads.values(), *moved])
    if out_grads:  # rms = ||g|| / sqrt(numel)
        torch._foreach_div_(norms[len(plain) : len(plain) + len(out_grads)],
                            [math.sqrt(g.numel()) for g in out_grads.values()])
    names = [*plain, *(tags.output_rms(n) for n in out_grads), *(f"moved/{n}" for n in before)]
    return names, list(norms)


def gradient_shares(linears: dict[str, nn.Linear], loss: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per Linear, the mean |g| and the share of exactly-zero entries of d loss / d weight, through autograd.grad:
    the weights' .grad stays as the training loop left it. Once per epoch, not per logging step: there the two
    reductions cost ~1% of an epoch here (scripts/bench.py epoch)."""
    weights = [m.weight for m in linears.values()]
    grads = torch.autograd.grad(loss, weights, allow_unused=True)
    found = {}
    for name, g in zip(linears, grads):
        if g is None:  # a layer the loss does not reach
            continue
        found[tags.grad_mean_abs(name)] = g.abs().mean()
        found[tags.grad_zero_fraction(name)] = 1 - g.sign().abs().mean()  # elementwise: 6x faster than (g == 0)
    return found
