"""Save a run at each epoch's end and resume it: model, optimizer, random states and the epochs' record."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from .files import write_bytes_atomic

log = logging.getLogger(__name__)
CHECKPOINT = "checkpoint.pt"
# what a checkpoint must agree on with the run that resumes it (train.epochs may grow, data/device/diag may change)
RESUME_KEYS = ("divisor", "seed", "model", "optimizer", "loss", "train.batch_size")


def save(out_dir: Path, epoch: int, model, optimizer, gen: torch.Generator, record: dict) -> None:
    state = {"epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "rng": torch.get_rng_state(), "gen": gen.get_state(), "config": record["config"],
             "init": record["init"], "history": record["history"]}
    buf = io.BytesIO()
    torch.save(state, buf)
    write_bytes_atomic(Path(out_dir) / CHECKPOINT, buf.getvalue())


def resume(cfg: DictConfig, out_dir: Path, model, optimizer, gen: torch.Generator) -> dict | None:
    """Restore the last epoch's checkpoint into model, optimizer, the random states; return what it kept of the
    record (epoch, init, history), or None where there is no checkpoint. Raises ValueError, changing nothing, where
    the checkpoint was made with another configuration."""
    path = Path(out_dir) / CHECKPOINT
    if not path.is_file():
        log.info(f"train.resume=true but {path} does not exist: starting from the beginning")
        return None
    state = torch.load(path, map_location=next(model.parameters()).device, weights_only=True)
    for key in RESUME_KEYS:
        then, now = OmegaConf.select(OmegaConf.create(state["config"]), key), OmegaConf.select(cfg, key)
        if then != now:
            raise ValueError(f"{path} was made with {key}={_plain(then)}, this run has {key}={_plain(now)}")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng"])
    gen.set_state(state["gen"])
    return {k: state[k] for k in ("epoch", "init", "history")}


def _plain(v):
    return OmegaConf.to_container(v) if OmegaConf.is_config(v) else v
