"""What scalediag.watch counts as a step: an optimizer step, whatever happens between two of them.

A step begins with the first forward pass that builds a graph (autograd enabled) after the last optimizer step, in
training or in eval mode; every forward pass until the optimizer steps belongs to it (micro-batches accumulated into
one step, a model called on two inputs). Its optimizer steps end it: several optimizers stepping one after the other
make one step; a step GradScaler skips (inf gradients: optimizer.step() is not called) is no update and no step.
Forward passes without autograd (the user's evaluation, scalediag's probe) are not steps. A program that never calls
the watched module itself (only its submodules) begins each step at its optimizer's step pre-hook instead.

Cost between measured steps: a forward pre-hook and two optimizer hooks, a few Python statements each; nothing syncs
with the device. A measured step is armed when it begins (its weights copied, hooks registered), its gradients are
read at each optimizer's step pre-hook (after GradScaler's unscale_, before a zero_grad can clear them), and it is
captured when the next step begins or the epoch ends.
"""

from __future__ import annotations

import torch

from .monitor import StepMonitor
from .program import ProgramChecks


class OptimizerSteps:
    def __init__(self, model: torch.nn.Module, optimizers: list, monitor: StepMonitor, checks: ProgramChecks, guard):
        """guard(fn): fn wrapped so that an error of scalediag's own turns watch off instead of reaching the loop;
        checks: what the measured steps show of the program (program.py)."""
        self.model, self.optimizers, self.monitor, self.diag = model, optimizers, monitor, monitor.diag
        self.checks = checks
        self.params = {id(opt): {id(p) for g in opt.param_groups for p in g["params"]} for opt in optimizers}
        self.guard = guard
        self.open = False  # a step has begun
        self.stepped = False  # ... and an optimizer has stepped in it
        self.armed = False  # ... and it is measured
        self.forwards = False  # a forward pass of the watched module has begun a step
        self.paused = False  # scalediag's own forward passes (the probe): neither steps nor the user's evaluation
        self.handles: list = []

    def attach(self) -> None:
        self.handles.append(self.model.register_forward_pre_hook(self.guard(self._forward), with_kwargs=True))
        for opt in self.optimizers:
            self.handles.append(opt.register_step_pre_hook(self.guard(self._before_step)))
            self.handles.append(opt.register_step_post_hook(self.guard(self._after_step)))

    def detach(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles = []
        self.diag.disarm()
        self.checks.disarm()
        self.open = self.armed = False

    @property
    def step(self) -> int:
        return self.monitor.step

    def _forward(self, module, args, kwargs) -> None:
        if self.paused:
            return
        if not torch.is_grad_enabled():  # the user's evaluation: only its inputs' scale is kept
            self.checks.see_input(args, kwargs, "eval")
            self.checks.where.see("eval_forward", self.step)  # its line, kept once
            return
        self.forwards = True
        if not self.open or self.stepped:
            self._begin()
        if self.armed:
            self.checks.see_input(args, kwargs, "train")
            self.checks.where.see("forward", self.step + 1)

    def _before_step(self, optimizer, args, kwargs) -> None:
        if not self.open or (self.stepped and not self.forwards):
            self._begin()
        if self.armed:
            self.diag.read_gradients(self.params[id(optimizer)])
            self.checks.before_step(optimizer, optimizer is self.optimizers[0])
            self.checks.where.see("step", self.step + 1)

    def _after_step(self, optimizer, args, kwargs) -> None:
        if self.open and not self.stepped:
            self.monitor.step += 1
            self.stepped = True

    def _begin(self) -> None:
        self.close()
        self.open, self.stepped = True, False
        self.armed = self.monitor.due(self.step + 1)
        if self.armed:
            self.diag.arm()
            self.checks.arm(self.step + 1)

    def close(self) -> None:
        """Capture the step in progress if it is measured and its optimizer has stepped (the last forward passes of a
        run that never reach an optimizer step are no step)."""
        if self.armed and self.stepped:
            self.armed = False
            self.monitor.end_step()
            self.checks.collect()
        elif self.armed:
            self.armed = False
            self.diag.disarm()
            self.checks.disarm()
        if self.stepped:
            self.open = False
