"""From a run's own record to the cause of what went wrong: one primary cause, with the evidence that tells it from
its look-alikes, and the symptoms (rules.py) it explains presented as its consequences.

Each test below reads only the record (metrics.json): the probe set at init, the early steps, the epochs. A cause
that rests on a structural fact (outputs that are already probabilities, weights or inputs far off the scale the
initialisation assumes, training labels the model disagrees with more than with the test labels, eps above
Adam's sqrt(v), steps far below the weights' scale) needs no more; one that rests on a dynamic one (large early
steps, gradients that shrink towards the input) is named only where the run also fails. chain.py orders them and
presents the symptoms each explains.
"""

from __future__ import annotations

import math

from .. import tags
from .rules import Finding, first_hidden, last_diag

CLASSES = 10  # Fashion-MNIST; a record may say otherwise ("classes")
GAIN_RANGE = (0.25, 4.0)  # RMS(w) x sqrt(fan-in) at init: 0.58 (torch), 1.0 (LeCun), 1.31 (Glorot here), 1.41 (He)
GAIN_BROKEN = (0.1, 4.0)  # outside: bad_init (below 0.1 the units are all but identical: zeros gives 0)
PREACT_RANGE = (0.05, 10.0)  # first hidden layer's pre-activation std at init; about 1 is the design point
PROBS_SUM_DEV = 1e-3  # outputs in [0, 1] whose rows sum to 1 within this are probabilities
NOISE_GAP = 0.05  # test accuracy minus the accuracy on the model's own training labels (probe set of 1000)
PROBE_SAMPLES = 1000  # the Hydra app's probe set (diag.probe_size); a watched run records its own
EARLY_RATIO_MAX = 0.1  # an early step's ||dw||/||w||: 10x the healthy range's top (Adam at lr 1e-3: 0.02 at step 1)
RATIO_MIN = 1e-4  # every layer's per-step ||dw||/||w|| below this in the last epoch: the steps are too small
FAILING_LOSS = 0.4  # final training loss above this x ln(classes): the run has not learned
FAILING_ACC = 0.5  # final test accuracy below this
LEARNED_LOSS = 0.2  # final training loss below this x ln(classes): small steps may just mean it has converged
# first/last output-gradient RMS below this: vanished whether or not the loss shows it yet (an 8-layer sigmoid MLP:
# 3e-6, 6 layers: 6e-5; healthy: 2 ReLU layers 0.2, small CNNs 0.002-0.008: a conv output spreads the gradient over
# its positions, so each element gets less)
VANISHED_FLOW = 1e-4
FLOW_LOW = 0.05  # ... below this in a run that fails, over at least FLOW_DEPTH layers
# a failing run's 3-layer networks shrink the gradient to 0.005-0.04 whatever made them fail (misaligned labels,
# gradients cleared, 33% label noise): shrinking layer by layer is evidence of depth only over more layers
FLOW_DEPTH = 4

def _classes(run: dict) -> int:
    return run.get("classes") or CLASSES


def _activation(run: dict) -> str | None:
    return ((run.get("config") or {}).get("model") or {}).get("activation")


def _hidden(run: dict) -> list[str]:
    return tags.hidden_layers(run.get("init") or {}) or tags.hidden_layers(last_diag(run))


def gains(run: dict) -> dict[str, float]:
    init = run.get("init") or {}
    return {layer: v for layer in tags.layers(init) if (v := init.get(tags.weight_gain(layer))) is not None}


