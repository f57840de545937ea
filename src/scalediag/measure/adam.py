"""Adam's own state, per layer: where its eps dominates the sqrt(v) term it is added to. Read at epoch ends only
(the step count is a host sync)."""

from __future__ import annotations

import math

import torch
from torch import nn

from .. import tags
from .layers import weights_of
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
def adam_stats(modules: dict[str, nn.Module], optimizers) -> dict[str, torch.Tensor]:
    """Per layer, from Adam's state of its weights: eps_fraction and sqrt_v_median over all of them; nothing for a
    layer without that state (frozen, before the first step, or an optimizer that keeps no exp_avg_sq).
    optimizers: one optimizer or several."""
    optimizers = optimizers if isinstance(optimizers, (list, tuple)) else [optimizers]
    owner = {id(p): (opt, g) for opt in optimizers for g in opt.param_groups for p in g["params"]}
    stats = {}
    for name, m in modules.items():
        terms, eps = [], None
        for p in weights_of(m):
            opt, group = owner.get(id(p), (None, None))
            state = opt.state.get(p) if opt is not None else None
            if not state or "exp_avg_sq" not in state:
                continue
            scale, eps = eps_convention(group, state)
            terms.append((state["exp_avg_sq"].sqrt() / scale).reshape(-1))
        if terms:
            found = eps_dominance(terms[0] if len(terms) == 1 else torch.cat(terms), eps)
            stats[tags.eps_fraction(name)] = found["eps_fraction"]
            stats[tags.sqrt_v_median(name)] = found["sqrt_v_median"]
    return stats
