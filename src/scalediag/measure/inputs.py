"""What a model takes and gives, whatever its shape: a probe's inputs as a tensor (model(x)), a tuple or list
(model(*x)) or a dict of keyword inputs (model(**x): input_ids, attention_mask); its output as a tensor, a tuple or
list (the first tensor), a dict or an object with `.logits` (Hugging Face's ModelOutput). And `evaluating`: a
measurement's forward pass that leaves no trace on the model or the random state."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn


def call(model: nn.Module, x):
    if isinstance(x, Mapping):
        return model(**x)
    if isinstance(x, (tuple, list)):
        return model(*x)
    return model(x)


def tensors(x) -> list[torch.Tensor]:
    if isinstance(x, Mapping):
        return [v for v in x.values() if torch.is_tensor(v)]
    if isinstance(x, (tuple, list)):
        return [v for v in x if torch.is_tensor(v)]
    return [x] if torch.is_tensor(x) else []


def length(x) -> int | None:
    """The number of samples: the first dimension its tensors share (None where there is none)."""
    sizes = {t.shape[0] for t in tensors(x) if t.dim()}
    return sizes.pop() if len(sizes) == 1 else None


def per_sample(x, fn):
    """x with fn applied to each of its tensors that has a batch dimension (other values as they are)."""
    def apply(v):
        return fn(v) if torch.is_tensor(v) and v.dim() else v

    if isinstance(x, Mapping):
        return {k: apply(v) for k, v in x.items()}
    if isinstance(x, (tuple, list)):
        return type(x)(apply(v) for v in x)
    return apply(x)


def rows(x, start: int, stop: int):
    """Samples start..stop of every tensor of x."""
    return per_sample(x, lambda v: v[start:stop])


def floating(x) -> torch.Tensor | None:
    """The first floating-point input: the one whose scale the first layer sees (None for token ids alone)."""
    return next((t for t in tensors(x) if t.is_floating_point() and t.layout == torch.strided), None)


def logits_of(output) -> torch.Tensor | None:
    """The tensor the loss reads from a model's output: itself, `.logits`, out["logits"], or the first tensor."""
    if torch.is_tensor(output):
        return output
    found = getattr(output, "logits", None)
    if torch.is_tensor(found):
        return found
    if isinstance(output, Mapping):
        if torch.is_tensor(output.get("logits")):
            return output["logits"]
        return next((v for v in output.values() if torch.is_tensor(v)), None)
    if isinstance(output, (tuple, list)):
        return next((v for v in output if torch.is_tensor(v)), None)
    return None


def first_tensor(output) -> torch.Tensor | None:
    """A layer's own output: an LSTM's output sequence of (output, (h, c)), attention's output of (output, weights)."""
    if torch.is_tensor(output):
        return output
    if isinstance(output, (tuple, list)) and output:
        return first_tensor(output[0])
    return None


def device_of(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


class evaluating:
    """Every module in eval mode for a measurement, each given back the mode it had (a model.train() afterwards
    would put back into training a layer the user keeps in eval mode), and the random state as it was: the user's
    next dropout mask and batch order are the ones they would have drawn unwatched."""

    def __init__(self, model: nn.Module):
        self.model = model

    def __enter__(self):
        self.modes = [(m, m.training) for m in self.model.modules()]
        device = device_of(self.model)
        self.rng = torch.random.fork_rng(devices=[device] if device.type == "cuda" else [])
        self.rng.__enter__()
        self.model.eval()
        return self

    def __exit__(self, *exc):
        for m, mode in self.modes:
            m.training = mode
        self.rng.__exit__(*exc)
        return False


def flat_scores(scores: torch.Tensor) -> torch.Tensor:
    """Scores of [..., C] as [rows, C], the way a loss flattens a sequence model's [B, T, V] for its [B*T] labels."""
    return scores.reshape(-1, scores.shape[-1]) if scores.dim() > 2 else scores


def packed(args: list):
    """A call's positional inputs as the probe keeps them: the one tensor, or the tuple of several."""
    return args[0] if len(args) == 1 else tuple(args)


def first_samples(loader, n: int):
    """A trainer's probe: the first n samples of its training loader's dataset, collated by the loader's own
    collate_fn, without touching its sampler (the batch order stays the user's) or the random state (a collate_fn or
    a dataset that draws, augmentation, gets it back); None for an iterable dataset (no len, no index: pass a
    probe). The integrations' callbacks share it."""
    dataset, collate = getattr(loader, "dataset", None), getattr(loader, "collate_fn", None)
    if dataset is None or collate is None or not hasattr(dataset, "__len__"):
        return None
    with torch.random.fork_rng(devices=[]):
        return collate([dataset[i] for i in range(min(n, len(dataset)))])


def unbatched(first: list, args: tuple, most: int) -> bool:
    """Whether a call's one 1-D floating-point input is another unbatched sample like the first call's (kept as
    first[0], one sample or those stacked so far, fewer than most): a model fed one state at a time (an RL policy)
    also takes a batch of them, and their stack is its probe."""
    x, kept = (args[0] if len(args) == 1 else None), (first[0] if len(first) == 1 else None)
    return torch.is_tensor(x) and torch.is_tensor(kept) and x.dim() == 1 and x.is_floating_point() and \
        kept.shape[-1:] == x.shape and (kept.dim() == 1 or (kept.dim() == 2 and len(kept) < most))
