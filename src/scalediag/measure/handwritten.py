"""A loop without torch.optim: the update written by hand (`p -= lr * p.grad` under no_grad, `p.data.add_(...)`, an
optimizer class of the program's own). There is no step hook to follow, so a step is read from autograd instead:

- a step's gradients are complete when a backward pass through the model's parameters ends (a post-accumulate-grad
  hook on each parameter queues one callback per backward pass at the engine's end: every .grad is then final,
  before the loop's update and before it zeroes .grad);
- the update follows the backward pass; the step ends when the model is next called, or the epoch ends.

So one step is one backward pass followed by the model's next call. A hand-written loop that accumulates several
backward passes into one update counts each of them as a step (their measured update is then 0 between updates);
`p.data` updates leave no version count to tell them apart by. The measured steps are otherwise measured as an
optimizer's are: the weights copied when the step begins, compared when it ends (hooks.py).
"""

from __future__ import annotations

import torch
from torch.autograd.variable import Variable

from ..record import HAND_WRITTEN
from .norms import sample
from .steps import OptimizerSteps


class HandWritten:
    """What watch keeps in an optimizer's place: the parameters a hand-written update can change (every one that
    requires grad), without state or a learning rate."""

    name = HAND_WRITTEN

    def __init__(self, model: torch.nn.Module):
        self.param_groups = [{"params": [p for p in model.parameters() if p.requires_grad]}]
        self.state: dict = {}


def fingerprint(module: torch.nn.Module) -> list[torch.Tensor]:
    """Up to UPDATE_SAMPLE entries of each weight that requires grad, copied: enough to see an update change them
    (`scalediag run` compares them at the model's next call to find a hand-written update)."""
    return [sample(p).clone() for p in module.parameters() if p.requires_grad]


def updated_by_hand(module: torch.nn.Module, before: list | None, backward: bool) -> bool:
    """Whether the module's weights changed since fingerprint() took before, after a backward pass (seen, or left
    in .grad) and without a torch.optim step: the loop updates them itself."""
    if before is None or not (backward or any(p.grad is not None for p in module.parameters())):
        return False
    return any(not torch.equal(a, b) for a, b in zip(before, fingerprint(module)))


class BackwardSteps(OptimizerSteps):
    """OptimizerSteps' state machine, with a backward pass's end in place of the optimizer's step pre-hook and the
    model's next call (or the epoch's end) in place of its post-hook."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.update = self.optimizers[0]
        self.queued = False  # this backward pass's end callback is queued
        self.pending = False  # a backward pass has ended: the update comes before the model's next call

    def attach(self) -> None:
        self.handles.append(self.model.register_forward_pre_hook(self.guard(self._forward), with_kwargs=True))
        for p in self.update.param_groups[0]["params"]:
            self.handles.append(p.register_post_accumulate_grad_hook(self.guard(self._accumulated)))

    def counted(self, steps: int) -> None:
        """Steps taken before watch attached (`scalediag run` attaches after the first update it saw)."""
        self.monitor.step += steps

    def _accumulated(self, p) -> None:
        if not self.queued:
            self.queued = True
            Variable._execution_engine.queue_callback(self.guard(self._backward_end))

    def _backward_end(self) -> None:
        self.queued = False
        if not self.open or self.stepped:  # a backward pass whose forward did not call the watched module itself
            self._begin()
        if self.armed:
            self.diag.read_gradients(self.params[id(self.update)])
            self.checks.before_step(self.update, True)
        self.pending = True

    def _updated(self) -> None:
        if self.pending:
            self.pending = False
            self._after_step(self.update, (), {})

    def _forward(self, module, args, kwargs) -> None:
        if not self.paused:
            self._updated()
        super()._forward(module, args, kwargs)

    def close(self) -> None:
        self._updated()
        super().close()
