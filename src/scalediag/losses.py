"""Per-sample losses on logits [B, 10] and integer targets [B]; the caller takes the mean."""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from omegaconf import DictConfig

KERAS_EPSILON = 1e-7  # keras.backend.epsilon(): the clamp of the question's loss; -ln(1e-7) = 16.118


def cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, target, reduction="none")


def keras_clipped(logits: torch.Tensor, target: torch.Tensor, eps: float = KERAS_EPSILON) -> torch.Tensor:
    """Keras' sparse_categorical_crossentropy on softmax outputs: clamp, then -log.

    clamp passes no gradient outside [eps, 1 - eps], so a sample whose true-class probability underflows the clamp
    contributes a loss of -ln(eps) and exactly zero gradient.
    """
    p_true = logits.softmax(dim=1).gather(1, target[:, None]).squeeze(1)
    return -p_true.clamp(eps, 1 - eps).log()


def get_loss(cfg: DictConfig):
    if cfg.name == "cross_entropy":
        return cross_entropy
    if cfg.name == "keras_clipped":
        return functools.partial(keras_clipped, eps=cfg.clip_eps)
    raise ValueError(f"unknown loss {cfg.name!r}")
