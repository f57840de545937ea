"""Three published rule sets re-implemented on scalediag's records, to score scalediag's causes against them on the
same runs (scripts/bench.py doctor). Each reads only what a run logged (metrics.json) and returns a Verdict: the
problems it flags and the location it points the fix at, in the vocabulary of DeepFD and DeepDiagnosis
(preprocessing, lr, optimizer, init, activation, layers, loss, labels), or None where it names none.

Where a rule is ambiguous, each gets the reading that helps it most (said at the rule). Sources:
- AUTOTRAINER: Zhang et al., ICSE 2021; github.com/shiningrain/AUTOTRAINER, AutoTrainer/utils/monitor.py (rules and
  defaults), repair_strategy('balance') (the first repair per problem).
- DeepDiagnosis: Wardat et al., ICSE 2022; github.com/DeepDiagnosis/ICSE2022, callback/callbacks.py (class
  mapFaluireToFix: the symptoms and the decision list that locates the fix).
- SageMaker Debugger: docs.aws.amazon.com/sagemaker/latest/dg/debugger-built-in-rules.html (defaults).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .. import tags
from .facts import last_diag


@dataclass(frozen=True)
class Verdict:
    problems: tuple[str, ...]  # empty: nothing flagged
    location: str | None  # where it points the fix; None: detection only


def _epochs(run: dict) -> list[dict]:
    return [h.get("diag") or {} for h in run.get("history") or []]


def _layers(run: dict) -> list[str]:
    return tags.layers(last_diag(run) or run.get("init") or {})


def _hidden(run: dict) -> list[str]:
    return tags.hidden_layers(last_diag(run) or run.get("init") or {})


def _rows(run: dict) -> list[dict]:
    """Every row of statistics the record holds: the early steps' and each epoch's (the rule sets check per batch
    or per epoch; they get each chance scalediag had)."""
    return [*(run.get("early") or {}).values(), *_epochs(run)]


def _nonfinite(run: dict) -> bool:
    return run.get("status") == "diverged" or any(  # None: a watched program that gave no such loss
        v is not None and not math.isfinite(v) for h in run.get("history") or []
        for v in (h.get("train_loss"), h.get("test_loss")))


# --- AUTOTRAINER ---------------------------------------------------------------------------------------------------
AT_VANISH_RATE, AT_VANISH_NORM, AT_EXPLODE_RATE = 1e-3, 1e-4, 70.0  # beta1, beta2, beta3
AT_DYING = 0.7  # gamma: share of exactly-zero gradient entries
AT_OSCILLATE, AT_OSCILLATE_SHARE = 0.03, 0.2  # zeta, eta
AT_SLOW = 0.01  # delta: the largest one-epoch accuracy gain
AT_CONVERGED = 0.6  # Theta (reproduce.py)
AT_LOCATION = {"dying_relu": "activation", "exploding_gradient": "activation", "vanishing_gradient": "activation",
               "oscillating_loss": "optimizer", "slow_convergence": "optimizer"}  # the balance strategy's first repair


def _gra_rates(run: dict) -> list[tuple[float, float]]:
    """(||grad W_first|| / ||grad W_last||, ||grad W_first||) for each row that has both kernels' gradient norms."""
    layers, found = _layers(run), []
    if len(layers) < 2:
        return found
    for row in _rows(run):
        first, last = row.get(tags.grad_norm(layers[0])), row.get(tags.grad_norm(layers[-1]))
        if first is not None and last:
            found.append((first / last, first))
    return found


def _oscillating(acc: list[float]) -> bool:
    """Local maxima and minima of the accuracy history; pairs of neighbours that differ by >= zeta, counted against
    eta x epochs (the code applies it to accuracy, the paper to the loss)."""
    turns = [acc[i] for i in range(1, len(acc) - 1)
             if (acc[i] - acc[i - 1]) * (acc[i + 1] - acc[i]) < 0]
    pairs = sum(abs(a - b) >= AT_OSCILLATE for a, b in zip(turns, turns[1:]))
    return len(turns) >= 2 and pairs >= AT_OSCILLATE_SHARE * len(acc)


