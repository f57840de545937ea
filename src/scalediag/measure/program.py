"""Checks of the training program itself, not of its numbers: what a hook sees of how the loop drives the model.

At measured steps (armed with the step, nothing at the others):
- modes: the Dropout and BatchNorm modules in eval mode while the optimizer steps (BatchNorm frozen on purpose,
  all its parameters requires_grad=False, is not counted);
- stale gradients: a tensor hook on each optimized weight sees .grad before the step's first backward adds to it:
  anything there is the last step's gradient, not zeroed; unless a later backward of the same step finds .grad
  cleared (zero_grad ran in between: a GAN's discriminator gets the generator's backward first, then its own after
  zero_grad). Later backwards that add to it, micro-batches, are accumulation on purpose;
- coverage: at the optimizer's step pre-hook, parameters that received a gradient but belong to no optimizer; and
  the layers that ran in the step's forward passes whose optimized weights got no gradient (None, or exactly 0).

Once, at entry, on the probe in eval mode (structure): weight layers with nothing nonlinear between them (the second
one's input is the first one's output, reshaped at most: the same storage at the same version, so an in-place ReLU
between them does count as one), and whether a sample's output depends on the other samples of its batch (one sample
replaced by another, the others' outputs compared).

And what the schedule and the data look like: each param group's learning rate and weight decay at the measured
steps; each measured step's most-predicted class and its share of the batch, and the model's total gradient norm
(step statistics, handed over as they are drained); the inputs' scale in training (measured steps) and in
evaluation (every forward pass without autograd that is not scalediag's own), as running sums on the device.

Everything kept as device tensors until `summary()` at an epoch's end: nothing here syncs within an epoch.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .. import tags
from .inputs import call, evaluating, floating, length, logits_of, per_sample, rows, tensors
from .layers import Layers, trainable
from .where import Sites

MODE_DEPENDENT = (nn.modules.dropout._DropoutNd, nn.modules.batchnorm._BatchNorm)
MIXING_SAMPLES = 16  # the probe's samples the batch-mixing check runs on


def _mode_matters(m: nn.Module) -> bool:
    """Whether a module computes otherwise in eval mode, where that is not on purpose: a Dropout that drops, a
    BatchNorm that tracks statistics unless it is frozen (all its parameters requires_grad=False)."""
    if isinstance(m, nn.modules.dropout._DropoutNd):
        return m.p > 0
    if isinstance(m, nn.modules.batchnorm._BatchNorm):
        frozen = m.affine and not any(p.requires_grad for p in m.parameters(recurse=False))
        return m.track_running_stats and not frozen
    return False


class ProgramChecks:
    def __init__(self, model: nn.Module, layers: Layers, optimizers: list):
        self.model, self.layers = model, layers
        self.optimized = {id(p) for opt in optimizers for g in opt.param_groups for p in g["params"]}
        self.owner = {id(p): name for name, m in layers.modules.items() for p in m.parameters(recurse=False)}
        self.handles: list = []
        self.measured = 0
        self.eval_steps: list[int] = []  # measured steps taken with a mode-dependent module in eval mode
        self.eval_modules: dict[str, str] = {}  # its name -> its class
        # (step, ||grad before||, ||new grad||, the least ||.grad|| a later backward of the step found, or None)
        self.stale: list[tuple[int, torch.Tensor, torch.Tensor, torch.Tensor | None]] = []
        self.not_optimized: dict[str, int] = {}  # layer -> first step it got a gradient
        # layer that ran -> [(step, ||grad|| or None where a weight had none, ||what backward gave it|| or None)]
        self.no_gradient: dict[str, list] = {}
        self.structure: dict = {}
        self.lr: dict[str, list] = {"steps": [], "lr": []}
        self.weight_decay = [g.get("weight_decay") for opt in optimizers[:1] for g in opt.param_groups]
        self.batches: dict[str, list] = {"steps": [], "top_class": [], "top_share": []}
        self.grad_total: dict[str, list] = {"steps": [], "norm": []}
        self.inputs: dict[str, list | None] = {"train": None, "eval": None}  # [sum x^2, sum x, n, min, max]
        self.where = Sites(model, optimizers)  # the user's lines, taken at measured steps' hooks only

    # at a measured step
    def arm(self, step: int) -> None:
        self.disarm()
        self.step, self.ran, self.seen, self.counted = step, set(), set(), set()
        self.computed: dict[int, torch.Tensor] = {}  # a weight's id -> the norm of what this step's backward gave it
        self.measured += 1
        off = {n: type(m).__name__ for n, m in self.model.named_modules() if _mode_matters(m) and not m.training}
        if off:
            self.eval_steps.append(step)
            self.eval_modules.update(off)
            self.where.see("trained_in_eval", step)  # the forward (or step) that began a step in eval mode
        self.before, self.after, self.later = [], [], []
        for name, m in self.layers.modules.items():
            self.handles.append(m.register_forward_hook(self._ran(name)))
            for p in trainable(m):
                if id(p) in self.optimized:
                    self.handles.append(p.register_hook(self._first_backward(p)))

    def _ran(self, name: str):
        def hook(module, inputs, output):
            self.ran.add(name)

        return hook

    def _first_backward(self, p: torch.Tensor):
        def hook(grad):
            old = p.grad
            zero = grad.new_zeros((), dtype=torch.float32)
            if id(p) not in self.seen:  # the step's first backward through p: .grad is what the last step left
                self.seen.add(id(p))
                self.where.see("backward", self.step)
                self.before.append(old.detach().float().norm() if old is not None else zero)
                self.after.append(grad.detach().float().norm())
                self.computed[id(p)] = self.after[-1]
            else:  # a later one: .grad None or 0 here means it was cleared since the first
                self.later.append(old.detach().float().norm() if old is not None else zero)

        return hook

    def before_step(self, optimizer, first: bool) -> None:
        """At an optimizer's step pre-hook of a measured step (first: the first optimizer given): who got a gradient,
        and who did not; the learning rates it steps with."""
        if not self.handles:
            return
        if first and self.step not in self.lr["steps"][-1:] and "lr" in optimizer.param_groups[0]:
            self.lr["steps"].append(self.step)
            self.lr["lr"].append([float(g["lr"]) for g in optimizer.param_groups])
        for name, m in self.layers.modules.items():
            for p in m.parameters(recurse=False):
                if p.requires_grad and p.grad is not None and id(p) not in self.optimized:
                    self.not_optimized.setdefault(name, self.step)
                    self.where.see("not_optimized", self.step)  # the step() that leaves them out
        for name in self.ran - self.counted:  # several optimizers: the first that steps sees every gradient
            self.counted.add(name)
            weights = [p for p in trainable(self.layers.modules[name]) if id(p) in self.optimized]
            if weights:
                grads = [p.grad for p in weights if p.grad is not None]
                norm = torch.linalg.vector_norm(torch.stack([g.detach().float().norm() for g in grads])) \
                    if len(grads) == len(weights) else None
                # what this step's backward computed for it (None: backward did not reach it), against .grad now
                computed = [self.computed[id(p)] for p in weights if id(p) in self.computed]
                computed = torch.linalg.vector_norm(torch.stack(computed)) if computed else None
                self.no_gradient.setdefault(name, []).append((self.step, norm, computed))

    def see_row(self, step: int, values: dict) -> None:
        """A measured step's statistics as drained (host floats): the batch's predictions, the total gradient."""
        if tags.TOP_SHARE in values:
            self.batches["steps"].append(step)
            self.batches["top_class"].append(int(values[tags.TOP_CLASS]))
            self.batches["top_share"].append(values[tags.TOP_SHARE])
        if tags.GRAD_TOTAL in values:
            self.grad_total["steps"].append(step)
            self.grad_total["norm"].append(values[tags.GRAD_TOTAL])

    def see_input(self, args, kwargs, mode: str) -> None:
        """A forward pass's first floating-point input, into the running sums of its mode (train or eval)."""
        x = floating(list(args) + [v for v in kwargs.values() if torch.is_tensor(v)])
        if x is None or not x.numel():
            return
        x = x.detach().float()
        found = [x.square().sum(), x.sum(), x.numel(), x.amin(), x.amax()]
        kept = self.inputs[mode]
        self.inputs[mode] = found if kept is None else \
            [kept[0] + found[0], kept[1] + found[1], kept[2] + found[2], torch.minimum(kept[3], found[3]),
             torch.maximum(kept[4], found[4])]

    def collect(self) -> None:
        if self.before:
            self.stale.append((self.step, torch.linalg.vector_norm(torch.stack(self.before)),
                               torch.linalg.vector_norm(torch.stack(self.after)),
                               torch.stack(self.later).amin() if self.later else None))
        self.disarm()

    def disarm(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles = []

    # once, on the probe
    @torch.no_grad()
    def check_structure(self, x, whole: bool = False) -> None:
        """At entry, on the probe: weight layers fed straight by another's output (missing_activation), and whether
        samples mix within a batch. whole: a probe that cannot be cut into samples (a language model's [T, B] tokens,
        a graph whose nodes meet by design): which axis holds the samples is not known, so mixing is not checked."""
        # storage -> (layer, version, the output itself) of each weight layer's output: kept alive until the check
        # ends, so that no later tensor is allocated at its address (without autograd it would be freed at once)
        outputs: dict[int, tuple[str, int, torch.Tensor]] = {}
        pairs: list[list[str]] = []

        def output_hook(name):
            def hook(module, inputs, output):
                if torch.is_tensor(output):
                    outputs[output.untyped_storage().data_ptr()] = (name, output._version, output)

            return hook

        def input_hook(name):
            def hook(module, args):
                z = args[0] if args and torch.is_tensor(args[0]) else None
                if z is not None:
                    found = outputs.get(z.untyped_storage().data_ptr())
                    if found and found[1] == z._version and found[0] != name and \
                            not _bottleneck(self.layers.weighted[found[0]], module):
                        pairs.append([found[0], name])

            return hook

        n = min(MIXING_SAMPLES, length(x) or 0)
        chunk = x if whole else rows(x, 0, n)
        handles = []
        for name, m in self.layers.weighted.items():
            handles.append(m.register_forward_hook(output_hook(name)))
            handles.append(m.register_forward_pre_hook(input_hook(name)))
        try:
            with evaluating(self.model):
                first = logits_of(call(self.model, chunk))
        finally:
            for h in handles:
                h.remove()
        self.structure["missing_activation"] = pairs
        self.structure["batch_mixing"] = None if whole else self._mixing(chunk, first, n)

    def _mixing(self, chunk, first: torch.Tensor, n: int) -> dict | None:
        """The largest change of the other samples' outputs when sample 0 is replaced (_replaced), relative to the
        outputs' largest magnitude (0 where samples do not mix: each row is computed alone)."""
        if n < 3 or first is None:
            return None
        other = next((j for j in range(1, n) if any(not torch.equal(t[0], t[j]) for t in tensors(chunk))), None)
        if other is None:
            return None
        changed = _replaced(chunk, other)
        with evaluating(self.model):
            second = logits_of(call(self.model, changed))
        scale = first.float().abs().amax().clamp_min(1e-12)
        return {"samples": n, "replaced_by": other,
                "change": float((second[1:].float() - first[1:].float()).abs().amax() / scale)}

    def summary(self) -> dict:
        """What the checks found so far, on the host (the epoch's end)."""
        # a step whose gradients were cleared after its first backward applied only what came after: not stale
        stale = [(s, float(b) if later is None or float(later) > 0 else 0.0, float(a)) for s, b, a, later in self.stale]
        worst = max(stale, key=lambda t: t[1] / t[2] if t[2] else 0.0, default=None)
        no_grad = {}
        for name, seen in self.no_gradient.items():
            values = [(None if v is None else float(v), None if c is None else float(c)) for _, v, c in seen]
            no_grad[name] = {"steps": len(values), "none": sum(v is None for v, _ in values),
                             "zero": sum(v == 0 for v, _ in values), "first": seen[0][0],
                             # a gradient backward computed (not 0), gone by the step: cleared in between
                             "cleared": sum(bool(c) and not v for v, c in values)}
        inputs = {}
        for mode, kept in self.inputs.items():
            if kept is not None:
                squares, total, n, low, high = (float(v) for v in kept)
                inputs[mode] = {"rms": math.sqrt(squares / n), "mean": total / n, "min": low, "max": high}
        return {"measured_steps": self.measured, "eval_mode": {"steps": self.eval_steps, "modules": self.eval_modules},
                "lr": {**self.lr, "weight_decay": self.weight_decay}, "batches": self.batches,
                "grad_total": self.grad_total, "inputs": inputs,
                "stale_gradient": {"steps": sum(b > 0 for _, b, _ in stale), "of": len(stale),
                                   "worst": {"step": worst[0], "before": worst[1], "new": worst[2]}
                                   if worst and worst[1] > 0 else None},
                "not_optimized": self.not_optimized, "gradients": no_grad, **self.structure,
                "where": self.where.summary(assigned=list(self.not_optimized))}


def _replaced(chunk, j: int):
    """chunk with its sample 0 replaced by sample j reversed along each of its dimensions, in every tensor: every
    position of sample 0 changes, not only those where two samples differ (a model mixing samples through one image
    row, blank in most images, showed no change with sample j as it is)."""
    def swap(t):
        t = t.clone()
        t[0] = t[j].flip(tuple(range(t[j].dim()))) if t[j].dim() else t[j]
        return t

    return per_sample(chunk, swap)


def _bottleneck(first: nn.Module, second: nn.Module) -> bool:
    """Two weight layers in a row whose middle is narrower than both ends: a low-rank factorisation on purpose (an
    autoencoder's code, a factorised projection), not an activation left out. Weights are [out, in, ...]."""
    w1, w2 = first.weight, second.weight
    return w1.shape[0] < min(w1.shape[1], w2.shape[0])