def failing(run: dict) -> str | None:
    """Why the run counts as failing, from its own numbers; None where it learned."""
    if run.get("status") == "diverged":
        return "it diverged"
    final, ceiling = run.get("final") or {}, FAILING_LOSS * math.log(_classes(run))
    if final.get("train_loss") is not None and final["train_loss"] > ceiling:
        return f"its final training loss {final['train_loss']:.3g} is above {ceiling:.2f} ({FAILING_LOSS} x ln C)"
    if final.get("test_acc") is not None and final["test_acc"] < FAILING_ACC:
        return f"its test accuracy {final['test_acc']:.3f} is below {FAILING_ACC}"
    last = last_diag(run)
    # saturated (sample, unit) pairs count for tanh and sigmoid only: for ReLU they are its sparsity, 50-75% healthy
    kinds = (tags.dead, tags.saturated) if _activation(run) in ("tanh", "sigmoid") else (tags.dead,)
    worst = max((last.get(t(layer)) or 0.0 for layer in _hidden(run) for t in kinds), default=0)
    if worst > 0.5:
        return f"{worst:.0%} of a hidden layer's units are dead" + (" or saturated" if len(kinds) > 1 else "")
    return None


def double_softmax(run: dict) -> str | None:
    init = run.get("init") or {}
    low, high, dev = init.get(tags.LOGITS_MIN), init.get(tags.LOGITS_MAX), init.get(tags.LOGITS_SUM_DEV)
    if None in (low, high, dev) or not (low >= 0 and high <= 1 and dev <= PROBS_SUM_DEV):
        return None
    c = _classes(run)
    floor = -math.log(math.e / (math.e + c - 1))
    final = (run.get("final") or {}).get("train_loss")
    return (f"the model's outputs are already probabilities (between {low:.2g} and {high:.2g}, each row summing to "
            f"1 within {dev:.1g}; threshold {PROBS_SUM_DEV:g}), and the loss applies a softmax of its own: no class "
            f"can get a probability above e/(e+{c - 1}) = {math.exp(-floor):.2f}, so the loss cannot fall below "
            f"{floor:.2f}" + (f" (final training loss {final:.3f})" if final is not None else ""))


def bad_init(run: dict) -> str | None:
    low, high = GAIN_BROKEN
    off = {layer: g for layer, g in gains(run).items() if not low <= g <= high}
    if not off:
        return None
    init = run.get("init") or {}
    harm = failing(run) or (f"its initial loss {init[tags.LOSS_INIT]:.3g} is far above ln C"
                            if init.get(tags.LOSS_INIT, 0.0) > 2 * math.log(_classes(run)) else None)
    if harm is None:
        return None
    rms = init.get(tags.INPUT_RMS)
    layers = ", ".join(f"{layer} {g:.3g}" for layer, g in off.items())
    return (f"weight scale RMS(w) x sqrt(fan-in) at init: {layers} (the usual initialisations give 0.58-1.41; "
            f"outside {low:g}-{high:g}" + (": all units identical" if min(off.values()) == 0 else "") + ")"
            + (f", with the inputs in range (RMS {rms:.3g})" if rms is not None else "") + f"; and {harm}")


def _estimated_preact(run: dict) -> tuple[str, float] | None:
    """Where no activation module shows the first layer's pre-activations (an LSTM, a functional relu): the inputs'
    RMS x the first layer's gain, what a fan-in-scaled layer gives dense inputs (the MLP's measured 150 against
    115 x 1.31 = 151)."""
    init, g = run.get("init") or {}, gains(run)
    rms, first = init.get(tags.INPUT_RMS), next(iter(g), None)
    return (first, rms * g[first]) if rms is not None and first is not None else None


def input_scale(run: dict) -> str | None:
    init, layer = run.get("init") or {}, first_hidden(run.get("init") or {})
    std = init.get(tags.preact_std(layer)) if layer else None
    low, high = PREACT_RANGE
    g = gains(run)
    estimated = std is None and (estimate := _estimated_preact(run)) is not None and estimate[1] > high
    if estimated:  # the large side only: sparse inputs (mostly zeros) give a small estimate without being off scale
        layer, std = estimate
    if std is None or low <= std <= high or not all(GAIN_RANGE[0] <= v <= GAIN_RANGE[1] for v in g.values()):
        return None
    rms, way = init.get(tags.INPUT_RMS), "large" if std > high else "small"
    shown = ", ".join(f"{name} {v:.2f}" for name, v in g.items())
    return (f"inputs too {way}" + (f" (RMS {rms:.3g}, about 1 expected)" if rms is not None else "")
            + f" for weights at their design scale (RMS(w) x sqrt(fan-in) {shown}; 0.58-1.41 is usual): {layer}'s "
            f"pre-activations start with std {std:.3g}" + (" (estimated: inputs' RMS x its gain)" if estimated else "")
            + f" (healthy {low:g}-{high:g}, about 1 by design)")


