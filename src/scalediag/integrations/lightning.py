"""scalediag.watch as a PyTorch Lightning callback: `Trainer(callbacks=[WatchCallback()])`.

    from scalediag.integrations.lightning import WatchCallback
    trainer = Trainer(max_epochs=5, callbacks=[WatchCallback(every=50)])

It watches the LightningModule with the trainer's optimizers from `on_train_start` (after Lightning has configured
them, before the first step), closes each training epoch with what the module logged (`train_loss`, `val_loss`,
`val_acc` by default, or those names with Lightning's `_epoch` suffix; each name configurable), and ends at the end
of training, or on an exception (`failed`, or `interrupted` for Ctrl-C). Its directory defaults to the trainer's log
directory (its logger's, else `default_root_dir`) + `scalediag`; under DDP each rank writes its own `rank<r>` below.

The probe, unless given: the first `probe_size` samples of the training dataloader's dataset, collated by the
dataloader's own collate_fn (the sampler is not touched, so the batch order stays the user's; the random state is
put back, so a random augmentation draws what it would have), the inputs taken from the batch with `inputs(batch)`
(default: `batch[0]`) and the labels with `labels(batch)` (default: `batch[1]`): override both for another batch
layout, or pass `probe=(x, y)`.
"""

from __future__ import annotations

from pathlib import Path

from lightning.pytorch import Callback

from ..measure.inputs import first_samples, per_sample
from ..measure.watch import Watch


def _first(batch):
    return batch[0]


def _second(batch):
    return batch[1]


class WatchCallback(Callback):
    def __init__(self, log_dir: str | Path | None = None, every: int = 50, probe: tuple | None = None,
                 probe_size: int = 256, inputs=_first, labels=_second, train_loss: str = "train_loss",
                 val_loss: str = "val_loss", val_acc: str = "val_acc"):
        self.log_dir, self.every, self.probe, self.probe_size = log_dir, every, probe, probe_size
        self.inputs, self.labels = inputs, labels
        self.names = {"train_loss": train_loss, "test_loss": val_loss, "test_acc": val_acc}
        self.watch: Watch | None = None

    def _dir(self, trainer) -> Path:
        if self.log_dir is not None:
            return Path(self.log_dir)
        return Path(trainer.log_dir or trainer.default_root_dir) / "scalediag"

    def _probe(self, trainer, pl_module):
        if self.probe is not None:
            return self.probe
        batch = first_samples(trainer.train_dataloader, self.probe_size)
        if batch is None:
            return None  # an iterable dataset: pass probe=(x, y)
        device = pl_module.device
        return tuple(per_sample(part, lambda t: t.to(device)) for part in (self.inputs(batch), self.labels(batch)))

    def on_train_start(self, trainer, pl_module) -> None:
        self.watch = Watch(pl_module, list(trainer.optimizers), self._dir(trainer), every=self.every,
                           probe=self._probe(trainer, pl_module)).__enter__()

    def _metric(self, trainer, name: str) -> float | None:
        metrics = trainer.callback_metrics
        for key in (name, f"{name}_epoch"):
            if key in metrics:
                return float(metrics[key])
        return None

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self.watch is not None:
            self.watch.epoch_end(**{k: self._metric(trainer, name) for k, name in self.names.items()})

    def on_train_end(self, trainer, pl_module) -> None:
        if self.watch is not None:
            self.watch.__exit__(None, None, None)
            self.watch = None

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        if self.watch is not None:
            self.watch.__exit__(type(exception), exception, exception.__traceback__)
            self.watch = None
