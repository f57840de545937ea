"""What a program learns, found from the loss that consumes the model's output: classification (cross-entropy or NLL
over classes), binary or multi-label (binary cross-entropy), regression (MSE, L1, smooth L1, Huber), generative
(a reconstruction: the target is the model's own input), or unknown (a loss written by hand). The task decides
what a failing run is (explain/facts.py) and which causes apply (each cause's `tasks`)."""

from __future__ import annotations

import torch
from torch import nn

from ..tags import TASKS

# a loss, by the name of its functional form -> the task it trains
LOSS_TASKS = {"cross_entropy": "classification", "nll_loss": "classification",
              "binary_cross_entropy": "binary", "binary_cross_entropy_with_logits": "binary",
              "mse_loss": "regression", "l1_loss": "regression", "smooth_l1_loss": "regression",
              "huber_loss": "regression"}
MODULES = {nn.CrossEntropyLoss: "cross_entropy", nn.NLLLoss: "nll_loss", nn.BCELoss: "binary_cross_entropy",
           nn.BCEWithLogitsLoss: "binary_cross_entropy_with_logits", nn.MSELoss: "mse_loss", nn.L1Loss: "l1_loss",
           nn.SmoothL1Loss: "smooth_l1_loss", nn.HuberLoss: "huber_loss"}
assert set(LOSS_TASKS.values()) <= set(TASKS)


def loss_name(loss) -> str | None:
    """A loss module's or function's name as its functional form is called (nn.MSELoss -> mse_loss)."""
    if loss is None:
        return None
    if isinstance(loss, nn.Module):
        return MODULES.get(type(loss), type(loss).__name__)
    return getattr(loss, "__name__", None)


def reconstructs(target, inputs) -> bool:
    """Whether a loss's target is the model's input itself (an autoencoder's, a VAE's reconstruction term)."""
    x = inputs[0] if isinstance(inputs, (list, tuple)) and inputs else inputs
    return torch.is_tensor(target) and torch.is_tensor(x) and target.shape == x.shape and \
        target.dtype == x.dtype and bool(torch.equal(target, x))


def task_of(loss: str | None, reconstruction: bool = False) -> str:
    """The task a loss trains; a reconstruction is generative whatever its loss."""
    if reconstruction:
        return "generative"
    return LOSS_TASKS.get(loss, "unknown") if loss else "unknown"


class Targets:
    """A regression's or a binary classifier's training targets, summed on the device (in float64: a sum of squares
    in float32 loses the variance of targets far from 0) over the first epoch: the baseline the run is judged
    against, the loss of predicting their mean (their variance, for the mean squared error; the entropy of the
    positive rate, for binary cross-entropy). Nothing syncs until summary().

    binary: a call whose targets are all equal is left out (a GAN's discriminator is given all-real, then all-fake
    batches: their rate says nothing of a classifier's baseline); weighted in on the device, so no branch syncs.

    The robust losses' best constant is near the median, not the mean: the first KEPT target values are copied (on
    the device) and give the loss of predicting their median, L1's (the mean absolute deviation) and Huber's at
    delta 1 (smooth L1 at beta 1 is the same)."""

    KEPT = 4096

    def __init__(self, binary: bool = False):
        self.binary = binary
        self.sums: list | None = None
        self.kept: list[torch.Tensor] = []
        self.room = 0 if binary else self.KEPT

    def see(self, target: torch.Tensor) -> None:
        t = target.detach().reshape(-1).double() if target.device.type != "mps" else target.detach().reshape(-1)
        if not t.numel():
            return
        if self.room:
            self.kept.append(t[: self.room].clone())
            self.room -= len(self.kept[-1])
        keep = (t.amax() != t.amin()).to(t.dtype) if self.binary else t.new_ones(())
        found = [t.sum() * keep, t.square().sum() * keep, t.numel() * keep]
        self.sums = found if self.sums is None else [a + b for a, b in zip(self.sums, found)]

    def summary(self) -> dict | None:
        if self.sums is None or not self.sums[2]:
            return None
        total, squares, n = (float(v) for v in self.sums)
        mean = total / n
        found = {"mean": mean, "var": max(squares / n - mean * mean, 0.0), "values": int(n)}
        if self.kept:
            t = torch.cat(self.kept)
            off = (t - t.median()).abs()
            found.update(median=float(t.median()), l1=float(off.mean()),
                         huber=float(torch.where(off < 1, 0.5 * off.square(), off - 0.5).mean()))
        return found