def autotrainer(run: dict) -> Verdict:
    history = run.get("history") or []
    train = [e.get(tags.ACC_PROBE) for e in _epochs(run)]  # training accuracy: the probe set of training images
    train = [a for a in train if a is not None]
    test = [h["test_acc"] for h in history if h.get("test_acc") is not None]
    gains = lambda acc: max((b - a for a, b in zip(acc, acc[1:])), default=0.0)  # noqa: E731
    # one epoch leaves no gain to measure: slow only where there are two epochs or more
    slow = len(test) >= 2 and gains(train) < AT_SLOW and gains(test) < AT_SLOW
    failing = not test or max(test) < AT_CONVERGED or slow
    rates = _gra_rates(run)
    zero = max((row.get(tags.grad_zero_fraction(layer)) or 0.0 for row in _rows(run) for layer in _hidden(run)),
               default=0.0)
    found = []
    if failing:  # relu > explode > vanish, each only where the run fails
        if zero >= AT_DYING:
            found.append("dying_relu")
        if _nonfinite(run) or any(r > AT_EXPLODE_RATE for r, _ in rates):
            found.append("exploding_gradient")
        if any(r < AT_VANISH_RATE and g < AT_VANISH_NORM for r, g in rates):
            found.append("vanishing_gradient")
    if _oscillating(test) or _oscillating(train):
        found.append("oscillating_loss")
    if slow:
        found.append("slow_convergence")
    return Verdict(tuple(found), AT_LOCATION[found[0]] if found else None)


# --- DeepDiagnosis ---------------------------------------------------------------------------------------------------
DD_VANISHED = 1e-7  # mean |grad W|
DD_DEAD = 0.7  # share of a ReLU layer's outputs <= 0
DD_SATURATED = 0.5  # share of sigmoid/tanh pre-activations beyond +-5
DD_VARIANCE = (1e-5, 10.0)  # a layer's weight variance outside: "Poor Weight" (init)
DD_INPUT = (-1.0, 1.0)  # inputs outside: "Normalize the data" (preprocessing)
DD_RATIO = (1e-5, 0.1)  # update ratio outside: "Learning Rate" (lr)
DD_WINDOW = 5  # epochs for unchanged weights and a loss not decreasing


def deepdiagnosis(run: dict) -> Verdict:
    rows, epochs, init = _rows(run), _epochs(run), run.get("init") or {}
    kind = (run.get("config") or {}).get("model", {}).get("activation", "relu")
    found = []
    # numerical error: NaN, Inf, or a layer-mean output, weight or gradient of exactly 0 (zero init: its means are 0)
    zeros = [row.get(t) for row in [init, *rows] for layer in _layers(run)
             for t in (tags.weight_norm(layer), tags.grad_norm(layer))]
    zeros += [row.get(tags.preact(layer, "preact_mean")) for row in [init, *rows] for layer in _hidden(run)]
    if _nonfinite(run) or any(v == 0 for v in zeros):
        found.append("numerical_error")
    if any((row.get(tags.grad_mean_abs(layer)) or math.inf) < DD_VANISHED for row in rows for layer in _layers(run)):
        found.append("vanishing_gradient")
    if kind in ("relu", "leaky_relu") and any((e.get(tags.saturated(layer)) or 0.0) >= DD_DEAD
                                              for e in epochs for layer in _hidden(run)):
        found.append("dead_node")  # for ReLU, scalediag's saturated share is the share of outputs <= 0
    if kind in ("tanh", "sigmoid") and any((e.get(tags.unit_stat(layer, "beyond_5")) or 0.0) > DD_SATURATED
                                           for e in epochs for layer in _hidden(run)):
        found.append("saturated_activation")
    # out of range (output activation against the label range): softmax classification always fits: not checked
    ratios = [e.get(tags.update_ratio(layer)) for e in epochs[-DD_WINDOW:] for layer in _layers(run)]
    if len(epochs) >= 2 and ratios and all(r == 0 for r in ratios):
        found.append("unchanged_weights")
    losses = [h["train_loss"] for h in run.get("history") or [] if h.get("train_loss") is not None]
    if len(losses) >= 2 and not min(losses[-DD_WINDOW:][1:]) < losses[-DD_WINDOW:][0]:
        found.append("loss_not_decreasing")
    return Verdict(tuple(found), _dd_location(run) if found else None)


