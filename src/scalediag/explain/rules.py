"""Rules that read one run's metrics.json and name what went wrong, with the measured number and its threshold.

Each rule is a small function: metrics dict in, findings out. The thresholds are the README's. Rules that compare
runs with each other are in compare.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .. import tags
from ..record import HAND_WRITTEN, experiment, optimizer_name
from .facts import baseline, classes, first_hidden, last_diag, layer_name, r_squared

LN10 = math.log(10)  # the loss of a uniform guess over 10 classes: where a well-scaled network starts

INIT_LOSS_MAX = 2 * LN10  # initial loss above this: logits too large at initialization
PREACT_STD_MAX = 10.0  # hidden pre-activation std at init above this: inputs not scaled for the initialization
DEAD_MAX = 0.5  # share of a hidden layer's units dead (saturated for every probe sample)
SATURATED_MAX = 0.5  # share of (sample, unit) pairs where a saturating activation (tanh, sigmoid) passes < 1%
SATURATING = ("tanh", "sigmoid")
GRAD_FLOW_RANGE = (0.05, 20.0)  # first / last layer's output-gradient RMS; 0.25-0.75 in healthy runs here
CLIPPED_MIN = 0.05  # share of samples with p_true below the clip eps worth naming
PLATEAU_TOLERANCE = 0.15  # |loss - clipped x -ln(eps)| within this share of the loss: the clip explains the plateau
UPDATE_RATIO_RANGE = (1e-4, 1e-2)  # Adam's ||dw||/||w|| per step; about 1e-3 is the usual healthy value
EPS_DOMINANT = 0.5  # share of a layer's weights where Adam's eps exceeds the sqrt(v) term it is added to
VANISHED = 1e-3  # a median sqrt(v) below this x eps: the layer's gradients have vanished, eps does not matter

# every symptom's id (Finding.rule), here and in compare.py: a namespace of their own, apart from the causes' ids
SYMPTOMS = frozenset({"init_loss", "preact_scale", "dead_units", "saturated", "gradient_flow", "clip_plateau",
                      "overconfident", "update_ratio", "eps_dominates", "no_gradient", "slower"})


@dataclass(frozen=True)
class Finding:
    rule: str
    message: str
    value: float
    threshold: float


def clip_eps(run: dict) -> float:
    """The clip eps the run's clipped fraction was measured at: its loss's, else Keras' 1e-7."""
    return run["config"]["loss"].get("clip_eps", tags.KERAS_EPSILON)


def eps_text(eps: float) -> str:
    return f"{eps:.0e}".replace("e-0", "e-")  # 1e-07 -> 1e-7


def init_loss(run: dict) -> list[Finding]:
    init = run.get("init") or {}
    loss = init.get(tags.LOSS_INIT)
    if loss is None or loss <= INIT_LOSS_MAX:
        return []
    max_abs = max(abs(init.get(tags.LOGITS_MIN, 0.0)), abs(init.get(tags.LOGITS_MAX, 0.0)))
    return [Finding("init_loss", f"initial loss {loss:.3g} is far above ln(10) = 2.303 (threshold "
                    f"{INIT_LOSS_MAX:.2f}): the logits are too large at initialization (max |logit| {max_abs:.3g})",
                    loss, INIT_LOSS_MAX)]


def _activation(run: dict) -> str:
    return run["config"].get("model", {}).get("activation", "relu")


def preact_scale(run: dict) -> list[Finding]:
    init = run.get("init") or {}
    layer = first_hidden(init)
    std = init.get(tags.preact_std(layer)) if layer else None
    if std is None or std <= PREACT_STD_MAX:
        return []
    divisor = (experiment(run) or {}).get("divisor")
    return [Finding("preact_scale", f"hidden pre-activations at init have std {std:.3g} (threshold "
                    f"{PREACT_STD_MAX:g}, about 1 is the design point): the inputs are not scaled for this "
                    f"initialization" + (f" (divisor {divisor:g})" if divisor is not None else ""),
                    std, PREACT_STD_MAX)]


def _crossed(run: dict, tag: str, threshold: float) -> tuple[int, float, float] | None:
    """(first epoch above threshold, its value, the worst value) of a per-epoch statistic, or None."""
    values = [(h["epoch"], (h.get("diag") or {}).get(tag)) for h in run.get("history") or []]
    over = [(e, v) for e, v in values if v is not None and v > threshold]
    return (*over[0], max(v for _, v in over)) if over else None


def dead_units(run: dict) -> list[Finding]:
    kind, found = _activation(run), []
    what = "ReLUs" if kind == "relu" else f"{kind} units" if kind else "units"  # a kind seen only at the probe
    for layer in tags.hidden_layers(last_diag(run)):
        crossed = _crossed(run, tags.dead(layer), DEAD_MAX)
        if crossed:
            epoch, first, worst = crossed
            found.append(Finding("dead_units", f"{layer_name(run, layer)}: {worst:.0%} of the hidden {what} are dead "
                                 f"on the probe set "
                                 f"(no gradient through them for any sample; threshold {DEAD_MAX:.0%}), first above "
                                 f"it at epoch {epoch} ({first:.0%})", worst, DEAD_MAX))
    return found


