"""scalediag.watch: the same measurements on any model, in the user's own training loop, and a record that
`scalediag report DIR` diagnoses as it does its own runs.

    with scalediag.watch(model, optimizer, "runs/mine", every=50, probe=(x_probe, y_probe)) as w:
        for epoch in range(epochs):
            for x, y in loader:
                loss = F.cross_entropy(model(x), y)
                optimizer.zero_grad(); loss.backward(); optimizer.step()
            w.epoch_end(train_loss=..., test_loss=..., test_acc=...)

How it follows the loop without being called in it: a forward pre-hook on the model counts its training-mode
forward passes (one per step) and arms the diagnostics on the cadence (every n-th, and the early steps); the
optimizer's step post-hook captures the armed step. Between measured steps the only cost is that pre-hook; nothing
syncs with the device and no weight is copied. The probe batch is measured at entry (the loss at init against
ln(classes)) and at each epoch_end, in eval mode, without touching .grad.
"""

from __future__ import annotations

import math
import time
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .. import tags
from ..record import Record
from .hooks import Diagnostics
from .monitor import EARLY_STEPS, Probe, StepMonitor
from .stats import KERAS_EPSILON
from .writer import RunWriter



def _cross_entropy(logits: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    return F.cross_entropy(logits, target, reduction=reduction)


class Watch:
    """What `scalediag.watch` returns: a context manager; call `epoch_end` after each epoch."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, log_dir: str | Path, every: int = 50,
                 probe: tuple[torch.Tensor, torch.Tensor] | None = None, early: tuple[int, ...] = EARLY_STEPS,
                 name: str | None = None, loss_fn=_cross_entropy, clip_eps: float = KERAS_EPSILON):
        if hasattr(model, "_orig_mod"):
            raise TypeError("scalediag.watch: a torch.compile'd model runs its compiled graph, which skips module "
                            "hooks; watch the original module (model._orig_mod) and compile it after, or not at all")
        if isinstance(model, nn.parallel.DistributedDataParallel):
            model = model.module  # each rank measures its own replica: give each rank its own log_dir
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"scalediag.watch: needs a torch.optim.Optimizer (its step hooks), got "
                            f"{type(optimizer).__name__}")
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"scalediag.watch: every={every!r}: must be an integer >= 1")
        self.model, self.optimizer, self.dir = model, optimizer, Path(log_dir)
        self.every, self.early, self.probe_batch, self.loss_fn = every, tuple(early), probe, loss_fn
        self.name, self.clip_eps = name or self.dir.name, clip_eps
        self.handles, self.armed, self.epoch, self.started = [], False, 0, None

    def _config(self) -> dict:
        """What metrics.json's config holds for a watched run: the report's keys, with what watch can know."""
        group = self.optimizer.param_groups[0]
        kinds = sorted({kind for _, kind in self.diag.acts.values()})
        opt = type(self.optimizer)
        return {"divisor": None, "seed": None, "loss": {"name": getattr(self.loss_fn, "__name__", "user").strip("_"),
                                                         "clip_eps": self.clip_eps},
                "model": {"class": type(self.model).__name__, "activation": kinds[0] if len(kinds) == 1 else None,
                          "layers": list(self.diag.linears)},
                "optimizer": {"_target_": f"{opt.__module__}.{opt.__qualname__}", "lr": group.get("lr"),
                              "eps": group.get("eps"), "betas": list(group["betas"]) if "betas" in group else None},
                "watch": {"every": self.every, "early_steps": list(self.early)}}

    def __enter__(self) -> "Watch":
        self.dir.mkdir(parents=True, exist_ok=True)
        self.writer = RunWriter(self.dir).__enter__()
        self.diag = Diagnostics(self.model, self.clip_eps)
        unseen = [n for n in self.diag.layers.others if n != next(reversed(self.diag.linears))]  # not the last
        if unseen:
            warnings.warn(f"scalediag.watch: no activation module follows {', '.join(unseen)} (an activation applied "
                          f"as a function inside forward has no module to hook): their dead and saturated fractions "
                          f"are not measured", stacklevel=2)
        self.steps = StepMonitor(self.diag, self.writer, self.every, early=self.early)
        self.probe = Probe(self.diag, *self.probe_batch, self.loss_fn) if self.probe_batch is not None else None
        self.record = Record(self.dir, self.name, self._config())
        device = next(self.model.parameters()).device
        self.record.update(device=str(device), threads=torch.get_num_threads())
        if self.probe is not None:
            self.record.update(init=self.probe.measure(self.writer, step=0, at_init=True))
            classes = self.probe_batch[1].max().item() + 1 if self.probe_batch[1].numel() else None
            self.record.update(classes=int(classes) if classes else None)
        self.handles = [self.model.register_forward_pre_hook(self._forward_pre_hook),
                        self.optimizer.register_step_post_hook(self._step_post_hook)]
        self.record.write()
        self.started = time.perf_counter()
        return self

    def _forward_pre_hook(self, module, args) -> None:
        if module.training and not self.armed:  # eval passes (the probe, the user's evaluation) are not steps
            self.armed = self.steps.start_step()

    def _step_post_hook(self, optimizer, args, kwargs) -> None:
        if self.armed:
            self.armed = False
            self.steps.end_step()

    def epoch_end(self, train_loss: float | None = None, test_loss: float | None = None,
                  test_acc: float | None = None) -> dict:
        """Close an epoch: its step statistics, the probe set's, Adam's state; logged, and written to metrics.json.
        Returns the epoch's entry of the record's history."""
        self.epoch += 1
        step = self.steps.step
        diag = {**self.steps.epoch_means()}
        if self.probe is not None:
            diag.update(self.probe.measure(self.writer, step))
        diag.update(self.writer.scalars(self.diag.adam(self.optimizer), step))
        given = {tags.LOSS_TRAIN: train_loss, tags.LOSS_TEST: test_loss, tags.ACC_TEST: test_acc}
        self.writer.scalars({k: float(v) for k, v in given.items() if v is not None}, step)
        self.writer.flush()
        now = time.perf_counter()
        result = {"epoch": self.epoch, "train_loss": _float(train_loss), "test_loss": _float(test_loss),
                  "test_acc": _float(test_acc), "never_predicted": None, "seconds": now - self.started, "diag": diag}
        self.started = now
        self.record.end_epoch(result)
        self.record.add_early(self.steps.early_rows)
        self.record.write()
        return result

    def __exit__(self, kind, error, traceback) -> bool:
        for h in self.handles:
            h.remove()
        self.handles = []
        self.diag.__exit__(kind, error, traceback)
        self.record.add_early(self.steps.early_rows)
        if kind is None:
            self.record.completed()
        elif issubclass(kind, KeyboardInterrupt):
            self.record.stopped("interrupted", "interrupted")
        else:
            self.record.stopped("failed", f"{kind.__name__}: {error}")
        self.record.write()
        self.writer.__exit__(kind, error, traceback)
        return False  # the loop's exception goes on


def _float(v) -> float | None:
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def watch(model: nn.Module, optimizer: torch.optim.Optimizer, log_dir: str | Path, every: int = 50,
          probe: tuple[torch.Tensor, torch.Tensor] | None = None, **kwargs) -> Watch:
    """Measure model while the caller's own loop trains it with optimizer; write TensorBoard events and metrics.json
    into log_dir. probe: a fixed batch (inputs as the model takes them, integer labels) measured at init and at each
    epoch_end. Further keywords: early (steps also measured), name, loss_fn(logits, target, reduction) for the probe
    (cross-entropy), clip_eps."""
    return Watch(model, optimizer, log_dir, every, probe, **kwargs)