def label_noise(run: dict) -> str | None:
    final, last = run.get("final") or {}, last_diag(run)
    test, own = final.get("test_acc"), last.get(tags.ACC_PROBE)
    chance = 1 / _classes(run)
    if test is None or own is None or test < 2 * chance:
        return None
    # a small probe's accuracy is noisy: the gap must also exceed 3 standard errors of it (64 images: ~0.15)
    samples = (run.get("labels") or {}).get("samples") or PROBE_SAMPLES
    gap = max(NOISE_GAP, 3 * math.sqrt(own * (1 - own) / samples))
    if test - own < gap:
        return None
    share = (test - own) / (test - chance)  # own = (1 - share) test + share / C, for labels replaced at random
    return (f"the model agrees with the test labels ({test:.3f}) more than with its own training labels ({own:.3f} "
            f"on the probe set of {samples}; gap threshold {gap:.2g}): about {share:.0%} of the training labels look "
            f"random")


def eps_dominates(run: dict, symptoms: list[Finding]) -> str | None:
    found = next((f for f in symptoms if f.rule == "eps_dominates"), None)
    return found.message if found else None


def _number(v) -> float:
    return math.nan if v is None else v  # metrics.json holds a non-finite value as null


def _early_ratios(run: dict) -> list[tuple[int, str, float]]:
    """(step, layer, ||dw||/||w||) of the early steps; not where the weights are all zero (0/0 says nothing)."""
    rows = run.get("early") or {}
    return [(int(step), layer, _number(row[tags.update_ratio(layer)])) for step, row in rows.items()
            for layer in tags.layers(row) if tags.update_ratio(layer) in row and row.get(tags.weight_norm(layer)) != 0]


def lr_too_high(run: dict) -> str | None:
    init, rows = run.get("init") or {}, run.get("early") or {}
    start = init.get(tags.LOSS_INIT)
    history = run.get("history") or []
    losses = [(f"step {s}", _number(r[tags.LOSS_TRAIN_STEP])) for s, r in rows.items() if tags.LOSS_TRAIN_STEP in r]
    losses += [("epoch 1", history[0]["train_loss"])] if history and history[0].get("train_loss") is not None else []
    rose = [(where, v) for where, v in losses if start is not None and not v <= max(2 * start, start + 1)]
    big = [(s, layer, v) for s, layer, v in _early_ratios(run) if not v <= EARLY_RATIO_MAX]
    harm = failing(run)
    if not rose and not (big and harm):
        return None
    parts = []
    if rose:
        where, v = max(rose, key=lambda wv: wv[1] if math.isfinite(wv[1]) else math.inf)
        parts.append(f"the training loss rose from {start:.3g} at init to {v:.4g} ({where})")
    if big:
        s, layer, v = max(big, key=lambda t: t[2] if math.isfinite(t[2]) else math.inf)
        parts.append(f"the first steps moved the weights by ||dw||/||w|| = {v:.3g} ({layer}, step {s}; threshold "
                     f"{EARLY_RATIO_MAX:g}, 1e-3 is typical)")
    return "; ".join(parts) + (f"; {harm}" if harm else "")


