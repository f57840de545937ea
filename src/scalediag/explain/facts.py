"""What several causes and symptoms read from a record, defined once: the task and its classes, the run's last
statistics, the program's summary, the epochs, the early steps' update ratios, the gradient's flow, the weights'
gains, and when a run fails."""

from __future__ import annotations

import math
from typing import NamedTuple

from .. import tags
from ..record import experiment

CLASSES = 10  # Fashion-MNIST; a record may say otherwise ("classes")
CLASSIFICATION = "classification"
FAILING_LOSS = 0.4  # final training loss above this x ln(classes): the run has not learned
FAILING_ACC = 0.5  # final test accuracy below this
# a regression's or binary classifier's final R² (1 - its loss against predicting the targets' mean) below this: it has
# learned next to nothing. Healthy: tests/programs/regression_mse.py ends at R² 0.93 (4 epochs; -0.03 its
# shuffled-target twin), binary_bce.py at 0.89 (5 epochs; test_script_tasks.py)
FAILING_R2 = 0.1
# optimizer steps below which a watched run's outcome is not judged: a healthy 3-class MLP (SGD, lr 0.1) is still at
# 85% of its initial loss after 16 steps, 72% after 32, and above the failing line until step ~176
# (tests/test_short_runs.py); the benchmark's programs and the tests' loops all run 64 steps or more
SHORT_STEPS = 50
TEST_GAP = 2.0  # test loss above this x the training loss (+ TEST_SLACK): far above (healthy test/train 0.96-1.07)
TEST_SLACK = 0.1
# losses that read the model's output as logits (nll_loss: as log-probabilities): what a softmax or a bounded
# activation before them breaks. A record without its loss (a loss written by hand) is none of them
LOGIT_LOSSES = ("cross_entropy", "keras_clipped", "nll_loss")


def loss_reads_logits(run: dict) -> bool:
    return ((run.get("config") or {}).get("loss") or {}).get("name") in LOGIT_LOSSES


def task(run: dict) -> str:
    """What the program learns (tags.TASKS), as recorded; a record without it is a classifier where it has labels."""
    return run.get("task") or (CLASSIFICATION if labelled(run) else "unknown")


def against_classes(run: dict) -> bool:
    """Whether ln C sets the run's baseline: a classifier whose classes are known (the question's 10, or a watched
    run's probe). Otherwise a run is judged against its own start."""
    return task(run) == CLASSIFICATION and (experiment(run) is not None or bool(run.get("classes")))


def classes(run: dict) -> int:
    return run.get("classes") or CLASSES


def labelled(run: dict) -> bool:
    """Whether the run's loss is a classification against labels scalediag saw: the question's experiment, or a
    watched run whose probe carried labels. Only then do ln C and the label prior give a baseline."""
    return experiment(run) is not None or bool(run.get("labels"))


def unmeasured(run: dict) -> list[str]:
    """What a record lacks that the diagnosis would read: it is never called healthy on those."""
    missing = []
    if run.get("init") is None and run.get("kind") == "watched":
        missing.append("the probe (the scale of the inputs, weights and outputs at init, dead units)")
    if run.get("history") and all(h.get("train_loss") is None for h in run["history"]):
        missing.append("the training loss (no loss the program computes was seen: a loss written by hand)")
    off = run.get("watch_error")
    if off:  # watch turned itself off: nothing after that step was measured
        missing.append(f"anything after step {off.get('step')}, where scalediag.watch stopped")
    return missing


def layer_name(run: dict, layer: str) -> str:
    """A layer as messages name it: nn.Sequential's "0" or "features.3" says nothing of what it is, so such a name
    gets its class ("0 (Linear)"), where the record has it."""
    kind = (((run.get("config") or {}).get("model") or {}).get("kinds") or {}).get(layer)
    return f"{layer} ({kind})" if kind and layer.rsplit(".", 1)[-1].isdigit() else layer


def last_diag(run: dict) -> dict:
    """The diagnostics of the run's last finished epoch ({} when there are none)."""
    history = run.get("history") or []
    return (history[-1].get("diag") or {}) if history else {}


def program(run: dict) -> dict:
    """What scalediag.watch saw of the program itself (metrics.json's "program"; {} for the Hydra app's runs)."""
    return run.get("program") or {}