def _dd_location(run: dict) -> str:
    """mapFaluireToFix's decision list, on what the run logged at init and in its last epoch."""
    init, last = run.get("init") or {}, last_diag(run)
    variances = [v for layer in _layers(run) for row in (init, last)
                 if (v := row.get(tags.weight_var(layer))) is not None]
    if any(not DD_VARIANCE[0] <= v <= DD_VARIANCE[1] for v in variances):
        return "init"
    low, high = init.get(tags.INPUT_MIN), init.get(tags.INPUT_MAX)
    if low is not None and high is not None and (low < DD_INPUT[0] or high > DD_INPUT[1]):
        return "preprocessing"
    # its ratio is lr x ||dW|| / ||W||: scalediag's ||w - w_before|| / ||w|| is that step itself
    ratios = [v for layer in _layers(run) if (v := last.get(tags.update_ratio(layer))) is not None]
    if any(not DD_RATIO[0] <= r <= DD_RATIO[1] for r in ratios):
        return "lr"
    return "activation"


# --- SageMaker Debugger ----------------------------------------------------------------------------------------------
SMD_LAYER = 0.5  # DeadRelu, SaturatedActivation: a layer is flagged with more than this share of its units
SMD_VANISHED = 1e-7  # VanishingGradient: mean |g|
SMD_VARIANCE_RATIO = 10.0  # PoorWeightInitialization: max / min weight variance across layers
SMD_RATIO = (1e-8, 10.0)  # WeightUpdateRatio
SMD_LOSS_DECREASE = 0.001  # LossNotDecreasing: by at least 0.1%
# the location each rule's remedy points at, where its name says it; the others detect only
SMD_LOCATION = {"PoorWeightInitialization": "init", "WeightUpdateRatio": "lr", "DeadRelu": "activation",
                "SaturatedActivation": "activation", "VanishingGradient": None, "ExplodingTensor": None,
                "LossNotDecreasing": None}


def sagemaker(run: dict) -> Verdict:
    rows, epochs, init = _rows(run), _epochs(run), run.get("init") or {}
    found = []
    relu = (run.get("config") or {}).get("model", {}).get("activation", "relu") in ("relu", "leaky_relu")
    if relu and any((e.get(tags.unit_stat(layer, "rarely_active")) or 0.0) > SMD_LAYER
                    for e in epochs for layer in _hidden(run)):
        found.append("DeadRelu")
    if any((e.get(tags.unit_stat(layer, "smd_saturated")) or 0.0) > SMD_LAYER
           for e in epochs for layer in _hidden(run)):
        found.append("SaturatedActivation")
    if any((row.get(tags.grad_mean_abs(layer)) or math.inf) < SMD_VANISHED for row in rows for layer in _layers(run)):
        found.append("VanishingGradient")
    if _nonfinite(run):
        found.append("ExplodingTensor")
    variances = [v for layer in _layers(run) if (v := init.get(tags.weight_var(layer))) is not None]
    if variances and (min(variances) == 0 or max(variances) / min(variances) > SMD_VARIANCE_RATIO):
        found.append("PoorWeightInitialization")
    ratios = [row.get(tags.update_ratio(layer)) for row in rows for layer in _layers(run)]
    if any(r is not None and not SMD_RATIO[0] <= r <= SMD_RATIO[1] for r in ratios):
        found.append("WeightUpdateRatio")
    losses = [h["train_loss"] for h in run.get("history") or [] if h.get("train_loss") is not None]
    if len(losses) >= 2 and not losses[-1] < losses[0] * (1 - SMD_LOSS_DECREASE):
        found.append("LossNotDecreasing")
    located = [SMD_LOCATION[p] for p in found if SMD_LOCATION[p]]
    return Verdict(tuple(found), located[0] if located else None)


TOOLS = {"autotrainer": autotrainer, "deepdiagnosis": deepdiagnosis, "sagemaker": sagemaker}
