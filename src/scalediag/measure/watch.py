"""scalediag.watch: the same measurements on any model, in the user's own training loop, and a record that
`scalediag report DIR` diagnoses as it does its own runs.

    with scalediag.watch(model, optimizer, "runs/mine", every=50, probe=(x_probe, y_probe)) as w:
        for epoch in range(epochs):
            for x, y in loader:
                loss = F.cross_entropy(model(x), y)
                optimizer.zero_grad(); loss.backward(); optimizer.step()
            w.epoch_end(train_loss=..., test_loss=..., test_acc=...)

It follows the loop without being called in it: a step is an optimizer step (steps.py), measured on the cadence
(every n-th, and the early steps). The probe batch is measured at entry (the loss at init against ln(classes)) and
at each epoch_end, in eval mode, without touching .grad, each module's mode or the random state.

Watch never stops or changes the user's training: a non-finite loss, logit or weight is recorded (status
`diverged`, the step, the epoch) and measuring goes on; an error of watch's own is reported once as a warning and
watch turns itself off, the record kept readable. The user's own exceptions go on as they are, recorded.
Under torch.distributed (world size > 1) each rank writes into log_dir/rank<r>: `scalediag report log_dir` reads
them all, and watch adds no collective call, so no rank can wait on another because of it.
"""

from __future__ import annotations

import functools
import math
import time
import warnings
from pathlib import Path

import torch
from torch import nn

from .. import tags
from ..record import Record
from . import arguments
from .hooks import Diagnostics
from .inputs import device_of
from .handwritten import BackwardSteps, HandWritten
from .monitor import EARLY_STEPS, Diverged, Probe, StepMonitor
from .program import ProgramChecks
from .stats import KERAS_EPSILON
from .steps import OptimizerSteps
from .writer import RunWriter


