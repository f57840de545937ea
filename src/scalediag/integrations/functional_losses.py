"""The functional losses a script calls (F.cross_entropy, F.nll_loss), seen through TorchFunctionModes: the labels of
the first one before watch attaches, then the first one after each of the model's outputs (the epoch's losses)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

LABELLED = {F.cross_entropy: 1, F.nll_loss: 1}  # functional losses -> the position of their target
# the other losses whose name tells the task (measure/task.py): seen for that, not for labels
OTHERS = (F.binary_cross_entropy, F.binary_cross_entropy_with_logits, F.mse_loss, F.l1_loss, F.smooth_l1_loss,
          F.huber_loss)
BACKWARD = (torch.Tensor.backward, torch.autograd.backward)


class Labels(TorchFunctionMode):
    """Sees the target of the first functional loss call; active only until watch attaches."""

    def __init__(self, found: dict):
        super().__init__()
        self.found = found

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in BACKWARD:  # a backward pass before any optimizer step: a loop that may update by hand
            tensor = kwargs.get("tensors", args[0] if args else None)
            if "backward" not in self.found and torch.is_tensor(tensor):
                self.found["composite"] = not made_of_losses(tensor, self.found.pop("loss_outputs", []))
            self.found["backward"] = True
        # a labelled loss's target is the probe's labels, and names the loss even after another (a regulariser)
        if (func in LABELLED and "target" not in self.found) or (func in OTHERS and "loss_fn" not in self.found):
            target = kwargs.get("target", args[1] if len(args) > 1 else None)
            if torch.is_tensor(target):
                self.found["loss_fn"], self.found["loss_target"] = func, target.detach().clone()
                if func in LABELLED:
                    self.found["target"] = self.found["loss_target"]
        out = func(*args, **kwargs)
        if (func in LABELLED or func in OTHERS) and "backward" not in self.found and torch.is_tensor(out) and \
                out.grad_fn is not None:
            self.found.setdefault("loss_outputs", []).append(out.grad_fn)  # kept until the first backward only
        return out


# what a sum of losses is made of: their sum, mean, scaling and stacking (a GAN's real + fake terms)
ARITHMETIC = {"AddBackward0", "AddBackward1", "SumBackward0", "SumBackward1", "MeanBackward0", "MeanBackward1",
              "MulBackward0", "DivBackward0", "StackBackward0", "CatBackward0"}


def made_of_losses(tensor: torch.Tensor, outputs: list) -> bool:
    """Whether the scalar a backward pass starts from is the losses seen (one, or a sum or mean of several), rather
    than a loss with terms of its own beside them (an actor-critic's policy term written by hand beside its value
    loss): only then does the regression or binary baseline describe what is minimised. Walks the graph from the
    scalar down to the losses' own nodes, through arithmetic only."""
    losses, stack, seen = set(outputs), [tensor.grad_fn], set()
    if not losses:
        return False
    while stack:
        fn = stack.pop()
        if fn is None or fn in losses or fn in seen:
            continue
        seen.add(fn)
        if type(fn).__name__ not in ARITHMETIC or len(seen) > 10_000:
            return False
        stack.extend(f for f, _ in fn.next_functions)
    return True


def _mean_loss(value: torch.Tensor, kwargs: dict, target: torch.Tensor) -> torch.Tensor:
    reduction = kwargs.get("reduction", "mean")
    return value.float().mean() if reduction != "sum" else value.float() / max(len(target), 1)


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
        if func in OTHERS:  # a regression's targets: its baseline (the watcher keeps those of the first epoch)
            target = kwargs.get("target", args[1] if len(args) > 1 else None)
            if torch.is_tensor(target):
                self.watcher.seen_target(target)
        if func in LABELLED and not self.taken:
            self.taken = True
            target = kwargs.get("target", args[1] if len(args) > 1 else None)
            logits = kwargs.get("input", args[0] if args else None)
            if torch.is_tensor(out) and torch.is_tensor(target) and torch.is_tensor(logits):
                self.watcher.seen_loss(logits.detach(), target, _mean_loss(out.detach(), kwargs, target))
        return out
