"""When a step is measured, where its capture waits, when the captures are drained; and the probe set.

A logging step only captures (hooks.Diagnostics.collect); the captures wait on the device in `Pending` and are
turned into statistics, brought to the host and written to TensorBoard in bulk by `StepMonitor.drain()`: at each
epoch's end, and after FLUSH_SECONDS so that a long epoch still shows its steps while it runs. So no step syncs with
the device. `Probe` measures a fixed batch at init and at each epoch's end.
"""

from __future__ import annotations

import math
import time

import torch

from .. import tags
from .hooks import Capture, Diagnostics
from .inputs import rows
from .writer import FLUSH_SECONDS, RunWriter, to_floats, to_rows

EARLY_STEPS = (1, 2, 4, 8, 16, 32)  # as conf/diag/default.yaml's early_steps: scalediag.watch's and the benches'
GRADIENT_BATCH = 256  # the probe images whose gradient is measured at each epoch's end
PENDING_BYTES = 16 << 20  # at most this much device memory holds captured steps (64 slots at batch 32 take 1.1 MB)


class Diverged(RuntimeError):
    def __init__(self, what: str, step: int):
        super().__init__(f"non-finite {what} at step {step}")
        self.step = step


class Pending:
    """Captures of measured steps, kept on the device until taken (StepMonitor.drain), copied into buffers
    allocated once (slots x each tensor's shape): nothing is allocated per capture (small blocks kept alive split the
    large ones the steps free: page faults, see run.train.train_epoch), and the statistics run once over all of them."""

    def __init__(self):
        self.layout, self.buffers, self.steps = None, {}, []

    def add(self, step: int, capture: Capture) -> bool:
        """Keep a copy of capture; False, keeping nothing, when full or when its shapes differ from those pending."""
        layout = (capture.norm_tags, [(k, v.shape, v.dtype, v.device) for k, v in capture.tensors.items()])
        if layout != self.layout:
            if self.steps:
                return False
            self._allocate(layout, capture)
        if len(self.steps) == len(self.buffers["norms"]):  # every slot taken
            return False
        for key, value in capture.tensors.items():
            self.buffers[key][len(self.steps)].copy_(value)
        self.steps.append(step)
        return True

    def _allocate(self, layout, capture: Capture) -> None:
        size = sum(v.numel() * v.element_size() for v in capture.tensors.values())
        slots = max(1, min(64, PENDING_BYTES // max(1, size)))
        self.buffers = {k: v.new_empty((slots, *v.shape)) for k, v in capture.tensors.items()}
        self.layout = layout

    def take(self) -> tuple[list[int], Capture | None]:
        """The pending steps and their captures stacked ([n, ...] views of the buffers, valid until the next add)."""
        steps, self.steps = self.steps, []
        if not steps:
            return [], None
        return steps, Capture(self.layout[0], {k: b[: len(steps)] for k, b in self.buffers.items()})


class StepMonitor:
    """Every n-th step, and the steps listed in `early`: arm the diagnostics before the forward pass, capture the
    step after the update.

    Also keeps, per epoch, the mean of each statistic over its logging steps (for metrics.json and the report), and
    every statistic of each early step (`early_rows`): some faults show themselves in the first steps and have
    destroyed their own evidence by step 50 (Adam at lr 1 kills every ReLU within the first epoch).
    """

    def __init__(self, diag: Diagnostics, writer: RunWriter, every: int, step: int = 0, early: tuple[int, ...] = (),
                 strict: bool = True, on_row=None):
        """strict: drain() raises Diverged (the Hydra app ends the run there); otherwise the first divergence is
        kept in `diverged` and measuring goes on (scalediag.watch never stops the user's loop). on_row(step,
        values): called with each measured step's statistics as they are drained."""
        self.diag, self.writer, self.every, self.strict, self.on_row = diag, writer, every, strict, on_row
        self.diverged: Diverged | None = None
        self.early = frozenset(early)
        self.early_rows: dict[str, dict[str, float]] = {}  # by step as metrics.json keys it, in step order
        self.step = step
        self.pending = Pending()
        self.drained = time.monotonic()
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def due(self, step: int) -> bool:
        """Whether that step is measured: on the cadence, or an early step."""
        return step % self.every == 0 or step in self.early

    def start_step(self, target: torch.Tensor | None = None) -> bool:
        """Count a step about to run (a loop that calls the monitor itself); arm the diagnostics where it is due."""
        self.step += 1
        if not self.due(self.step):
            return False
        self.diag.arm(target)
        return True

    def end_step(self, loss: torch.Tensor | None = None) -> None:
        capture = self.diag.collect()
        if loss is not None:
            capture.tensors["loss"] = loss.detach()
        if not self.pending.add(self.step, capture):
            self.drain()
            self.pending.add(self.step, capture)
        if time.monotonic() - self.drained > FLUSH_SECONDS:
            self.drain()

    def drain(self) -> None:
        """The pending steps' statistics, one transfer to the host, one event per step. At the first step with a
        non-finite loss, logit or weight statistic: raises Diverged after writing that step's event (strict), or
        keeps it in `diverged`."""
        self.drained = time.monotonic()
        steps, capture = self.pending.take()
        if not steps:
            return
        loss = {tags.LOSS_TRAIN_STEP: capture.tensors["loss"]} if "loss" in capture.tensors else {}
        stats = {**loss, **self.diag.statistics(capture)}  # the loss first: the divergence it shows is named first
        for step, values in zip(steps, to_rows(stats)):
            self.writer.scalars(values, step)
            if self.on_row is not None:
                self.on_row(step, values)
            if step in self.early:
                self.early_rows[str(step)] = values
            regular = step % self.every == 0  # an early step off the cadence would bias its epoch's means
            for tag, v in values.items():
                if tag.startswith(tags.DIVERGENCE_PREFIXES) and not math.isfinite(v) and self.diverged is None:
                    self.diverged = Diverged(tag, step)
                    if self.strict:
                        raise self.diverged
                if regular:
                    self.sums[tag] = self.sums.get(tag, 0.0) + v
                    self.counts[tag] = self.counts.get(tag, 0) + 1

    def epoch_means(self) -> dict[str, float]:
        self.drain()
        means = {tag: self.sums[tag] / self.counts[tag] for tag in self.sums}
        self.sums, self.counts = {}, {}
        return means


class Probe:
    """A fixed batch (x as the model takes it, labels y or None), measured at init and at each epoch's end."""

    def __init__(self, diag: Diagnostics, x, y: torch.Tensor, loss_fn, whole: bool = False):
        """x: a tensor, a tuple or a dict of keyword inputs (inputs.call); whole: a batch that cannot be cut into
        samples (its labels are per output row: a language model's tokens), measured in one piece."""
        self.diag, self.loss_fn, self.whole = diag, loss_fn, whole
        self.x, self.y = x, y

    def measure(self, writer: RunWriter, step: int, at_init: bool = False) -> dict[str, float]:
        stats, hists = self.diag.probe(self.x, self.y, whole=self.whole)
        if self.y is not None:  # without labels: the inputs, the layers and the logits only
            stats[tags.LOSS_PROBE] = self.loss_fn(hists[tags.LOGITS], self.y, reduction="mean")
            # one batch's gradient, as the rule sets that read it check one batch: cheaper than the whole probe set
            x, y = (self.x, self.y) if self.whole else (rows(self.x, 0, GRADIENT_BATCH), self.y[:GRADIENT_BATCH])
            stats.update(self.diag.gradients(x, y, self.loss_fn))
        writer.histograms(hists, step)
        if at_init:  # before any update: the scale the network starts from, to hold against ln(10) = 2.303
            if tags.LOSS_PROBE in stats:
                stats[tags.LOSS_INIT] = stats.pop(tags.LOSS_PROBE)
            return writer.scalars(stats, step)
        values = to_floats(stats)
        shown = [tags.ACC_PROBE, *(t for layer in self.diag.acts for t in (tags.dead(layer), tags.saturated(layer)))]
        writer.scalars({tag: values[tag] for tag in shown if tag in values}, step)
        return values