def _cross_entropy(logits: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    return torch.nn.functional.cross_entropy(logits, target, reduction=reduction)


def rank_dir(path: Path) -> Path:
    """log_dir/rank<r> where several processes train together, log_dir otherwise."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return path / f"rank{dist.get_rank()}"
    return path


class Watch:
    """What `scalediag.watch` returns: a context manager; call `epoch_end` after each epoch."""

    def __init__(self, model: nn.Module, optimizer, log_dir: str | Path, every: int = 50,
                 probe: tuple | None = None, early: tuple[int, ...] = EARLY_STEPS, name: str | None = None,
                 loss_fn=_cross_entropy, clip_eps: float = KERAS_EPSILON, loss: str | None = None,
                 on_close=None, task: str | None = None):
        self.model = arguments.model(model)
        self.optimizers = arguments.optimizers(optimizer, self.model)
        self.every = arguments.every(every)
        self.dir = arguments.log_dir(rank_dir(Path(log_dir)) if isinstance(log_dir, (str, Path)) else log_dir)
        self.classes, self.whole = arguments.probe(probe, self.model)
        # the loss the program trains with, which the causes that judge its inputs need (a softmax before a loss that
        # applies one): the caller's word, else the probe's loss where the probe has labels; None: not known
        labelled = probe is not None and probe[1] is not None
        self.loss = loss if loss is not None else (getattr(loss_fn, "__name__", "user").strip("_") if labelled else None)
        self.task = arguments.task(task) if task is not None else ("classification" if labelled else "unknown")
        self.early, self.probe_batch, self.loss_fn = tuple(early), probe, loss_fn
        self.name, self.clip_eps = name or self.dir.name, clip_eps
        self.epoch, self.started, self.off, self.diverged, self.steps, self.lr_written = 0, None, None, None, None, 0
        self.on_close = on_close  # called with the record's directory once it is written (the diagnosis's printer)

    @property
    def model_name(self) -> str:
        """The program's name for the model where a measured step showed it (`netD`, `self.model`), else its class."""
        return self.checks.where.names.get("model") or type(self.model).__name__

    def _config(self) -> dict:
        """What metrics.json's config holds for a watched run: the report's keys, with what watch can know."""
        kinds = sorted({kind for _, kind in self.diag.acts.values()})
        opts = [_optimizer(o) for o in self.optimizers]
        layers = self.diag.layers
        sizes = {name: sum(p.numel() for p in m.parameters(recurse=False)) for name, m in layers.modules.items()}
        return {"loss": {"name": self.loss, "clip_eps": self.clip_eps},
                "model": {"class": type(self.model).__name__, "activation": kinds[0] if len(kinds) == 1 else None,
                          "layers": list(self.diag.modules), "frozen": layers.frozen, "output": layers.output,
                          # each layer's class and size: what trains, what is frozen, and how much of the model
                          "kinds": {name: type(m).__name__ for name, m in layers.modules.items()}, "sizes": sizes},
                "optimizer": opts[0], "optimizers": opts,
                "watch": {"every": self.every, "early_steps": list(self.early)}}

    def __enter__(self) -> "Watch":
        self.dir.mkdir(parents=True, exist_ok=True)
        self.writer = RunWriter(self.dir).__enter__()
        self.diag = Diagnostics(self.model, self.clip_eps)
        self.diag.guard = self._guarded
        self.record = Record(self.dir, self.name, self._config())
        self.record.update(device=str(device_of(self.model)), threads=torch.get_num_threads(), classes=self.classes,
                           task=self.task)
        self.record.start_epoch(1)
        self.checks = ProgramChecks(self.model, self.diag.layers, self.optimizers)
        monitor = StepMonitor(self.diag, self.writer, self.every, early=self.early, strict=False,
                              on_row=self.checks.see_row)
        self.probe = Probe(self.diag, *self.probe_batch, self.loss_fn, whole=self.whole) \
            if self.probe_batch is not None else None
        driver = BackwardSteps if isinstance(self.optimizers[0], HandWritten) else OptimizerSteps
        self.steps = driver(self.model, self.optimizers, monitor, self.checks, self._guarded)
        if self.probe is not None:
            self._safely(lambda: self.record.update(init=self.probe.measure(self.writer, step=0, at_init=True),
                                                    labels=label_summary(self.probe_batch[1], self.classes)
                                                    if self.probe_batch[1] is not None else None))
            self._safely(lambda: self.checks.check_structure(self.probe_batch[0], self.whole))
        self._unseen_warning()  # after the probe, which sees the activations applied as functions
        self._safely(lambda: self.record.update(program=self.checks.summary()))
        self.steps.attach()
        self.record.write()
        self.started = time.perf_counter()
        return self

    def _unseen_warning(self) -> None:
        layers = self.diag.layers
        unseen = [n for n in layers.weighted if n not in layers.acts and n not in self.diag.functional and
                   n != next(reversed(layers.weighted))]
        if unseen:
            shown = ", ".join(unseen[:4]) + (f" and {len(unseen) - 4} more" if len(unseen) > 4 else "")
            how = "none was seen at the probe either" if self.probe is not None else \
                "one applied as a function is seen at the probe only, and there is none"
            warnings.warn(f"scalediag.watch: no activation follows {shown} ({how}): their dead and saturated "
                          f"fractions are not measured", stacklevel=3)

    # scalediag's own errors never reach the user's loop
    def _fail(self, error: Exception) -> None:
        if self.off is not None:
            return
        self.off = f"{type(error).__name__}: {error}"
        warnings.warn(f"scalediag.watch stopped measuring at step {self.steps.step if self.steps else 0} after an "
                      f"error of its own ({self.off}); the training goes on unchanged, and {self.dir / 'metrics.json'} "
                      f"keeps what was measured before", RuntimeWarning, stacklevel=2)
        try:
            if self.steps is not None:
                self.steps.detach()
            self.record.update(watch_error={"step": self.steps.step if self.steps else 0, "error": self.off})
            self.record.write()
        except Exception:
            pass

    def _guarded(self, fn):
        @functools.wraps(fn)
        def hook(*args, **kwargs):
            if self.off is not None:
                return None
            try:
                fn(*args, **kwargs)
            except Exception as e:
                self._fail(e)
            return None  # a hook that returns None changes nothing the model computes

        return hook

    def _safely(self, fn):
        if self.off is not None:
            return None
        try:
            return fn()
        except Exception as e:
            self._fail(e)
            return None

    def grow_probe(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """A larger labelled probe from the next epoch end on, made of training samples the model has taken in this
        run (`scalediag run` starts from the first batch alone); what was measured at init stays the first probe's."""
        def swap():
            self.probe_batch = (x, y)
            self.probe = Probe(self.diag, x, y, self.loss_fn)
            self.record.update(labels=label_summary(y, self.classes))

        self._safely(swap)

    def epoch_end(self, train_loss: float | None = None, test_loss: float | None = None,
                  test_acc: float | None = None) -> dict:
        """Close an epoch: its step statistics, the probe set's, Adam's state; logged, and written to metrics.json
        with the numbers given. Returns the epoch's entry of the record's history."""
        self.epoch += 1
        diag = self._safely(self._measure_epoch) or {}
        self._check(diag, train_loss)
        now = time.perf_counter()
        result = {"epoch": self.epoch, "step": self.steps.step, "train_loss": _float(train_loss),
                  "test_loss": _float(test_loss), "test_acc": _float(test_acc), "never_predicted": None,
                  "seconds": now - self.started, "diag": diag}
        self.started = now
        self.record.end_epoch(result)
        self.record.start_epoch(self.epoch + 1)
        self._safely(self._write)
        return result

    def _measure_epoch(self) -> dict:
        self.steps.close()
        step = self.steps.step
        diag = self.steps.monitor.epoch_means()
        if self.probe is not None:
            self.steps.paused = True
            try:
                diag.update(self.probe.measure(self.writer, step))
            finally:
                self.steps.paused = False
        lrs = self.checks.lr
        for s, values in zip(lrs["steps"][self.lr_written :], lrs["lr"][self.lr_written :]):
            self.writer.scalars({tags.lr(i): v for i, v in enumerate(values)}, s)
        self.lr_written = len(lrs["steps"])
        diag.update(self.writer.scalars(self.diag.adam(self.optimizers), step))
        return diag

    def _write(self) -> None:
        last = self.record.history[-1]
        given = {tags.LOSS_TRAIN: last["train_loss"], tags.LOSS_TEST: last["test_loss"],
                 tags.ACC_TEST: last["test_acc"]}
        self.writer.scalars({k: v for k, v in given.items() if v is not None}, self.steps.step)
        self.writer.flush()
        self.record.add_early(self.steps.monitor.early_rows)
        self.record.update(program=self.checks.summary())
        self.record.write()

    def _check(self, diag: dict, train_loss) -> None:
        """The first sign of divergence: a measured step's (the monitor keeps it), the probe's or the loss given."""
        if self.diverged is not None:
            return
        step = self.steps.step
        found = self.steps.monitor.diverged if self.steps is not None else None
        bad = [t for t, v in diag.items() if t.startswith(tags.DIVERGENCE_PREFIXES) and not math.isfinite(v)]
        if found is None and bad:
            found = Diverged(bad[0], step)
        if found is None and train_loss is not None and not math.isfinite(float(train_loss)):
            found = Diverged("training loss (epoch_end's train_loss)", step)
        if found is not None:
            self.diverged = (str(found), found.step, self.epoch)

    def __exit__(self, kind, error, traceback) -> bool:
        self._safely(self.steps.close)
        self.steps.detach()
        self.diag.__exit__(kind, error, traceback)
        self._safely(lambda: self.record.add_early(self.steps.monitor.early_rows))
        self._safely(lambda: self.record.update(program=self.checks.summary()))
        if kind is not None and issubclass(kind, KeyboardInterrupt):
            self.record.stopped("interrupted", "interrupted")
        elif kind is not None:
            self.record.stopped("failed", f"{kind.__name__}: {error}")
        elif self.diverged is not None:
            message, step, epoch = self.diverged
            self.record.data["epoch"] = epoch
            self.record.stopped("diverged", message, step=step)
        else:
            self.record.completed()
        self.record.update(steps=self.steps.step)
        try:
            self.record.write()
        finally:
            self.writer.__exit__(kind, error, traceback)
        if self.on_close is not None:
            try:  # after the record is whole: a failure here is said, and changes neither it nor the loop
                self.on_close(self.dir)
            except Exception as e:  # noqa: BLE001
                warnings.warn(f"scalediag.watch: no diagnosis printed ({type(e).__name__}: {e}); the record is in "
                              f"{self.dir}", RuntimeWarning, stacklevel=2)
        return False  # the loop's exception goes on


def label_summary(y: torch.Tensor, classes: int) -> dict:
    """The probe's labels: how many classes, their entropy (the loss of predicting their frequencies) and the most
    frequent one's share (the accuracy of always predicting it)."""
    shares = torch.bincount(y.reshape(-1).long().cpu(), minlength=classes).double() / y.numel()
    entropy = float(-(shares[shares > 0] * shares[shares > 0].log()).sum()) + 0.0  # not -0.0
    return {"classes": classes, "entropy": entropy, "prior": float(shares.max()), "samples": int(y.numel())}


def _optimizer(opt) -> dict:
    """An optimizer as the record keeps it: its class, and the first param group's settings."""
    group, kind = opt.param_groups[0], type(opt)
    if isinstance(opt, HandWritten):  # no class, no settings: what it does is measured (the update ratios)
        return {"_target_": opt.name, "lr": None, "eps": None, "betas": None, "weight_decay": None, "param_groups": 1}
    return {"_target_": f"{kind.__module__}.{kind.__qualname__}", "lr": _number(group.get("lr")),
            "eps": _number(group.get("eps")), "betas": [float(b) for b in group["betas"]] if "betas" in group else None,
            "weight_decay": _number(group.get("weight_decay")), "param_groups": len(opt.param_groups)}


def _number(v) -> float | None:
    return float(v) if isinstance(v, (int, float)) or torch.is_tensor(v) and v.numel() == 1 else None


def _float(v) -> float | None:
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None
