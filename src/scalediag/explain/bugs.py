"""The causes in the training code itself: gradients never zeroed, steps in eval mode, layers the optimizer does not
hold, a graph cut before a layer, a missing activation, an activation on the output, samples that mix within a
batch. Each reads what scalediag.watch saw of the program (metrics.json's "program", measure/program.py) or the probe
at init; each is structural or seen within the first steps, so it is named whether or not the run's numbers look
bad yet.

Thresholds, against the healthy programs of tests/test_watch_programs.py (24 programs: MLPs, CNNs with BatchNorm and
Dropout, Conv1d/3d, GRU, LSTM, attention, a Transformer encoder, embeddings; SGD, Adam, AdamW; frozen layers, tied
weights, micro-batches, schedulers, bf16, float64): a stale gradient, a mode-dependent module in eval mode while
stepping, a gradient-less layer, a weight pair without a nonlinearity and any batch mixing were each exactly 0 there.
"""

from __future__ import annotations

import math

from .. import tags
from .causes import _classes
from .rules import epoch_of, program

CLEARED_STEPS = 2  # measured steps whose gradients backward computed and the step found cleared (healthy: 0)
STALE_SHARE = 0.5  # of the measured steps after the first, those whose first backward found a gradient: healthy 0
EVAL_STEPS = 2  # measured steps in eval mode (healthy 0): two, so that one step between a toggle is not a verdict
MIXING = 1e-4  # other samples' outputs moved by this share of the outputs' scale: healthy exactly 0 (rounding: 1e-7)
RELU_ZEROS = 0.2  # share of the outputs exactly 0 at init: healthy logits are never exactly 0
TANH_PRESSED = 0.9  # the last epoch's smallest and largest output beyond -0.9 and 0.9, never beyond -1 and 1
PROBS_SUM_DEV = 1e-3  # rows summing to 1 within this are a softmax's (double_softmax), not a sigmoid's
SIGMOID_HIGH = 0.25  # the largest output at init at least this (a sigmoid's at init: 0.58-0.76 here)
SOFTMAX_LOSSES = ("cross_entropy", "keras_clipped")


def _loss_change(run: dict) -> str:
    history = [h["train_loss"] for h in run.get("history") or [] if h.get("train_loss") is not None]
    init = (run.get("init") or {}).get(tags.LOSS_INIT)
    start = init if init is not None else (history[0] if history else None)
    if start is None or not history:
        return ""
    return f"; the training loss went from {start:.3g} to {history[-1]:.3g}"


def grad_accumulation(run: dict) -> str | None:
    stale = program(run).get("stale_gradient") or {}
    n, of, worst = stale.get("steps", 0), stale.get("of", 0), stale.get("worst")
    if not worst or n < 1 or n < STALE_SHARE * (of - 1):
        return None
    return (f"gradients are not zeroed between optimizer steps: at {n} of the {of} measured steps the step's first "
            f"backward found .grad still holding the earlier steps' gradients (norm {worst['before']:.3g} against a "
            f"new one of {worst['new']:.3g} at step {worst['step']}; zeroed, it holds exactly 0; threshold "
            f"{STALE_SHARE:.0%} of the steps): each step applies the sum of every gradient since the start "
            f"(optimizer.zero_grad() once per step)" + _loss_change(run))


def eval_mode(run: dict) -> str | None:
    found = program(run).get("eval_mode") or {}
    steps, measured = found.get("steps") or [], program(run).get("measured_steps") or 0
    if len(steps) < EVAL_STEPS:
        return None
    kinds = sorted(set((found.get("modules") or {}).values()))
    first, last = epoch_of(run, steps[0]), epoch_of(run, steps[-1])
    when = (f"epochs {first}-{last}" if first != last else f"epoch {first}") if first else \
        f"steps {steps[0]}-{steps[-1]}"
    effects = [e for kind, e in (("Dropout", "Dropout off"), ("BatchNorm", "BatchNorm's statistics frozen"))
               if any(k.startswith(kind) for k in kinds)]
    return (f"{when} trained in eval mode: {len(steps)} of the {measured} measured optimizer steps "
            f"({len(steps) / max(1, measured):.0%}), from step {steps[0]} on, ran with {', '.join(kinds)} in eval mode "
            f"({', '.join(effects)}; threshold {EVAL_STEPS} steps, healthy 0): model.train() is not called again "
            f"after an evaluation")


