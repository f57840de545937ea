"""A run that fails where no cause holds is `unexplained`, never healthy: the numbers that show the failure, and the
causes that came nearest to their thresholds (each measured as a share of its threshold, 1 being the threshold)."""

from __future__ import annotations

from .. import tags
from . import causes, rules
from .causes import failing
from .rules import last_diag
from .schedule import MISALIGNED_LOSS, TEST_GAP


def failure(run: dict) -> str | None:
    """Why the run counts as failing: causes.failing, or a test loss far above the training loss."""
    found = failing(run)
    if found:
        return found
    final = run.get("final") or {}
    test, train = final.get("test_loss"), final.get("train_loss")
    if test is not None and train is not None and test > TEST_GAP * train + 0.1:
        return f"its test loss {test:.3g} is far above its training loss {train:.3g} ({TEST_GAP:g}x + 0.1)"
    return None


def _candidates(run: dict) -> list[tuple[float, str]]:
    """(closeness, what) per cause that can be measured on this record: closeness 1 at its threshold."""
    init, last, found = run.get("init") or {}, last_diag(run), []
    layer = rules.first_hidden(init)
    std = init.get(tags.preact_std(layer)) if layer else None
    if std:
        low, high = causes.PREACT_RANGE
        found.append((max(std / high, low / std), f"input_scale: first pre-activation std {std:.3g} at init "
                                                  f"(healthy {low:g}-{high:g})"))
    ratios = [v for layer in tags.layers(last) if (v := last.get(tags.update_ratio(layer)))]
    if ratios:
        found.append((causes.RATIO_MIN / max(ratios), f"lr_too_low: largest ||dw||/||w|| {max(ratios):.2g} in the "
                                                      f"last epoch (threshold {causes.RATIO_MIN:g})"))
    early = [v for _, _, v in causes._early_ratios(run)]
    if early:
        found.append((max(early) / causes.EARLY_RATIO_MAX, f"lr_too_high: largest early ||dw||/||w|| "
                                                           f"{max(early):.2g} (threshold {causes.EARLY_RATIO_MAX:g})"))
    test, own = (run.get("final") or {}).get("test_acc"), last.get(tags.ACC_PROBE)
    if test is not None and own is not None:
        gap = test - own
        found.append((gap / causes.NOISE_GAP, f"label_noise: test accuracy {test:.3f} against {own:.3f} on the "
                                              f"training labels (gap threshold {causes.NOISE_GAP})"))
    dead = [last.get(tags.dead(h)) or 0.0 for h in tags.hidden_layers(last)]
    if dead:
        found.append((max(dead) / rules.DEAD_MAX, f"dead_units: {max(dead):.0%} of a layer's units dead "
                                                  f"(threshold {rules.DEAD_MAX:.0%})"))
    entropy, final = (run.get("labels") or {}).get("entropy"), (run.get("final") or {}).get("train_loss")
    if entropy and final is not None:
        found.append((final / entropy / MISALIGNED_LOSS, f"labels_misaligned: training loss {final / entropy:.0%} "
                                                         f"of the labels' entropy (threshold {MISALIGNED_LOSS:.0%})"))
    return found


def unexplained(run: dict) -> str | None:
    why = failure(run)
    if why is None:
        return None
    near = sorted(((c, text) for c, text in _candidates(run) if 0 < c < 1), reverse=True)[:3]
    shown = "; ".join(f"{text}, at {c:.0%} of its threshold" for c, text in near) or "none measured"
    return (f"the run fails ({why}), and no cause scalediag knows met its threshold; nearest: {shown}. A fault "
            f"outside what scalediag measures: look at the data, the model's capacity and the loss")
