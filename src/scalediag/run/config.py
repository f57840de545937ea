"""Validate the composed configuration once, before anything runs: one clear line per mistake."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from .model import ACTIVATIONS, INITS, OUTPUTS
from .overrides import CONF_DIR
DEVICES = ("auto", "cpu", "cuda")


def members(group: str) -> tuple[str, ...]:
    """The choices of a config group: its YAML files. A new loss is one file in conf/loss/ and one class."""
    return tuple(sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml")))


LOSSES = members("loss")


class ConfigError(ValueError):
    """One or more configuration mistakes; `problems` holds one line each."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _positive_number(v) -> bool:
    return _is_number(v) and math.isfinite(v) and v > 0


def _count(v) -> bool:
    return _is_int(v) and v >= 1


# key -> (test, what is allowed)
RULES = {
    "divisor": (_positive_number, "a finite number > 0"),
    "seed": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
    "device": (lambda v: v in DEVICES, "one of " + ", ".join(DEVICES)),
    "data.root": (lambda v: isinstance(v, str) and v != "", "a directory path"),
    "data.debian_dir": (lambda v: isinstance(v, str), "a directory path"),
    "data.download": (lambda v: isinstance(v, bool), "true or false"),
    "data.verify": (lambda v: isinstance(v, bool), "true or false"),
    "data.train_limit": (lambda v: v is None or _count(v), "null (all samples) or an integer >= 1"),
    "data.test_limit": (lambda v: v is None or _count(v), "null (all samples) or an integer >= 1"),
    "data.label_noise": (lambda v: _is_number(v) and 0 <= v < 1, "a number in [0, 1)"),
    "model.hidden": (lambda v: _count(v) or (_is_list(v) and len(v) > 0 and all(_count(h) for h in v)),
                     "an integer >= 1 or a list of them, e.g. [256,128]"),
    "model.activation": (lambda v: v in ACTIVATIONS, "one of " + ", ".join(ACTIVATIONS)),
    "model.init": (lambda v: v in INITS, "one of " + ", ".join(INITS)),
    "model.init_std": (_positive_number, "a finite number > 0"),
    "model.output": (lambda v: v in OUTPUTS, "one of " + ", ".join(OUTPUTS)),
    "optimizer.lr": (_positive_number, "a finite number > 0"),
    "optimizer.betas": (
        lambda v: _is_list(v) and len(v) == 2 and all(_is_number(b) and 0 <= b < 1 for b in v),
        "two numbers in [0, 1), e.g. [0.9,0.999]",
    ),
    "optimizer.eps": (lambda v: _is_number(v) and math.isfinite(v) and v >= 0, "a finite number >= 0"),
    "loss.name": (lambda v: v in LOSSES, "one of " + ", ".join(LOSSES)),
    "train.epochs": (_count, "an integer >= 1"),
    "train.batch_size": (_count, "an integer >= 1"),
    "train.threads": (lambda v: v is None or _count(v), "null (automatic) or an integer >= 1"),
    "train.resume": (lambda v: isinstance(v, bool), "true or false"),
    "diag.enabled": (lambda v: isinstance(v, bool), "true or false"),
    "diag.every_n_steps": (_count, "an integer >= 1"),
    "diag.probe_size": (_count, "an integer >= 1"),
    "diag.early_steps": (lambda v: _is_list(v) and all(_count(s) for s in v), "a list of steps >= 1, e.g. [1,2,4]"),
}


# keys that no rule above checks but that a configuration may hold
OTHER_KEYS = ("loss.clip_eps", "model._target_", "optimizer._target_", "loss._target_")
KNOWN = frozenset((*RULES, *OTHER_KEYS))


def _is_list(v) -> bool:
    return isinstance(v, (list, tuple)) or OmegaConf.is_list(v)


def _show(v) -> str:
    return repr(OmegaConf.to_container(v) if OmegaConf.is_config(v) else v)


def problems(cfg: DictConfig) -> list[str]:
    """Every mistake in cfg, one line each; empty when cfg is valid. Touches the file system only for data.root."""
    found = []
    for key, (ok, allowed) in RULES.items():
        value = OmegaConf.select(cfg, key, default=None)
        if not ok(value):
            found.append(f"{key}={_show(value)}: must be {allowed}")
    clip = OmegaConf.select(cfg, "loss.clip_eps", default=None)
    if cfg.get("loss", {}).get("name") == "keras_clipped" and not (_is_number(clip) and 0 < clip < 0.5):
        found.append(f"loss.clip_eps={_show(clip)}: must be a number in (0, 0.5)")
    if cfg.get("device") == "cuda" and not torch.cuda.is_available():
        found.append(f"device='cuda': CUDA is not available here (torch {torch.__version__}); use device=cpu or auto")
    if not any(p.startswith("data.root=") for p in found):
        found += _root_problems(cfg.data.root)
    return found + unknown_keys(cfg)


def unknown_keys(cfg: DictConfig) -> list[str]:
    """A key no part of scalediag reads (a misspelling added with +, say), one line each, naming what its group has."""
    plain = OmegaConf.to_container(cfg, resolve=False)
    found = []
    for key in _leaves({k: v for k, v in plain.items() if k != "hydra"}):
        if key not in KNOWN:
            group = key.rpartition(".")[0]
            siblings = sorted(k.rpartition(".")[2] for k in KNOWN
                              if k.rpartition(".")[0] == group and not k.endswith("_"))
            found.append(f"{key}: not a key of scalediag's configuration"
                         + (f" ({group} has: {', '.join(siblings)})" if group and siblings else ""))
    return found


def _leaves(node: dict, prefix: str = ""):
    for key, value in node.items():
        if isinstance(value, dict) and value:
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


def _root_problems(root: str) -> list[str]:
    path = Path(root).expanduser()
    if path.exists() and not path.is_dir():
        return [f"data.root={root!r}: is a file, must be a directory that can be written"]
    try:  # only a real write tells: root passes any permission check
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        return [f"data.root={root!r}: cannot be written ({e.strerror or e}), must be a directory that can be written"]
    return []


def output_problem(key: str, path: Path) -> str | None:
    """Where a run or sweep will write: None if it exists and can be written, or can be made. Makes nothing: the
    first part of the path that exists is tried with a temporary file."""
    path = Path(path).expanduser().absolute()
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        return f"{key}={str(path)!r}: {existing} is a file, the output must go to a directory"
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as e:
        what = "cannot be written" if existing == path else f"cannot be created in {existing}"
        return f"{key}={str(path)!r}: {what} ({e.strerror or e})"
    return None


def validate(cfg: DictConfig) -> None:
    found = problems(cfg)
    if found:
        raise ConfigError(found)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)
