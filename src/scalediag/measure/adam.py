"""Adam's own state, per layer: where its eps dominates the sqrt(v) term it is added to. Read at epoch ends only
(the step count is a host sync)."""

from __future__ import annotations

import math

import torch
from torch import nn

from .. import tags
from .stats import eps_dominance


def eps_convention(group: dict, state: dict) -> tuple[float, float]:
    """(scale, eps): the term Adam adds eps to is sqrt(v) / scale, in the optimizer's own convention. Keras's Adam
    (a param group with "keras_eps", scalediag's KerasAdam): sqrt(v) against its eps; torch's Adam and AdamW: the
    bias-corrected sqrt(v) / sqrt(1 - b2^t) against its eps."""
    if "keras_eps" in group:
        return 1.0, group["keras_eps"]
    t = float(state["step"])
    return math.sqrt(1 - group["betas"][1] ** t), group["eps"]


@torch.no_grad()
def adam_stats(linears: dict[str, nn.Linear], optimizer) -> dict[str, torch.Tensor]:
    """Per Linear layer, from Adam's state of its weight: eps_fraction and sqrt_v_median; nothing for a layer without
    that state (before the first step, or an optimizer that keeps no exp_avg_sq)."""
    group_of = {id(p): g for g in optimizer.param_groups for p in g["params"]}
    stats = {}
    for name, m in linears.items():
        state = optimizer.state.get(m.weight)
        if not state or "exp_avg_sq" not in state or id(m.weight) not in group_of:
            continue
        scale, eps = eps_convention(group_of[id(m.weight)], state)
        found = eps_dominance(state["exp_avg_sq"].sqrt() / scale, eps)
        stats[tags.eps_fraction(name)] = found["eps_fraction"]
        stats[tags.sqrt_v_median(name)] = found["sqrt_v_median"]
    return stats