def epoch_of(run: dict, step: int) -> int | None:
    """The epoch a step was taken in, from the step count each epoch ended at (watched runs record it)."""
    for h in run.get("history") or []:
        if h.get("step") is not None and step <= h["step"]:
            return h["epoch"]
    return None


def history(run: dict, key: str) -> list[float | None]:
    return [h.get(key) for h in run.get("history") or []]


def final(run: dict) -> dict:
    return run.get("final") or {}


def activation(run: dict) -> str | None:
    """The Hydra app's hidden activation (watched runs name none)."""
    return ((run.get("config") or {}).get("model") or {}).get("activation")


def hidden(run: dict) -> list[str]:
    return tags.hidden_layers(run.get("init") or {}) or tags.hidden_layers(last_diag(run))


def first_hidden(stats: dict) -> str | None:
    return next(iter(tags.hidden_layers(stats)), None)


def gains(run: dict) -> dict[str, float]:
    init = run.get("init") or {}
    return {layer: v for layer in tags.layers(init) if (v := init.get(tags.weight_gain(layer))) is not None}


def number(v) -> float:
    return math.nan if v is None else v  # metrics.json holds a non-finite value as null


def early_ratios(run: dict) -> list[tuple[int, str, float]]:
    """(step, layer, ||dw||/||w||) of the early steps; not where the weights are all zero (0/0 says nothing)."""
    rows = run.get("early") or {}
    return [(int(step), layer, number(row[tags.update_ratio(layer)])) for step, row in rows.items()
            for layer in tags.layers(row) if tags.update_ratio(layer) in row and row.get(tags.weight_norm(layer)) != 0]


def flow(row: dict) -> tuple[float, list[tuple[str, float]]] | None:
    """(first / last output-gradient RMS, the RMS per layer) of one row of statistics, where the gradient shrinks
    towards the input at (nearly) every layer of a network of 3 or more; None otherwise."""
    rms = [(layer, v) for layer in tags.layers(row) if (v := row.get(tags.output_rms(layer))) is not None]
    if len(rms) < 3 or not rms[-1][1] or sum(a[1] < b[1] for a, b in zip(rms, rms[1:])) < len(rms) - 2:
        return None
    return rms[0][1] / rms[-1][1], rms


def test_far(run: dict) -> bool:
    """The final test loss far above the training loss: TEST_GAP x it + TEST_SLACK."""
    f = final(run)
    test, train = f.get("test_loss"), f.get("train_loss")
    return test is not None and train is not None and test > TEST_GAP * train + TEST_SLACK


def softmax_floor(c: int, low: float, high: float) -> float:
    """The least cross-entropy a softmax can reach over c logits confined to [low, high]: one class at high, the
    others at low (probabilities in [0, 1]: e/(e+c-1); a tanh's [-1, 1]: e/(e+(c-1)/e))."""
    return -math.log(math.exp(high) / (math.exp(high) + (c - 1) * math.exp(low)))


class Baseline(NamedTuple):
    value: float  # the loss of that prediction
    text: str  # what it is, as a sentence names it
    predicting: str  # what is predicted: the targets' mean or median, the positive rate


def baseline(run: dict) -> Baseline | None:
    """The loss of predicting the training targets' mean, where the record measured them, with what it is: a
    mean-squared-error regression's, their variance; an L1 or Huber regression's, the loss of predicting their median
    (at the losses' default delta or beta, 1); a binary classifier's, the entropy of its positive rate."""
    targets = run.get("targets") or {}
    name = ((run.get("config") or {}).get("loss") or {}).get("name")
    if task(run) == "regression" and name == "mse_loss" and targets.get("var"):
        return Baseline(targets["var"], "the loss of predicting the targets' mean, their variance", "the targets' mean")
    if task(run) == "regression" and name == "l1_loss" and targets.get("l1"):
        return Baseline(targets["l1"], "the loss of predicting the targets' median, their mean absolute deviation",
                        "the targets' median")
    # smooth L1 at its default beta 1 is Huber at delta 1
    if task(run) == "regression" and name in ("huber_loss", "smooth_l1_loss") and targets.get("huber"):
        return Baseline(targets["huber"], "the loss of predicting the targets' median", "the targets' median")
    p = targets.get("mean")
    if task(run) == "binary" and p is not None and 0 < p < 1:
        entropy = -(p * math.log(p) + (1 - p) * math.log(1 - p))
        return Baseline(entropy, f"the loss of predicting the positive rate {p:.3g}, its entropy",
                        "the positive rate")
    return None


