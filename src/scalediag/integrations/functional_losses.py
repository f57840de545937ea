"""The functional losses a script calls (F.cross_entropy, F.nll_loss), seen through TorchFunctionModes: the labels of
the first one before watch attaches, then the first one after each of the model's outputs (the epoch's losses)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

LABELLED = {F.cross_entropy: 1, F.nll_loss: 1}  # functional losses -> the position of their target


class Labels(TorchFunctionMode):
    """Sees the target of the first functional loss call; active only until watch attaches."""

    def __init__(self, found: dict):
        super().__init__()
        self.found = found

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in LABELLED and "target" not in self.found:
            target = kwargs.get("target", args[LABELLED[func]] if len(args) > LABELLED[func] else None)
            if torch.is_tensor(target):
                self.found["target"] = target.detach().clone()
                self.found["loss_fn"] = func
        return func(*args, **kwargs)


def _mean_loss(value: torch.Tensor, kwargs: dict, target: torch.Tensor) -> torch.Tensor:
    reduction = kwargs.get("reduction", "mean")
    return value.float().mean() if reduction != "sum" else value.float() / max(len(target), 1)


BACKWARD = (torch.Tensor.backward, torch.autograd.backward)


class Losses(TorchFunctionMode):
    """Sees the first functional loss after one of the model's outputs and hands it to the watcher's seen_loss; where
    none comes before the backward pass (a loss written by hand: a policy gradient, a VAE's terms), the scalar that
    backward() is called on, to its seen_backward."""

    def __init__(self, watcher: object):
        super().__init__()
        self.watcher, self.taken = watcher, True

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in BACKWARD and not self.taken:
            self.taken = True
            loss = kwargs.get("tensors", args[0] if args else None)
            if torch.is_tensor(loss) and loss.numel() == 1:
                self.watcher.seen_backward(loss.detach())
        out = func(*args, **kwargs)
        if func in LABELLED and not self.taken:
            self.taken = True
            target = kwargs.get("target", args[1] if len(args) > 1 else None)
            logits = kwargs.get("input", args[0] if args else None)
            if torch.is_tensor(out) and torch.is_tensor(target) and torch.is_tensor(logits):
                self.watcher.seen_loss(logits.detach(), target, _mean_loss(out.detach(), kwargs, target))
        return out
