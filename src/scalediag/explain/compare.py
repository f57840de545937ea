"""Rules that compare the runs of a sweep: which run converges slower than its best comparable one and what
measured quantity differs between them, and how the order of the divisors changes with Adam's eps."""

from __future__ import annotations

from .. import tags
from ..record import experiment
from .facts import first_hidden, last_diag
from .rules import EPS_DOMINANT, Finding

SLOWER_FACTOR = 1.05  # final training loss this much above the sweep's best comparable run
DIFFERS = 1.2  # a quantity that differs by this factor between two runs is named as a difference


def best_runs(runs: list[dict]) -> dict[int, dict]:
    """For each run (by id), the comparable run with the lowest final training loss: same loss and seed. Only the
    runs of scalediag's own model compare (they have a divisor); watched runs are programs of their own."""
    best: dict[tuple, dict] = {}
    runs = [r for r in runs if experiment(r) is not None]
    for run in runs:
        if run.get("status") != "completed":
            continue
        key = (run["config"]["loss"]["name"], experiment(run)["seed"])
        if key not in best or run["final"]["train_loss"] < best[key]["final"]["train_loss"]:
            best[key] = run
    return {id(r): best.get((r["config"]["loss"]["name"], experiment(r)["seed"])) for r in runs}  # others: none


def slower(run: dict, best: dict | None) -> list[Finding]:
    if best is None or best is run:
        return []
    ours, theirs = [h["train_loss"] for h in run["history"]], [h["train_loss"] for h in best["history"]]
    ratios = [a / b for a, b in zip(ours, theirs) if a is not None and b]
    if not ratios or ratios[-1] <= SLOWER_FACTOR:
        return []
    test, best_test = (run.get("final") or {}).get("test_loss"), (best.get("final") or {}).get("test_loss")
    if test is not None and best_test is not None and test <= best_test:
        return []  # it fits the training set less closely but does as well or better on held-out data: not slower
    per_epoch = ", ".join(f"{r:.2f}" for r in ratios)
    why = "; ".join(differences(run, best) + mechanism(run, best))
    return [Finding("slower", f"converges slower than {best.get('name')}: training loss ratio per epoch "
                    f"{per_epoch} (threshold {SLOWER_FACTOR:g} at the last epoch)" + (f"; {why}" if why else ""),
                    ratios[-1], SLOWER_FACTOR)]


def _differs(a, b) -> bool:
    return a is not None and b is not None and (a > DIFFERS * b or b > DIFFERS * a)


def differences(run: dict, other: dict) -> list[str]:
    """The measured quantities that differ by more than DIFFERS between two runs, with both numbers."""
    ours, theirs = run.get("init") or {}, other.get("init") or {}
    found = []
    layer = first_hidden(ours)
    std = tags.preact_std(layer) if layer else None
    if std and _differs(ours.get(std), theirs.get(std)):
        found.append(f"pre-activation std at init {ours[std]:.3g} against {theirs[std]:.3g}")
    ours, theirs = last_diag(run), last_diag(other)
    for layer in tags.layers(ours):
        a, b = ours.get(tags.update_ratio(layer)), theirs.get(tags.update_ratio(layer))
        if _differs(a, b):
            found.append(f"{layer} update ratio {a:.2g} against {b:.2g}")
        a, b = ours.get(tags.eps_fraction(layer)), theirs.get(tags.eps_fraction(layer))
        if a is not None and b is not None and abs(a - b) >= 0.1:
            found.append(f"{layer} weights where eps dominates {a:.0%} against {b:.0%}")
    return found


def mechanism(run: dict, other: dict) -> list[str]:
    """Why smaller inputs learn slower, where that is the difference: by Adam's normalised steps, or by eps."""
    if not (experiment(run) or {}).get("divisor") or not (experiment(other) or {}).get("divisor"):  # a watched run
        return []
    ratio = experiment(run)["divisor"] / experiment(other)["divisor"]
    if ratio <= 1:
        return []
    last = last_diag(run)
    shares = [last.get(tags.eps_fraction(layer)) for layer in tags.layers(last)]
    if max((v for v in shares if v is not None), default=0.0) >= EPS_DOMINANT:
        return [f"inputs {ratio:.3g}x smaller give gradients about {ratio:.3g}x smaller, and where eps dominates "
                f"Adam's denominator its steps shrink with them"]
    return [f"inputs {ratio:.3g}x smaller need first-layer weights {ratio:.3g}x larger for the same pre-activations, "
            f"and Adam moves each weight by about lr per step whatever its gradient's size"]


def divisor_order(runs: list[dict], contexts: list[str]) -> list[str]:
    """Per context (the configuration but divisor, eps and seed) and eps, the divisors ordered by final training
    loss (mean over seeds), and where that order changes with eps; nothing unless both vary."""
    table: dict[str, dict[float, dict[float, list[float]]]] = {}
    for run, context in zip(runs, contexts):
        if run.get("status") == "completed" and experiment(run) is not None:
            by_divisor = table.setdefault(context, {}).setdefault(run["config"]["optimizer"]["eps"], {})
            by_divisor.setdefault(experiment(run)["divisor"], []).append(run["final"]["train_loss"])
    lines = []
    for context, by_eps in table.items():
        if len(by_eps) < 2 or max(len(d) for d in by_eps.values()) < 2:
            continue
        previous = None
        for eps in sorted(by_eps):
            means = {d: sum(v) / len(v) for d, v in by_eps[eps].items()}
            order = sorted(means, key=means.get)
            change = f": the order changes from eps={previous[0]:g}" if previous and order != previous[1] else ""
            ranked = " < ".join(f"divisor {d:g} ({means[d]:.3f})" for d in order)
            lines.append(f"{context + ', ' if context else ''}eps={eps:g}: final training loss {ranked}{change}")
            previous = (eps, order)
    if any("the order changes" in line for line in lines):
        lines.append("where eps exceeds sqrt(v) (each run's eps_dominates finding), Adam's step is lr*m/eps, "
                     "proportional to the gradient: the smaller the inputs, the smaller the gradients and the steps")
    return lines
