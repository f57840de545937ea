"""The statistics of the diagnostics: small pure functions over [..., B, X] tensors (B samples, X units or
classes), one kernel or a few per statistic whatever the leading dimensions, so that n captured steps stacked
along a first dimension are computed at once; each is tested on a hand-made tensor. Nothing here syncs."""

from __future__ import annotations

import math

import torch

# keras.backend.epsilon(), the clamp of the question's loss where the clipped fraction is measured: defined once
from ..tags import KERAS_EPSILON  # noqa: F401



def fraction(mask: torch.Tensor) -> torch.Tensor:
    """Share of True along the last dimension, in one kernel."""
    return torch.mean(mask, dim=-1, dtype=torch.float32)


SATURATION = 0.01  # a unit is saturated for a sample where its activation's derivative is below 1% of its maximum
_EDGE = math.atanh(math.sqrt(1 - SATURATION))  # 1 - tanh(z)^2 < 1%  <=>  |z| > 2.993


def _gelu_slope(z: torch.Tensor) -> torch.Tensor:
    return 0.5 * (1 + torch.erf(z / math.sqrt(2))) + z * torch.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


# the slopes' maxima on a grid, in plain Python: a torch computation at import would start OpenMP's threads, and a
# script that forks after importing scalediag (Hogwild, under `scalediag run`) then hangs in its children's first
# parallel op (GNU OpenMP is not fork-safe)
_GELU_MAX = max(0.5 * (1 + math.erf(z / math.sqrt(2))) + z * math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
                for z in (i / 1000 for i in range(4001)))  # 1.129, at z = 1.41


def _silu_slope(z: torch.Tensor) -> torch.Tensor:
    s = torch.sigmoid(z)
    return s * (1 + z * (1 - s))


_SILU_MAX = max((s := 1 / (1 + math.exp(-z))) * (1 + z * (1 - s)) for z in (i / 1000 for i in range(6001)))  # 1.100

# activation -> where its derivative at the pre-activation z is below SATURATION x its maximum
SATURATES = {
    "relu": lambda z: z <= 0,  # derivative 0 (torch's relu'(0) is 0)
    "leaky_relu": lambda z: torch.zeros_like(z, dtype=torch.bool),  # slope 0.01 = 1% of 1: never below
    "gelu": lambda z: _gelu_slope(z).abs() < SATURATION * _GELU_MAX,  # far left, and where the slope crosses 0
    "silu": lambda z: _silu_slope(z).abs() < SATURATION * _SILU_MAX,  # likewise
    "elu": lambda z: z < math.log(SATURATION),  # elu'(z) = exp(z) for z < 0: below 1% left of -4.6
    "tanh": lambda z: z.abs() > _EDGE,
    "sigmoid": lambda z: z.abs() > 2 * _EDGE,  # sigmoid' = (1 - tanh(z/2)^2) / 4, its maximum 1/4
}


def dead_fraction(z: torch.Tensor, activation: str = "relu") -> torch.Tensor:
    """Share of units (columns of z [..., B, H], pre-activations; for ReLU also its outputs) saturated for every
    sample: the activation passes (almost) no gradient back through them. For ReLU: zero for every sample."""
    return saturation(z, activation)[0]


def saturated_fraction(z: torch.Tensor, activation: str) -> torch.Tensor:
    """Share of (sample, unit) pairs of z [..., B, H] where the activation is saturated."""
    return saturation(z, activation)[1]


def saturation(z: torch.Tensor, activation: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(dead_fraction, saturated_fraction) of z from one saturation mask, as the diagnostics compute them."""
    mask = SATURATES[activation](z)
    return fraction(mask.all(dim=-2)), fraction(mask.flatten(-2))


def std_mean(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Standard deviation (n - 1) and mean over the last dimension, in two passes: on the CPU torch.std_mean takes
    0.6-0.7 ms for 128k values here, a mean and the norm of the deviations 0.03 ms."""
    mean = x.mean(dim=-1, keepdim=True)
    std = torch.linalg.vector_norm(x - mean, dim=-1) / math.sqrt(max(1, x.shape[-1] - 1))
    return std, mean.squeeze(-1)


def logit_stats(logits: torch.Tensor) -> dict[str, torch.Tensor]:
    """Range and spread of logits [..., B, C]; margin: mean over samples of top-1 minus top-2; sum_dev: the largest
    |sum of a row - 1|, about 0 only where the model already outputs probabilities; zero_fraction: the share exactly
    0 (a ReLU on the output); top_share and top_class: the class most samples are predicted as, and their share."""
    flat = logits.flatten(-2)
    # amin and amax: 10x faster here than aminmax's one pass
    # the class the batch is predicted as most: its share and which it is (batches ordered by class show one)
    shares = torch.nn.functional.one_hot(logits.argmax(dim=-1), logits.shape[-1]).mean(dim=-2, dtype=torch.float32)
    top_share, top_class = shares.max(dim=-1)
    found = {"min": flat.amin(dim=-1), "max": flat.amax(dim=-1), "std": std_mean(flat)[0],
             "sum_dev": (logits.sum(dim=-1) - 1).abs().amax(dim=-1), "zero_fraction": fraction(flat == 0),
             "top_share": top_share, "top_class": top_class.float()}
    if logits.shape[-1] >= 2:  # a regression's single output has no runner-up
        top1, top2 = logits.topk(2, dim=-1).values.unbind(dim=-1)
        found["margin"] = (top1 - top2).mean(dim=-1)
    return found


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


# the bounds SageMaker Debugger's SaturatedActivation rule uses by default (its documentation)
SMD_SATURATED = {"tanh": lambda z: z.abs() > 9.4999, "sigmoid": lambda z: (z < -23) | (z > 16.99999)}


def rule_unit_stats(z: torch.Tensor, activation: str) -> dict[str, torch.Tensor]:
    """What published rule sets read of a hidden layer's pre-activations z [B, H], over the probe set:
    rarely_active: share of units that pass gradient (not saturated, SATURATES) for under 1% of the samples
    (SageMaker Debugger's DeadRelu for ReLU); beyond_5: share of pre-activations with |z| > 5 (DeepDiagnosis's
    saturation); smd_saturated: share of units beyond SageMaker's SaturatedActivation bounds for over 99% of the
    samples (tanh and sigmoid)."""
    active = ~SATURATES[activation](z)
    found = {"rarely_active": fraction(torch.mean(active, dim=-2, dtype=torch.float32) < 0.01),
             "beyond_5": fraction((z.abs() > 5).flatten(-2))}
    if activation in SMD_SATURATED:
        found["smd_saturated"] = fraction(torch.mean(SMD_SATURATED[activation](z), dim=-2, dtype=torch.float32) > 0.99)
    return found
