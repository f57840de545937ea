"""scalediag.watch as a Hugging Face Trainer callback: `Trainer(..., callbacks=[WatchCallback()])`.

    from scalediag.integrations.transformers import WatchCallback
    trainer = Trainer(model=model, args=args, train_dataset=train, eval_dataset=test, callbacks=[WatchCallback()])

It watches the trainer's model with its optimizer (the torch optimizer inside Accelerate's wrapper, whose step is
the one that updates) from `on_train_begin`, before the first step. An epoch is closed with the training loss the
trainer logged during it (`loss` in its log history: set `logging_strategy="epoch"` or a `logging_steps` that fits)
and, where it evaluates each epoch, the `eval_loss` and `eval_accuracy` (a `compute_metrics` that returns
`accuracy`) of that evaluation; otherwise at the next epoch's start or the end of training. The model's output is
read through its `.logits`, its keyword inputs as the collator gives them. Directory: the trainer's `logging_dir` +
`scalediag` unless given.

The probe, unless given: the first `probe_size` samples of the training dataset, collated by the trainer's own
collator (no sampler touched, the random state put back), the batch's `labels` as the labels and the rest of it as
the model's keyword inputs.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import TrainerCallback

from ..measure.inputs import first_samples
from ..measure.watch import Watch


class WatchCallback(TrainerCallback):
    def __init__(self, log_dir: str | Path | None = None, every: int = 50, probe: tuple | None = None,
                 probe_size: int = 256, label_key: str = "labels"):
        self.log_dir, self.every, self.probe, self.probe_size, self.label_key = log_dir, every, probe, probe_size, \
            label_key
        self.watch: Watch | None = None
        self.pending, self.logged = None, 0

    def _probe(self, model, train_dataloader):
        if self.probe is not None:
            return self.probe
        batch = first_samples(train_dataloader, self.probe_size)
        if batch is None:
            return None
        batch = {k: v.to(model.device) if torch.is_tensor(v) else v for k, v in dict(batch).items()}
        labels = batch.pop(self.label_key, None)
        return (batch, labels) if labels is not None else None

    def on_train_begin(self, args, state, control, model=None, optimizer=None, train_dataloader=None, **kwargs):
        inner = getattr(optimizer, "optimizer", optimizer)  # Accelerate's AcceleratedOptimizer wraps the torch one
        log_dir = Path(self.log_dir) if self.log_dir is not None else Path(args.logging_dir or args.output_dir) / \
            "scalediag"
        self.watch = Watch(model, inner, log_dir, every=self.every,
                           probe=self._probe(model, train_dataloader)).__enter__()

    def _train_loss(self, state) -> float | None:
        losses = [h["loss"] for h in state.log_history[self.logged :] if "loss" in h]
        self.logged = len(state.log_history)
        return sum(losses) / len(losses) if losses else None

    # the trainer logs an epoch's loss and evaluates after on_epoch_end: the epoch is closed once they are in
    def on_epoch_end(self, args, state, control, **kwargs):
        if self.watch is not None:
            self._close_pending(state)
            self.pending = {}

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if self.pending is not None and metrics:
            self.pending.update(test_loss=metrics.get("eval_loss"), test_acc=metrics.get("eval_accuracy"))
            self._close_pending(state)

    def on_epoch_begin(self, args, state, control, **kwargs):
        self._close_pending(state)

    def _close_pending(self, state) -> None:
        if self.watch is not None and self.pending is not None:
            pending, self.pending = self.pending, None
            self.watch.epoch_end(train_loss=self._train_loss(state), **pending)

    def on_train_end(self, args, state, control, **kwargs):
        if self.watch is not None:
            self._close_pending(state)
            self.watch.__exit__(None, None, None)
            self.watch = None
