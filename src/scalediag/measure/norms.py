"""The norms one measured step needs, from one _foreach_norm call each for the 2- and 1-norms: each Linear's weight,
bias and weight gradient, the RMS of the loss gradient at its output, how far the step moved its weights; and the
gradient's mean |g| and share of exact zeros, which published rule sets read."""

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
    grads = {name: m.weight.grad for name, m in linears.items() if m.weight.grad is not None}
    if grads:
        l1 = torch._foreach_norm(list(grads.values()), ord=1)
        torch._foreach_div_(l1, [float(g.numel()) for g in grads.values()])
        zeros = [torch.mean(g == 0, dtype=torch.float32) for g in grads.values()]
        names += [*(tags.grad_mean_abs(n) for n in grads), *(tags.grad_zero_fraction(n) for n in grads)]
        norms = [*norms, *l1, *zeros]
    return names, list(norms)
