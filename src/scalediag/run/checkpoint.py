"""Save a run at each epoch's end and resume it: model, optimizer, random states and the epochs' record."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from ..files import write_bytes_atomic
from ..record import METRICS

log = logging.getLogger(__name__)
CHECKPOINT = "checkpoint.pt"
# what a checkpoint must agree on with the run that resumes it (train.epochs may grow, data/device/diag may change)
RESUME_KEYS = ("divisor", "seed", "model", "optimizer", "loss", "train.batch_size", "data.label_noise")


def save(out_dir: Path, epoch: int, model, optimizer, gen: torch.Generator, record: dict) -> None:
    state = {"epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "rng": torch.get_rng_state(), "gen": gen.get_state(), "config": record["config"],
             "init": record["init"], "early": record["early"], "history": record["history"]}
    buf = io.BytesIO()
    torch.save(state, buf)
    write_bytes_atomic(Path(out_dir) / CHECKPOINT, buf.getvalue())


def refusal(cfg: DictConfig, out_dir: Path) -> str | None:
    """Why this run must not start in out_dir, in one line; None where it may. Reads, never writes: a refused run
    leaves every file of out_dir as it was. Refused: results there but no resume asked for; a resume whose
    checkpoint is damaged or was made with another configuration, or that has results but no checkpoint."""
    out_dir = Path(out_dir)
    path, results = out_dir / CHECKPOINT, out_dir / METRICS
    if not cfg.train.resume:
        if results.exists():
            return (f"{results}: this directory already holds a run's results; continue that run with "
                    f"train.resume=true, or write this one elsewhere (hydra.run.dir=..., hydra.sweep.dir=...)")
        return None
    if not path.is_file():
        return (f"{results}: train.resume=true but there is no {CHECKPOINT} to continue from; write this run "
                f"elsewhere (hydra.run.dir=...)") if _has_epochs(results) else None
    try:
        state = _load(path, torch.device("cpu"))
    except Exception as e:  # torch raises RuntimeError, EOFError, pickle and zip errors...: all mean damaged
        return (f"{path}: damaged, cannot be read ({type(e).__name__}); start afresh in another directory "
                f"(hydra.run.dir=...) or delete it to start afresh here")
    return _mismatch(cfg, path, state)


def _has_epochs(results: Path) -> bool:
    try:
        return bool(json.loads(results.read_text()).get("history"))
    except (OSError, ValueError, AttributeError):
        return results.exists()


def _load(path: Path, device: torch.device) -> dict:
    state = torch.load(path, map_location=device, weights_only=True)
    if not isinstance(state, dict) or not {"epoch", "model", "optimizer", "config"} <= state.keys():
        raise ValueError("not a scalediag checkpoint")
    return state


def _mismatch(cfg: DictConfig, path: Path, state: dict) -> str | None:
    saved = OmegaConf.create(state["config"])
    for key in RESUME_KEYS:
        then, now = OmegaConf.select(saved, key), OmegaConf.select(cfg, key)
        if then != now:
            return f"{path} was made with {key}={_plain(then)}, this run has {key}={_plain(now)}"
    return None


def resume(cfg: DictConfig, out_dir: Path, model, optimizer, gen: torch.Generator) -> dict | None:
    """Restore the last epoch's checkpoint into model, optimizer, the random states; return what it kept of the
    record (epoch, init, history), or None where there is no checkpoint. Raises ValueError, changing nothing, where
    the checkpoint was made with another configuration."""
    path = Path(out_dir) / CHECKPOINT
    if not path.is_file():
        log.info(f"train.resume=true but {path} does not exist: starting from the beginning")
        return None
    state = _load(path, next(model.parameters()).device)
    mismatch = _mismatch(cfg, path, state)
    if mismatch:
        raise ValueError(mismatch)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng"])
    gen.set_state(state["gen"])
    return {"early": state.get("early"), **{k: state[k] for k in ("epoch", "init", "history")}}


def _plain(v):
    return OmegaConf.to_container(v) if OmegaConf.is_config(v) else v