def not_optimized(run: dict) -> str | None:
    layers = program(run).get("not_optimized") or {}
    if not layers:
        return None
    shown = ", ".join(f"{layer} (from step {step})" for layer, step in layers.items())
    return (f"{shown}: its parameters require grad and receive gradients but belong to no param group of the "
            f"optimizer, so they never change (a layer replaced after the optimizer was built? build the optimizer "
            f"after the model is complete, or add_param_group)")


def grad_cleared(run: dict) -> str | None:
    found = program(run).get("gradients") or {}
    if not found or not all(g.get("steps", 0) >= CLEARED_STEPS and g.get("cleared") == g["steps"]
                            for g in found.values()):
        return None
    steps = min(g["steps"] for g in found.values())
    return (f"every layer's gradient is computed by backward() and gone by optimizer.step(): at each of the {steps} "
            f"measured steps the backward pass reached every optimized weight, and at the step their .grad was None "
            f"or exactly 0 (threshold: every layer, every measured step, at least {CLEARED_STEPS}): zero_grad() is "
            f"called between backward() and step(), so no step moves a weight (zero the gradients before the "
            f"forward pass or right after the step)" + _loss_change(run))


def no_gradient(run: dict) -> str | None:
    found = program(run).get("gradients") or {}
    # from the first step measured (1 in a watched loop; 2 under `scalediag run`, which attaches at the first step)
    first = min((g["first"] for g in found.values() if g.get("first") is not None), default=None)
    cut = {layer: g for layer, g in found.items() if g.get("steps") and g["none"] + g["zero"] == g["steps"]
           and g.get("first") == first}
    # a cut leaves the layers after it with a gradient; where none gets one (zero init, every sample beyond a
    # probability clamp) the loss itself passes nothing back, a cause of its own
    if not cut or len(cut) == len(found):
        return None
    shown = ", ".join(f"{layer} (.grad None at {g['none']}, exactly 0 at {g['zero']} of {g['steps']} measured steps)"
                      for layer, g in cut.items())
    return (f"{shown}: in the optimizer and run in the forward pass, but no gradient reaches them, from the first "
            f"measured step on: the graph is cut between them and the loss (a .detach(), torch.no_grad(), .data, or "
            f"an op without a gradient such as argmax or round), so they never learn")


def missing_activation(run: dict) -> str | None:
    pairs = program(run).get("missing_activation") or []
    if not pairs:
        return None
    shown = "; ".join(f"{a} feeds {b} directly" for a, b in pairs)
    return (f"{shown}, with nothing nonlinear between them (the second's input is the first's output, reshaped at "
            f"most, seen on the probe): each such pair computes one linear map, so the stack is no deeper than a "
            f"single layer (an activation missing in forward?)")


def _bounds(row: dict) -> tuple[float, float, float, float] | None:
    values = [row.get(tags.LOGITS_MIN), row.get(tags.LOGITS_MAX), row.get(tags.LOGITS_SUM_DEV),
              row.get(tags.logits("zero_fraction"))]
    return None if None in values else tuple(values)


