"""`scalediag run [--every N] [--dir DIR] [--epoch-steps N] script.py [args...]`: the user's script, unchanged, under
scalediag.watch, the way `python -m cProfile script.py` profiles one.

How it finds what to watch, through torch's global hooks only (nothing of torch's is assigned):
- the model: the first module called at the top level (not from inside another module) with autograd on whose
  parameters the first optimizer to step holds; watch attaches at that optimizer's first step, before its update.
  A loop without torch.optim (the update written by hand) shows as a module called again after a backward pass with
  its weights changed (a sample of each, copied at its first call): watch attaches at that call, with
  measure/handwritten.py's steps (a backward pass and the update after it), the first update counted;
- the probe: that module's first training inputs (a copy of them), with the labels its loss showed: the target of
  a loss module (nn.CrossEntropyLoss, nn.NLLLoss, ...) or of F.cross_entropy / F.nll_loss (seen through a
  TorchFunctionMode that is active only until the first step); without labels, a probe without them (inputs,
  layers, logits). A labelled probe grows with the next training batches to PROBE_SAMPLES by the first epoch's end;
- epochs: an epoch ends where the script evaluates (forward passes of the model without autograd) and trains again,
  or at its end; a script that never evaluates gets an epoch every --epoch-steps optimizer steps (default 500).
  The epoch's training loss is the mean of the loss module's outputs, its test loss and accuracy those of the loss
  module during the evaluation; a script without a loss module gets them from the first F.cross_entropy /
  F.nll_loss after each of the model's outputs (a TorchFunctionMode pushed at the model's output, popped at its next
  call or optimizer step: it sees the few calls in between, never the forward or the update).
Further models, each stepped by an optimizer of its own (a GAN's generator, one optimizer per layer), are watched
beside the first, each into a directory of its own (other_models.py).
The command around it (command.py) prints the diagnosis when the script ends (also on an exception or Ctrl-C) and
returns the script's own exit code; the record stays for `scalediag report`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch
from torch import nn
from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook
from torch.optim.optimizer import register_optimizer_step_pre_hook

from ..measure.handwritten import HandWritten, fingerprint, updated_by_hand
from ..measure.inputs import packed, unbatched
from ..measure.task import Targets, loss_name, reconstructs, task_of
from ..measure.watch import Watch
from .functional_losses import Labels, Losses
from .other_models import OtherModels

# the probe grown from the first batch to this many training samples by the first epoch's end: a 32-image probe's
# accuracy has a standard error near 0.09, too coarse for label_noise's gap
PROBE_SAMPLES = 256


class ScriptWatch:
    def __init__(self, log_dir: Path, every: int, epoch_steps: int):
        self.dir, self.every, self.epoch_steps = log_dir, every, epoch_steps
        self.forked = False  # this is a child process forked from the watched script (a DataLoader worker, Hogwild)
        # a forked child inherits the global hooks and the function mode: they are switched off there, or a child's
        # torch calls run through a mode whose state is the parent's (Hogwild's workers hung in it)
        os.register_at_fork(after_in_child=self._in_child)
        self.depth, self.roots, self.labels = 0, {}, {}
        self.weights: dict = {}  # a root module's id -> samples of its weights at its first call
        self.orphan_steps = 0  # optimizer steps holding none of the called modules' parameters
        self.watch: Watch | None = None
        self.losses = {"train": [], "eval": [], "correct": 0, "seen": 0}
        self.evaluating, self.steps_at_epoch, self.gave_up = False, 0, False
        self.mode, self.mode_on = Labels(self.labels), False  # entered by run(), left once (at the step or close)
        self.handles = [register_module_forward_pre_hook(self._pre), register_module_forward_hook(self._post)]
        # kept after the first model is watched: another optimizer's first step is another model's (other_models.py)
        self.step_hook = register_optimizer_step_pre_hook(self._first_step)
        self.others = OtherModels(log_dir, every)
        self.own: list = []  # hooks on the model and its loss once watched
        self.functional, self.functional_on = Losses(self), False
        self.grown: dict | None = None  # the probe being grown: {"x": [...], "y": [...], "n": samples}
        self.pending: torch.Tensor | None = None  # a training call's input, until its loss shows its labels
        self.targets: Targets | None = None  # a regression's or binary classifier's targets, over the first epoch
        self.loss_input: torch.Tensor | None = None  # [min, max, |row sum - 1|] of the first training loss's input

    def _in_child(self) -> None:
        if self.forked:
            return
        self.forked, self.gave_up = True, True
        for h in [*self.handles, *self.own, self.step_hook]:
            h.remove()
        self.handles, self.own = [], []
        self.others.detach()
        self._functional_off()
        self.labels_off()
        if self.watch is not None:  # its hooks on the model: the child's copy trains unwatched, writes nothing
            self.watch.steps.detach()
            self.watch = None

    # before watch attaches: find the model, its first inputs and labels
    def _pre(self, module, args):
        self.depth += 1
        if self.watch is None and self.depth == 1 and torch.is_grad_enabled() and not self.gave_up:
            if id(module) not in self.roots:
                self.roots[id(module)] = (module, [a.detach().clone() if torch.is_tensor(a) else a for a in args])
                self.weights[id(module)] = fingerprint(module)
            elif unbatched(self.roots[id(module)][1], args, PROBE_SAMPLES):  # a policy's states: one probe
                first = self.roots[id(module)][1]
                first[0] = torch.cat([first[0].reshape(-1, *args[0].shape), args[0].detach()[None]])
            # a torch.optim step has begun (LBFGS calls the model in its closure, after the step's pre-hook): not by
            # hand; else the module called again after a backward pass, its weights changed: the loop updates them
            elif not self.orphan_steps and updated_by_hand(module, self.weights.get(id(module)),
                                                           bool(self.labels.get("backward"))):
                self.labels_off()
                self.attach(module, HandWritten(module), self.roots[id(module)][1], self.labels.get("target"))
                if self.watch is not None:  # this call begins the second step: measured from its forward on
                    self.watch.steps.counted(1)
                    self.watch.steps._forward(module, args, {})

    def _post(self, module, args, output):
        self.depth -= 1
        if self.watch is None and isinstance(module, nn.modules.loss._Loss) and len(args) > 1 and \
                torch.is_tensor(args[1]) and getattr(self, "loss_module", None) is None:
            self.loss_module, self.loss_target = module, args[1].detach().clone()  # what it trains, its task
            if not args[1].is_floating_point():
                self.labels.setdefault("target", self.loss_target)

    def _first_step(self, optimizer, args, kwargs):
        if self.gave_up:
            return
        if self.watch is not None:
            if optimizer not in self.watch.optimizers:
                try:  # inside the script's own optimizer.step(): nothing of scalediag's may reach it
                    self.others.step(optimizer, self.watch.model, self.roots, self.watch.model_name)
                except Exception as e:  # noqa: BLE001
                    print(f"scalediag run: warning: another model not watched ({type(e).__name__}: {e})",
                          file=sys.stderr)
                    self.others.optimizers.add(id(optimizer))
            return
        held = {id(p) for g in optimizer.param_groups for p in g["params"]}
        model = next((m for m, _ in self.roots.values() if any(id(p) in held for p in m.parameters())), None)
        if model is None:
            self.orphan_steps += 1
            return
        self.labels_off()
        self.attach(model, optimizer, self.roots[id(model)][1], self.labels.get("target"))

    def attach(self, model: nn.Module, optimizer, inputs: list, target: torch.Tensor | None) -> None:
        """At the first step of the model's optimizer, before its update: watch from here on."""
        if target is not None and not (inputs and target.dim() == 1):
            target = None  # labels per output row, as many as the samples (or, taken whole, as the output's rows)
        # without labels (a loss written by hand) the probe still shows the inputs, the layers and the logits
        probe = (packed(inputs), target) if inputs else None
        loss = getattr(self, "loss_module", None)
        # the loss seen: the premise of the causes about what the model feeds it, and the task; None where none was
        name = loss_name(loss if loss is not None else self.labels.get("loss_fn"))
        seen = getattr(self, "loss_target", None) if loss is not None else self.labels.get("loss_target")
        task = task_of(name, reconstructs(seen, inputs))
        if task in ("regression", "binary") and self.labels.get("composite"):
            task = "unknown"  # its loss is only a term of what is minimised: no baseline of the targets applies
        # the labelled probe; else the inputs alone (labels that fit no output row); else none: the steps are still
        # measured
        attempts = [probe, *([(probe[0], None)] if probe is not None and target is not None else []), None]
        for attempt, following in zip(attempts, attempts[1:] + [None]):
            try:
                self.watch = Watch(model, optimizer, self.dir, every=self.every, probe=attempt, name=self.dir.name,
                                   loss=name, task=task).__enter__()
                break
            except (TypeError, ValueError) as e:
                if attempt is None:  # never into the script's own optimizer step
                    print(f"scalediag run: not watching: {e}", file=sys.stderr)
                    self.gave_up = True
                    return
                if following is None:
                    print(f"scalediag run: measuring without a probe ({e}): the scale of the inputs, weights and "
                          f"outputs at init, the labels and the dead units are not measured", file=sys.stderr)
                else:
                    print(f"scalediag run: the labels seen are not one per output row (an index or a mask applied "
                          f"outside the model?): its probe is measured without a loss or an accuracy ({e})",
                          file=sys.stderr)
        target = self.watch.probe_batch[1] if self.watch.probe_batch is not None else None
        if target is not None and torch.is_tensor(probe[0]) and len(target) == len(probe[0]):  # not taken whole
            self.grown = {"x": [probe[0]], "y": [target], "n": len(target)}
        if task in ("binary", "regression"):
            self.targets = Targets(binary=task == "binary")  # the baseline: the loss of predicting the targets' mean
        if target is None and self.watch.probe is not None and task in ("classification", "unknown") and \
                probe[1] is None:
            print("scalediag run: no labels seen for the model's first batch (no loss module, no F.cross_entropy): "
                  "its probe is measured without a loss or an accuracy", file=sys.stderr)
        self.own.append(model.register_forward_pre_hook(self._model_call))
        if loss is not None:
            self.own.append(loss.register_forward_hook(self._loss))
        else:
            self.own.append(model.register_forward_hook(self._model_output))
            if not isinstance(optimizer, HandWritten):  # by hand: the mode is popped at the model's next call
                self.own.append(optimizer.register_step_pre_hook(lambda *_: self._functional_off()))
        self.weights = {}

    # once watched: epochs and the losses
    def _model_output(self, module, args, output):
        # pushed only onto an empty stack of modes, so that no mode of the script's can be popped in place of this one
        if not self.functional_on and not self.watch.steps.paused and \
                not torch.overrides._get_current_function_mode_stack():
            self.functional.taken = False
            self.functional.__enter__()
            self.functional_on = True

    def _functional_off(self) -> None:
        if self.functional_on:
            self.functional_on = False
            stack = torch.overrides._get_current_function_mode_stack()
            if stack and stack[-1] is self.functional:
                self.functional.__exit__(None, None, None)

    def _model_call(self, module, args):
        self._functional_off()
        for h in self.handles:  # the global hooks are not needed any more (removed outside their own iteration)
            h.remove()
        self.handles = []
        if self.watch.steps.paused:  # watch's own probe
            return
        steps = self.watch.steps.step
        if torch.is_grad_enabled():
            if self.evaluating or steps - self.steps_at_epoch >= self.epoch_steps:
                self.end_epoch()
            self.evaluating = False
            if self.grown is not None and self.grown["n"] < PROBE_SAMPLES and len(args) == 1 and \
                    torch.is_tensor(args[0]):
                self.pending = args[0]  # kept as a reference; copied once its labels are seen
        elif steps > self.steps_at_epoch:
            self.evaluating = True

    def _loss(self, module, args, output):
        if torch.is_tensor(output) and output.numel() == 1 and len(args) > 1 and torch.is_tensor(args[1]):
            self.seen_loss(args[0], args[1], output.detach())

    def seen_loss(self, logits, target: torch.Tensor, loss: torch.Tensor) -> None:
        # an evaluation's loss is often computed after its `with torch.no_grad()` block: what counts is the model's call
        mode = "eval" if self.evaluating else "train"
        self.losses[mode].append(loss)
        if mode == "train":
            self.seen_target(target)
            if self.loss_input is None and torch.is_tensor(logits) and logits.dim() >= 2 and \
                    logits.is_floating_point():  # what the loss consumed: a softmax applied outside the model shows
                z = logits.detach().float()
                self.loss_input = torch.stack([z.amin(), z.amax(), (z.sum(-1) - 1).abs().amax()])
        x, self.pending = self.pending, None
        if mode == "train" and self.grown is not None and x is not None and len(x) == len(target) \
                and not target.is_floating_point() and self.grown["n"] < PROBE_SAMPLES:
            self.grown["x"].append(x.detach().clone())
            self.grown["y"].append(target.detach().clone())
            self.grown["n"] += len(target)
        if mode == "eval" and torch.is_tensor(logits) and logits.dim() == 2 and not target.is_floating_point():
            self.losses["correct"] += (logits.argmax(1) == target).sum()
            self.losses["seen"] += len(target)

    def seen_target(self, target: torch.Tensor) -> None:
        """A training loss's target, into the regression baseline's sums (the first epoch's)."""
        if self.targets is not None and not self.evaluating and torch.is_tensor(target) and \
                target.is_floating_point():
            self.targets.see(target)

    def seen_backward(self, loss: torch.Tensor) -> None:
        if not self.evaluating:  # the loss a training step minimises, where no labelled loss showed it
            self.losses["train"].append(loss)

    def end_epoch(self) -> None:
        if self.watch is None or self.watch.steps.step == self.steps_at_epoch:
            return
        if self.grown is not None:  # the first epoch's end: the probe from here on is as grown as it got
            if len(self.grown["x"]) > 1 and all(x.shape[1:] == self.grown["x"][0].shape[1:] for x in self.grown["x"]):
                self.watch.grow_probe(torch.cat(self.grown["x"])[:PROBE_SAMPLES],
                                      torch.cat(self.grown["y"])[:PROBE_SAMPLES])
            self.grown = None
        if self.loss_input is not None and "loss_input" not in self.watch.record.data:  # on the host once, here
            self.watch.record.update(loss_input=dict(zip(("min", "max", "sum_dev"), self.loss_input.tolist())))
        if self.targets is not None:  # the first epoch's targets are the baseline's
            self.watch.record.update(targets=self.targets.summary())
            self.targets = None
        mean = lambda v: float(torch.stack(v).float().mean()) if v else None  # noqa: E731
        seen = self.losses["seen"]
        self.watch.epoch_end(train_loss=mean(self.losses["train"]), test_loss=mean(self.losses["eval"]),
                             test_acc=float(self.losses["correct"]) / seen if seen else None)
        self.others.epoch_end()
        self.losses = {"train": [], "eval": [], "correct": 0, "seen": 0}
        self.steps_at_epoch = self.watch.steps.step

    def labels_on(self) -> None:
        self.mode.__enter__()
        self.mode_on = True

    def labels_off(self) -> None:
        # left once only: a second exit pops the script's own modes, or raises on an empty stack (an attach that
        # failed used to exit it at the step and again at close, turning the script's exit 0 into 1)
        if self.mode_on:
            self.mode_on = False
            self.mode.__exit__(None, None, None)

    def close(self, error: BaseException | None) -> None:
        self._functional_off()
        for h in [*self.handles, *self.own, self.step_hook]:
            h.remove()
        self.labels_off()
        if self.watch is None:
            return
        if error is None:  # the epoch in progress is finished by the script's end; after an error it is not
            self.end_epoch()
        kind = type(error) if error is not None else None
        self.watch.__exit__(kind, error, error.__traceback__ if error is not None else None)
        self.others.close(kind, error, error.__traceback__ if error is not None else None)