def saturated_units(run: dict) -> list[Finding]:
    kind, found = _activation(run), []
    if kind not in SATURATING:
        return []
    for layer in tags.hidden_layers(last_diag(run)):
        crossed = _crossed(run, tags.saturated(layer), SATURATED_MAX)
        if crossed:
            epoch, first, worst = crossed
            dead = last_diag(run).get(tags.dead(layer))
            found.append(Finding("saturated", f"{layer_name(run, layer)}: {kind} is saturated for {worst:.0%} of "
                                 f"the (sample, unit) "
                                 f"pairs on the probe set (its derivative below 1% of its maximum; threshold "
                                 f"{SATURATED_MAX:.0%}), first above it at epoch {epoch} ({first:.0%})"
                                 + (f"; {dead:.0%} of the units for every sample" if dead is not None else "")
                                 + ": little gradient flows back through this layer", worst, SATURATED_MAX))
    return found


def gradient_flow(run: dict) -> list[Finding]:
    diag = last_diag(run)
    rms = [(layer, diag.get(tags.output_rms(layer))) for layer in tags.layers(diag)]
    rms = [(layer, v) for layer, v in rms if v is not None]
    if len(rms) < 2 or not rms[-1][1]:
        return []
    (first, a), (last, b) = rms[0], rms[-1]
    ratio, (low, high) = a / b, GRAD_FLOW_RANGE
    if low <= ratio <= high:
        return []
    what = "vanish" if ratio < low else "explode"
    return [Finding("gradient_flow", f"gradients {what} towards the input: the RMS of the loss gradient at "
                    f"{layer_name(run, first)}'s output is {ratio:.2g} x that at {layer_name(run, last)}'s ({a:.2g} "
                    f"against {b:.2g}; healthy range {low:g} to {high:g})", ratio, low if ratio < low else high)]


def clipped(run: dict) -> list[Finding]:
    fraction = last_diag(run).get(tags.CLIPPED)
    if fraction is None or fraction < CLIPPED_MIN:
        return []
    final = run.get("final") or {}
    loss, k = final.get("train_loss"), final.get("never_predicted")
    eps = clip_eps(run)
    at_clip = -math.log(eps)  # the loss of a sample at the clamp: 16.118 for Keras' 1e-7
    plateau = fraction * at_clip
    if run["config"]["loss"]["name"] == "keras_clipped" and loss is not None and \
            abs(loss - plateau) <= PLATEAU_TOLERANCE * loss:
        return [Finding("clip_plateau", f"loss plateau at {loss:.3f} = clipped fraction {fraction:.3f} x "
                        f"{at_clip:.3f} (= {plateau:.3f}): {fraction:.0%} of the samples sit at the probability "
                        f"clip (p_true < {eps_text(eps)}, threshold {CLIPPED_MIN:.0%}) and pass no gradient, so the "
                        f"loss cannot move; the model predicts no sample as {k} of the 10 classes", fraction, CLIPPED_MIN)]
    return [Finding("overconfident", f"{fraction:.0%} of the samples have p_true < {eps_text(eps)} (threshold "
                    f"{CLIPPED_MIN:.0%}): confidently wrong; {run['config']['loss']['name']} still passes them "
                    f"a gradient (Keras' clamp would not)", fraction, CLIPPED_MIN)]


def _stepper(run: dict) -> str:
    """The optimizer as its messages name it: the question's two Adams as Adam, others by their class (SGD, AdamW)."""
    name = optimizer_name((run.get("config") or {}).get("optimizer") or {})
    return {"KerasAdam": "Adam", "torch_adam": "Adam", HAND_WRITTEN: f"the {HAND_WRITTEN}"}.get(
        name, name or "the optimizer")


def update_ratio(run: dict) -> list[Finding]:
    """One finding per way out of the healthy range (still, too small, too large), naming each layer there: a deep
    stack's eight layers are one fact, not eight lines."""
    low, high = UPDATE_RATIO_RANGE
    diag = last_diag(run)
    ratios = [(layer, r) for layer in tags.layers(diag) if (r := diag.get(tags.update_ratio(layer))) is not None]
    still = [layer_name(run, layer) for layer, r in ratios if r == 0]
    found = []
    if still:
        found.append(Finding("update_ratio", f"{', '.join(still)}: {'its' if len(still) == 1 else 'their'} weights "
                             f"did not move in the last epoch (||dw||/||w|| = 0): no gradient reaches them", 0.0, low))
    for size, out, threshold in (("too small", lambda r: 0 < r < low, low), ("too large", lambda r: r > high, high)):
        over = [(layer, r) for layer, r in ratios if out(r)]
        if not over:
            continue
        shown = ", ".join(f"{layer_name(run, layer)} {r:.2g}" for layer, r in over)
        worst = (min if size == "too small" else max)(r for _, r in over)
        found.append(Finding("update_ratio", f"{_stepper(run)}'s steps are {size} for the weights of "
                             f"{'a layer' if len(over) == 1 else f'{len(over)} layers'}: ||dw||/||w|| per step in the "
                             f"last epoch {shown} (healthy range {low:g} to {high:g}, about 1e-3)", worst, threshold))
    return found