def lr_too_low(run: dict) -> str | None:
    last = last_diag(run)
    ratios = {layer: v for layer in tags.layers(last) if (v := last.get(tags.update_ratio(layer))) is not None}
    if not ratios or max(ratios.values()) >= RATIO_MIN or min(ratios.values()) <= 0:
        return None  # a ratio of 0 is no gradient, not a small learning rate
    grads = [last.get(tags.grad_norm(layer)) for layer in ratios]
    if any(g is not None and g <= 0 for g in grads):
        return None
    final = (run.get("final") or {}).get("train_loss")
    if final is None:  # a watched run without train_loss: the probe set's
        final = last.get(tags.LOSS_PROBE)
    learned = LEARNED_LOSS * math.log(_classes(run))
    if final is not None and final <= learned:
        return None
    shown = ", ".join(f"{layer} {v:.2g}" for layer, v in ratios.items())
    return (f"every layer moves by less than {RATIO_MIN:g} of its weights per step in the last epoch (||dw||/||w||: "
            f"{shown}; about 1e-3 is typical) while its gradient is present, and the training loss is still "
            + (f"{final:.3g} (above {learned:.2f}, {LEARNED_LOSS} x ln C)" if final is not None else "unknown"))


def _symptom(rule: str):
    def test(run: dict, symptoms: list[Finding]) -> str | None:
        found = [f.message for f in symptoms if f.rule == rule]
        return "; ".join(found) or None

    return test


def _flow(row: dict) -> tuple[float, list[tuple[str, float]]] | None:
    """(first / last output-gradient RMS, the RMS per layer) of one row of statistics, where the gradient shrinks
    towards the input at (nearly) every layer of a network of 3 or more; None otherwise."""
    rms = [(layer, v) for layer in tags.layers(row) if (v := row.get(tags.output_rms(layer))) is not None]
    if len(rms) < 3 or not rms[-1][1] or sum(a[1] < b[1] for a, b in zip(rms, rms[1:])) < len(rms) - 2:
        return None
    return rms[0][1] / rms[-1][1], rms


def vanishing_gradient(run: dict, symptoms: list[Finding]) -> str | None:
    """In the last epoch, or at an early step: Adam rescales each weight's step, so a gradient that vanished at the
    start may look merely small by the end while the first layers have learned from little but noise."""
    rows = [(f"step {s}", r) for s, r in sorted((run.get("early") or {}).items(), key=lambda sr: int(sr[0]))]
    flows = [(where, f) for where, row in [*rows, ("the last epoch", last_diag(run))] if (f := _flow(row))]
    fail = failing(run)
    hits = [(where, f) for where, f in flows
            if f[0] < VANISHED_FLOW or (f[0] < FLOW_LOW and fail and len(f[1]) >= FLOW_DEPTH)]
    if not hits:
        return None
    where, (ratio, rms) = min(hits, key=lambda h: h[1][0])
    return (f"the loss gradient shrinks layer by layer towards the input over {len(rms)} layers: at {where} its RMS "
            f"at {rms[0][0]}'s output is {ratio:.2g} x that at {rms[-1][0]}'s ({rms[0][1]:.2g} against "
            f"{rms[-1][1]:.2g}; threshold {VANISHED_FLOW:g}, or {FLOW_LOW:g} over {FLOW_DEPTH}+ layers in a failing "
            f"run), so the first layers learn from little but noise" + (f"; {fail}" if fail else ""))


def diverged(run: dict) -> str | None:
    if run.get("status") != "diverged":
        return None
    return f"at epoch {run.get('epoch')}, step {run.get('step')}: {run.get('error')}"


TESTS = {"double_softmax": double_softmax, "bad_init": bad_init, "input_scale": input_scale,
         "label_noise": label_noise, "lr_too_high": lr_too_high, "lr_too_low": lr_too_low, "diverged": diverged}
FROM_SYMPTOMS = {"eps_dominates": eps_dominates, "probability_clip": _symptom("clip_plateau"),
                 "vanishing_gradient": vanishing_gradient, "saturation": _symptom("saturated"),
                 "dead_units": _symptom("dead_units")}