def r_squared(run: dict) -> float | None:
    """1 - the final training loss / baseline(run): 1 for a perfect fit, 0 for predicting the targets' mean (a binary
    classifier's too: the share of the positive rate's entropy it removed); None without a baseline."""
    found, loss = baseline(run), final(run).get("train_loss")
    return None if found is None or loss is None else 1 - loss / found.value


def short(run: dict) -> bool:
    """A watched run of fewer than SHORT_STEPS optimizer steps: too few to judge its outcome by its loss."""
    steps = run.get("steps")
    return run.get("kind") == "watched" and isinstance(steps, int) and 0 < steps < SHORT_STEPS


def too_short(run: dict) -> str | None:
    """Why a short run that would count as failing cannot be judged: its step count, its loss's move, its steps'
    sizes (None where the run is not short, or not failing by its numbers)."""
    if not short(run) or failing(run, judge_short=True) is None:
        return None
    start = (run.get("init") or {}).get(tags.LOSS_INIT)
    losses = [v for v in history(run, "train_loss") if v is not None]
    moved = f"; the training loss went from {start:.3g} to {losses[-1]:.3g}" if start is not None and losses else ""
    ratios = [r for _, _, r in early_ratios(run) if r is not None]
    sizes = (f"; its steps moved the weights by ||dw||/||w|| = {min(ratios):.2g} to {max(ratios):.2g}"
             if ratios else "")
    return (f"{run['steps']} optimizer steps{moved}{sizes}: too few to tell a program that cannot learn from one "
            f"that has not learned yet (a healthy run is still at 72-85% of its initial loss after 16-32 steps; "
            f"judged from {SHORT_STEPS} steps on); no cause is named on the loss alone, bugs of the code would be")


def failing(run: dict, judge_short: bool = False) -> str | None:
    """Why the run counts as failing, from its own numbers; None where it learned, or where it is too early to judge
    its outcome: a pre-flight stopped it after its first steps, or it is short (judge_short: judged all the same)."""
    if run.get("status") == "diverged":
        return "it diverged"
    if run.get("preflight") or (short(run) and not judge_short):
        return None
    f, ceiling = final(run), FAILING_LOSS * math.log(classes(run))
    r2 = r_squared(run)
    if r2 is not None and r2 < FAILING_R2:
        value, what, _ = baseline(run)
        return (f"its training loss {f['train_loss']:.3g} is {f['train_loss'] / value:.0%} of {what} ({value:.3g}): "
                f"R² = {r2:.2f}, below {FAILING_R2}")
    if not against_classes(run):  # no classes to set a baseline: the loss against its own start
        losses = [v for v in history(run, "train_loss") if v is not None]
        if len(losses) >= 2 and losses[-1] >= losses[0]:
            return (f"its training loss did not fall over {len(losses)} epochs ({losses[0]:.4g} in the first, "
                    f"{losses[-1]:.4g} in the last; a {task(run)} run, against its own start)")
    elif f.get("train_loss") is not None and f["train_loss"] > ceiling:
        return (f"its training loss {f['train_loss']:.3g} (the mean over the last epoch's batches) is above "
                f"{ceiling:.2f} ({FAILING_LOSS} x ln C)")
    if f.get("test_acc") is not None and f["test_acc"] < FAILING_ACC:
        return f"its test accuracy {f['test_acc']:.3f} is below {FAILING_ACC}"
    last = last_diag(run)
    # saturated (sample, unit) pairs count for tanh and sigmoid only: for ReLU they are its sparsity, 50-75% healthy
    kinds = (tags.dead, tags.saturated) if activation(run) in ("tanh", "sigmoid") else (tags.dead,)
    worst = max((last.get(t(layer)) or 0.0 for layer in hidden(run) for t in kinds), default=0)
    if worst > 0.5:
        return f"{worst:.0%} of a hidden layer's units are dead" + (" or saturated" if len(kinds) > 1 else "")
    return None


def failure(run: dict) -> str | None:
    """Why the run counts as failing (failing), or a test loss far above the training loss."""
    found = failing(run)
    if found:
        return found
    if short(run) or run.get("preflight"):  # too early to judge by the test loss either
        return None
    if test_far(run):
        f = final(run)
        return (f"its test loss {f['test_loss']:.3g} is far above its training loss {f['train_loss']:.3g} "
                f"({TEST_GAP:g}x + {TEST_SLACK:g})")
    return None