def _eps_layers(run: dict) -> list[tuple[str, float, float]]:
    """(layer, share, median sqrt(v)) of each layer whose eps exceeds sqrt(v) for at least EPS_DOMINANT."""
    diag = last_diag(run)
    shares = {layer: diag.get(tags.eps_fraction(layer)) for layer in tags.layers(diag)}
    return [(layer, share, diag.get(tags.sqrt_v_median(layer), 0.0)) for layer, share in shares.items()
            if share is not None and share >= EPS_DOMINANT]


def eps_dominates(run: dict) -> list[Finding]:
    """Two cases: eps is larger than the gradients' scale (Adam turned SGD), or the gradients have vanished and
    sqrt(v) decayed below eps (nothing flows back: eps is not the cause)."""
    layers = _eps_layers(run)
    if not layers:
        return []
    eps, lr = run["config"]["optimizer"]["eps"], run["config"]["optimizer"]["lr"]
    over = [(layer, share, median) for layer, share, median in layers if median >= VANISHED * eps]
    gone = [(layer, share, median) for layer, share, median in layers if median < VANISHED * eps]
    found = []
    if over:
        shares = ", ".join(f"{share:.0%} of {layer_name(run, layer)}'s (median sqrt(v) {median:.2g})"
                           for layer, share, median in over)
        found.append(Finding("eps_dominates", f"Adam's eps {eps:g} exceeds the sqrt(v) term it is added to for "
                             f"{shares} weights (threshold {EPS_DOMINANT:.0%}): there Adam's step is lr*m/eps, "
                             f"proportional to the gradient, as plain SGD with learning rate lr/eps = {lr / eps:.2g}, "
                             f"so the smaller a run's gradients (the smaller its inputs), the slower it learns",
                             max(share for _, share, _ in over), EPS_DOMINANT))
    for layer, share, median in gone:
        found.append(Finding("no_gradient", f"{layer_name(run, layer)}: Adam's sqrt(v) has decayed to a median of "
                             f"{median:.2g} "
                             f"(below {VANISHED:g} x eps; {share:.0%} of its weights below eps {eps:g}): the layer "
                             f"gets (almost) no gradient any more; eps is not the cause", share, EPS_DOMINANT))
    return found


RULES = (init_loss, preact_scale, dead_units, saturated_units, gradient_flow, clipped, update_ratio, eps_dominates)


def diagnose(run: dict) -> list[Finding]:
    """The run's own findings; compare.slower adds those against the sweep's other runs."""
    return [f for rule in RULES for f in rule(run)]


def healthy_summary(run: dict, harmless: bool = False) -> str:
    """The healthy verdict with the run's key numbers; harmless: findings follow that did not harm the run (a
    converged run's small steps, a layer's many dead units in a run that learned)."""
    init, last = run.get("init") or {}, last_diag(run)
    first, hidden = next(iter(tags.layers(last)), None), first_hidden(init) or first_hidden(last)
    std, dead = (tags.preact_std(hidden), tags.dead(hidden)) if hidden else (None, None)
    what = "ReLUs" if _activation(run) == "relu" else "units"
    c = classes(run)
    parts = [f"initial loss {init[tags.LOSS_INIT]:.2f} (ln {c} = {math.log(c):.2f})"
             if tags.LOSS_INIT in init else None,
             f"pre-activation std at init {init[std]:.2f}" if std in init else None,
             f"dead {what} {last[dead]:.0%}" if dead in last else None,
             f"update ratio {last[tags.update_ratio(first)]:.1e} (layer {first})"
             if first and tags.update_ratio(first) in last else None]
    r2 = r_squared(run)
    if r2 is not None:  # against its baseline: the targets' mean (a robust loss's median), a positive rate
        parts.insert(0, f"R² {r2:.2f} against predicting {baseline(run).predicting}")
    final = (run.get("final") or {}).get("train_loss")
    if not any(parts) and final is not None:
        parts.append(f"final training loss {final:.4g}")
    shown = ", ".join(p for p in parts if p)
    if harmless:
        return "healthy: the run learned and no cause holds" + (f" ({shown})" if shown else "") + \
            "; outside the usual ranges, without harm to the run:"
    return "healthy: nothing abnormal" + (f" ({shown})" if shown else "")

