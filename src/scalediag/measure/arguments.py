"""scalediag.watch's arguments, checked before anything is hooked or written: one TypeError or ValueError naming the
argument and what is wrong with it."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from ..record import METRICS
from ..tags import TASKS
from .handwritten import HandWritten
from .inputs import call, evaluating, flat_scores, length, logits_of, rows, tensors

TRIAL = 8  # the probe's samples the model is tried on before watch hooks anything


def _error(kind, what: str) -> Exception:
    return kind(f"scalediag.watch: {what}")


def model(m) -> nn.Module:
    if hasattr(m, "_orig_mod"):
        raise _error(TypeError, "a torch.compile'd model runs its compiled graph, which skips module hooks; watch the "
                                "original module (model._orig_mod) and compile it after, or not at all")
    if isinstance(m, nn.parallel.DistributedDataParallel):
        m = m.module  # each rank measures its own replica
    if not isinstance(m, nn.Module):
        raise _error(TypeError, f"model must be a torch.nn.Module, got {type(m).__name__}")
    return m


def optimizers(opt, m: nn.Module) -> list:
    """One optimizer or a list of them, together holding some of the model's parameters; None: the loop updates the
    weights by hand (handwritten.py)."""
    if opt is None or isinstance(opt, HandWritten):
        update = opt or HandWritten(m)
        if not update.param_groups[0]["params"]:
            raise _error(ValueError, f"optimizer=None: none of the {type(m).__name__}'s parameters requires grad, so "
                                     f"nothing can update them")
        return [update]
    found = list(opt) if isinstance(opt, (list, tuple)) else [opt]
    for o in found:
        if not isinstance(o, torch.optim.Optimizer):
            raise _error(TypeError, f"optimizer: needs a torch.optim.Optimizer (its step hooks), got "
                                    f"{type(o).__name__}")
    if not found:
        raise _error(ValueError, "optimizer: an empty list")
    held = {id(p) for o in found for g in o.param_groups for p in g["params"]}
    if not any(id(p) in held for p in m.parameters()):
        raise _error(ValueError, f"optimizer: holds none of the {type(m).__name__}'s parameters (was it built for "
                                 f"another model, or before the model was replaced?)")
    return found


def every(n) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise _error(ValueError, f"every={n!r}: must be an integer >= 1")
    return n


def log_dir(path) -> Path:
    """A directory that can be made and written, and holds no run's record yet (a record is never overwritten)."""
    if not isinstance(path, (str, os.PathLike)):
        raise _error(TypeError, f"log_dir must be a path, got {type(path).__name__}")
    path = Path(path)
    if (path / METRICS).exists():
        raise _error(ValueError, f"log_dir {path} already holds a watched run ({METRICS}): give each run its own "
                                 f"directory, or delete that one to replace it")
    ancestor = path
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise _error(ValueError, f"log_dir {path} cannot be made: {ancestor} is a file")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise _error(ValueError, f"log_dir {path} cannot be written: no write permission in {ancestor}")
    return path


def task(name) -> str:
    if name not in TASKS:
        raise _error(ValueError, f"task {name!r}: one of {', '.join(TASKS)}")
    return name


def probe(batch, m: nn.Module) -> tuple[int | None, bool]:
    """A probe (inputs, integer labels, or None where the labels are unknown) the model takes: tried on its first
    samples in eval mode, without autograd. Returns the number of classes of the model's output (None without a
    probe), and whether the probe is taken whole: a model whose output rows are not its inputs' first axis (a
    language model's [T, B] tokens -> [T*B, vocabulary] log-probabilities, a graph's nodes) cannot be cut into
    samples, and is measured on the whole batch, its labels one per output row."""
    if batch is None:
        return None, False
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise _error(TypeError, "probe must be a pair (inputs, labels): inputs as the model takes them (a tensor, a "
                                "tuple, or a dict of keyword inputs), labels an integer tensor of classes")
    x, y = batch
    n = length(x)
    unlabelled = y is None  # what `scalediag run` has where the loss is written by hand: no loss, no accuracy
    if n is None and (unlabelled or not torch.is_tensor(y)):
        raise _error(ValueError, "probe: its inputs hold no tensors of one batch size")
    if n == 0 or (torch.is_tensor(y) and y.numel() == 0):
        raise _error(ValueError, "probe: empty (0 samples)")
    if not unlabelled:
        if not torch.is_tensor(y) or y.dtype in (torch.bool, torch.complex64, torch.complex128) or \
                y.is_floating_point():
            kind = y.dtype if torch.is_tensor(y) else type(y).__name__
            raise _error(TypeError, f"probe: its labels must be an integer tensor of classes, got {kind} (one-hot or "
                                    f"probabilities: pass labels.argmax(1))")
        if y.dim() != 1:
            raise _error(ValueError, f"probe: {n} inputs but labels of shape {list(y.shape)} (one class per sample)")
    # labels per output row, not per input (a sequence-first language model's, with its hidden state): taken whole
    # a sparse input (a graph's adjacency) cannot be sliced (no as_strided): the nodes are taken together
    whole = any(t.layout != torch.strided for t in tensors(x)) or (not unlabelled and len(y) != n)
    try:
        with evaluating(m), torch.no_grad():
            out = logits_of(call(m, x if whole else rows(x, 0, TRIAL)))
    except Exception as e:
        first = (str(e).strip().splitlines() or [""])[0]  # one line: a dispatcher's error lists every backend
        raise _error(ValueError, f"probe: the model could not take its inputs ({type(e).__name__}: {first})") from e
    if whole and out is not None:  # [B, T, V] scores, their labels [B*T]: flattened as the loss does
        out = flat_scores(out)
    rows_wanted = (len(y) if not unlabelled else None) if whole else min(n, TRIAL)  # whole, unlabelled: any rows
    if out is None or out.dim() != 2 or rows_wanted not in (None, out.shape[0]):
        shape = list(out.shape) if out is not None else None
        what = ("its inputs" if unlabelled else f"its {len(y)} labels") if whole else f"{min(n, TRIAL)} samples"
        raise _error(ValueError, f"probe: the model's output for {what} is {shape}; the probe needs [samples, "
                                 f"classes] logits for its labels" + (", one row per label" if whole else ""))
    if unlabelled:
        return int(out.shape[1]), whole
    low, high = int(y.min()), int(y.max())
    if low < 0 or high >= out.shape[1]:
        raise _error(ValueError, f"probe: labels from {low} to {high}, outside the model's {out.shape[1]} classes "
                                 f"(0 to {out.shape[1] - 1})")
    return int(out.shape[1]), whole
