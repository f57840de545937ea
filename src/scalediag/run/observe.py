"""What a run's `diag.*` configuration asks of the measurements (scalediag.measure), and the keys of its HParams."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from ..measure.hooks import Diagnostics
from ..measure.monitor import Probe, StepMonitor
from ..measure.writer import RunWriter
from ..record import optimizer_name
from .data import Split, scaled


class RunMonitor:
    """The step monitor and the probe set (the first diag.probe_size training images), or nothing when
    diag.enabled is false."""

    def __init__(self, cfg: DictConfig, model, optimizer, writer: RunWriter, split: Split, divisor: float, loss_fn,
                 clip_eps: float, step: int):
        self.writer, self.optimizer = writer, optimizer
        self.diag = Diagnostics(model, clip_eps) if cfg.enabled else None
        self.steps = StepMonitor(self.diag, writer, cfg.every_n_steps, step, tuple(cfg.early_steps)) \
            if cfg.enabled else None
        self.probe = Probe(self.diag, scaled(split.x[: cfg.probe_size], divisor), split.y[: cfg.probe_size],
                           loss_fn) if cfg.enabled else None

    def __enter__(self) -> "RunMonitor":
        return self

    def __exit__(self, *exc) -> None:
        if self.diag is not None:
            self.diag.__exit__(*exc)

    def early(self) -> dict[str, dict[str, float]]:
        """Every statistic of each early step measured so far (metrics.json's "early"), by step."""
        return self.steps.early_rows if self.steps else {}

    def at_init(self) -> dict[str, float] | None:
        return self.probe.measure(self.writer, step=0, at_init=True) if self.probe else None

    def at_epoch_end(self, step: int) -> dict[str, float] | None:
        """The epoch's step means, the probe set's and Adam's state's statistics; None without diagnostics."""
        if self.probe is None:
            return None
        adam = self.writer.scalars(self.diag.adam(self.optimizer), step)
        return {**self.steps.epoch_means(), **self.probe.measure(self.writer, step), **adam}


def hparams(cfg: DictConfig) -> dict:
    """The keys TensorBoard's HParams dashboard sorts runs by."""
    model, opt = OmegaConf.to_container(cfg.model), cfg.optimizer
    return {"divisor": float(cfg.divisor), "optimizer": optimizer_name(opt),
            "optimizer.eps": float(opt.eps), "optimizer.lr": float(opt.lr), "loss": cfg.loss.name,
            "model.init": model["init"], "model.init_std": float(model["init_std"]), "model.output": model["output"],
            "model.activation": model["activation"], "model.hidden": str(model["hidden"]),
            "data.label_noise": float(cfg.data.label_noise), "seed": cfg.seed, "train.batch_size": cfg.train.batch_size}