def output_activation(run: dict) -> str | None:
    if (run.get("config") or {}).get("loss", {}).get("name") not in SOFTMAX_LOSSES:
        return None
    init = _bounds(run.get("init") or {})
    history = run.get("history") or []
    last = _bounds((history[-1].get("diag") or {}) if history else {})
    if init is None:
        return None
    c, (low, high, dev, zeros) = _classes(run), init
    if low >= 0 and dev <= PROBS_SUM_DEV:
        return None  # rows that sum to 1 are a softmax's (double_softmax), exact zeros its underflow
    final = (run.get("final") or {}).get("train_loss")
    # before the sigmoid's test (a sigmoid never gives an exact 0); not all zero (zero-initialised weights give that)
    if low >= 0 and high > 0 and zeros >= RELU_ZEROS:
        return (f"{zeros:.0%} of the outputs the loss receives are exactly 0 at init and none is negative "
                f"(threshold {RELU_ZEROS:.0%}; healthy logits are never exactly 0): a ReLU on the output; a class "
                f"whose logit is cut to 0 passes no gradient, so wrong classes cannot be pushed below 0"
                + (f" (final training loss {final:.3f})" if final is not None else ""))
    # a sigmoid's outputs centre on 0.5 at init; logits merely small and all positive by chance (a BERT's
    # classifier at init: within [0.0006, 0.0088]) are not one
    if low >= 0 and SIGMOID_HIGH <= high <= 1 and dev > PROBS_SUM_DEV:
        floor = -math.log(math.e / (math.e + c - 1))
        return (f"the outputs the loss receives lie in [{low:.2g}, {high:.2g}] at init, rows off 1 by up to "
                f"{dev:.2g}: a sigmoid on the output; a softmax over logits in [0, 1] gives no class more than "
                f"e/(e+{c - 1}) = {math.exp(-floor):.2f}, so the loss cannot fall below {floor:.2f}"
                + (f" (final training loss {final:.3f})" if final is not None else ""))
    floor = -math.log(math.e / (math.e + (c - 1) / math.e))  # logits in [-1, 1]
    epochs = [b for h in history if (b := _bounds(h.get("diag") or {}))]
    # a tanh: never beyond [-1, 1], and pressed against both bounds once trained (an untrained healthy network's
    # logits are small, a trained one's go beyond 1)
    if epochs and all(-1 <= b[0] and b[1] <= 1 for b in [init, *epochs]) and last[0] <= -TANH_PRESSED and \
            last[1] >= TANH_PRESSED:
        return (f"the outputs the loss receives stay in [-1, 1] from init to the last epoch, pressed against both "
                f"bounds at its end ({last[0]:.3g} to {last[1]:.3g}; threshold {TANH_PRESSED:g}): a tanh on the "
                f"output; a softmax over logits in [-1, 1] gives no class more than {math.exp(-floor):.2f}, so the "
                f"loss cannot fall below {floor:.2f}" + (f" (final training loss {final:.3f})" if final else ""))
    return None


def batch_mixing(run: dict) -> str | None:
    found = program(run).get("batch_mixing")
    if not found or found.get("change", 0) <= MIXING:
        return None
    return (f"a sample's output depends on the other samples of its batch: replacing sample 0 of {found['samples']} "
            f"probe samples (in eval mode) moved the others' outputs by up to {found['change']:.2g} of the outputs' "
            f"largest magnitude (threshold {MIXING:g}; 0 when each sample is computed on its own): something mixes "
            f"the batch dimension (a recurrent layer without batch_first=True fed [batch, time, ...], a view where a "
            f"permute was meant, a softmax or a normalisation over dim 0)")


TESTS = {"grad_cleared": grad_cleared, "not_optimized": not_optimized, "no_gradient": no_gradient,
         "grad_accumulation": grad_accumulation, "batch_mixing": batch_mixing, "eval_mode": eval_mode,
         "output_activation": output_activation, "missing_activation": missing_activation}
TITLES = {"grad_cleared": "gradients cleared before the step", "not_optimized": "layers the optimizer does not hold",
          "no_gradient": "graph cut: layers without gradient", "grad_accumulation": "gradients never zeroed",
          "batch_mixing": "samples mixed within a batch",
          "eval_mode": "trained in eval mode", "output_activation": "an activation on the output",
          "missing_activation": "missing activation between layers"}
