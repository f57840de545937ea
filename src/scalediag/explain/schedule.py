"""The causes in the data and the schedule: labels that carry no information about their inputs, batches ordered by
class, a learning rate a scheduler drove to 0, clipping that pins every step, weight decay that collapses the weights,
test inputs preprocessed otherwise than the training ones, overfitting. Each reads what scalediag.watch recorded of
the program (metrics.json's "program", "labels"; measure/program.py) and the epochs' numbers.

Thresholds, against healthy runs: the healthy twins of scripts/bug_examples.py (real Fashion-MNIST: an MLP with SGD,
with a cosine schedule, with AdamW + clipping, a CNN with BatchNorm and Dropout, a GRU) and of tests/test_schedule.py
(4 classes), and the doctor benchmark's controls; each constant says what was measured there.
"""

from __future__ import annotations

import statistics

from .. import tags
from .causes import RATIO_MIN, VANISHED_FLOW, _early_ratios, _flow, failing
from .rules import epoch_of, last_diag, program

MISALIGNED_LOSS = 0.9  # training loss at or above this share of the labels' entropy (healthy programs end far below)
CHANCE_MARGIN = 0.05  # probe accuracy on the training labels at most this above the most frequent class's share
STEP_MAX = 0.5  # the early steps' ||dw||/||w|| below this: not the explosive steps of a learning rate far too large
UNSHUFFLED_SHARE = 0.5  # mean share of a measured batch's most-predicted class: shuffled 0.16-0.19 with 10 classes,
# 0.33-0.34 with 4; class-sorted 0.64 (4 classes, 512 samples each)
UNSHUFFLED_CLASSES = 3  # ... drifting over at least this many classes (a collapsed init predicts one class throughout)
# ... in blocks: this share of consecutive measured steps predict the same class (shuffled 0.12-0.25 over ~9 steps; a
# model collapsed by Adam at lr 1, jumping from class to class: 0.08), a class's run of batches spanning several
UNSHUFFLED_BLOCKS = 0.5
PROBE_ONE_CLASS = 0.9  # the probe's most frequent class: the first 128-256 samples of a shuffled set, 0.12-0.34
FORGOTTEN = 0.3  # probe accuracy this far below the test accuracy (healthy: the probe, training data, is above it)
LR_COLLAPSE = 1e-3  # lr below this x its largest so far; step decay by 10x twice gives 1e-2, warm-up never falls
LR_SOUND_END = 0.9  # before this share of the run: a cosine schedule reaches 0 only at the very end
STALLED = 0.02  # relative improvement of the training loss per epoch after the collapse
CLIP_PINNED = 0.01  # spread (max - min) / median of the step's total gradient norm: unclipped 1.07-1.59; AdamW
# clipped at 1.0, binding nearly always (and healthy: Adam rescales), 0.06
CLIP_RATIO = 10.0  # the probe's unclipped gradient norm at least this x the steps' (healthy 0.36-1.92)
DECAY_COLLAPSE = 0.2  # a layer's weight norm at the end below this share of its norm at step 1 (healthy 0.99-3.1)
DECAY_TOTAL = 1.0  # lr x weight_decay summed over the steps: the weights shrink by e^-this from decay alone
# evaluation inputs' RMS against the training inputs' beyond this factor (same preprocessing: 0.998; training-only
# augmentation moves it by ~10%), named only with the test loss far above the training loss (TEST_GAP)
INPUT_RATIO = 1.5
INPUT_SHIFT = 0.25  # ... or their means apart by more than this x the training inputs' RMS (same preprocessing: 0.01)
TEST_GAP = 2.0  # test loss above this x the training loss (+ 0.1): far above (healthy test/train 0.96-1.07)
OVERFIT_RISE = 1.1  # the last test loss this x its minimum, every epoch after the minimum above it
OVERFIT_EPOCHS = 2  # ... for at least this many epochs
OVERFIT_TRAIN_FALL = 0.2  # or: the test loss stalled above its minimum while the training loss fell by this share
# since, ending far below it (TEST_GAP: healthy runs of the doctor benchmark end with test/train 1.1-1.3)


def _history(run: dict, key: str) -> list[float | None]:
    return [h.get(key) for h in run.get("history") or []]


def labels_misaligned(run: dict) -> str | None:
    labels, final = run.get("labels") or {}, (run.get("final") or {}).get("train_loss")
    entropy, prior, own = labels.get("entropy"), labels.get("prior"), last_diag(run).get(tags.ACC_PROBE)
    test = (run.get("final") or {}).get("test_acc")
    if None in (entropy, prior, own, final) or not entropy or final < MISALIGNED_LOSS * entropy:
        return None
    # at chance on its own training labels, or, where it memorised some of them, on the test set
    if own > prior + CHANCE_MARGIN and (test is None or test > prior + CHANCE_MARGIN):
        return None
    ratios = [v for _, _, v in _early_ratios(run)]
    if not ratios or not all(RATIO_MIN <= v <= STEP_MAX for v in ratios):  # the steps themselves are not at fault
        return None
    flow = _flow(last_diag(run))
    # nor a gradient that vanished on its way back (labels that carry nothing starve the first layers too: a CNN's
    # first/last 0.0047 with misaligned labels, healthy CNNs 0.002-0.02; an 8-layer sigmoid MLP 3e-6)
    if flow is not None and flow[0] < VANISHED_FLOW:
        return None
    return (f"the training labels carry no information about the inputs: the training loss ends at {final:.3g}, "
            f"{final / entropy:.0%} of the labels' entropy {entropy:.3g} (what predicting the label frequencies "
            f"gives; threshold {MISALIGNED_LOSS:.0%}), the model predicts its own training labels on the probe set "
            f"with accuracy {own:.3f}" + (f" and the test labels with {test:.3f}" if test is not None else "")
            + f", against {prior:.3f} for always the most frequent class (margin {CHANCE_MARGIN}), while its steps "
            f"are of a healthy size "
            f"(||dw||/||w|| {min(ratios):.2g}-{max(ratios):.2g} at the early steps): labels and inputs misaligned "
            f"(shuffled apart, or read in another order); label_noise is the cause where only part of the labels is "
            f"random and the test accuracy stays above chance")


def _ordered_probe(run: dict) -> str | None:
    """The probe, the first training samples as most users take it, almost all one class, and the model no longer
    predicting them while it predicts the test set: the training data is stored by class and trained in that order."""
    prior, own = (run.get("labels") or {}).get("prior"), last_diag(run).get(tags.ACC_PROBE)
    test = (run.get("final") or {}).get("test_acc")
    if None in (prior, own, test) or prior < PROBE_ONE_CLASS or own > test - FORGOTTEN:
        return None
    return (f"the probe, the first training samples, is {prior:.0%} one class (threshold {PROBE_ONE_CLASS:.0%}), and "
            f"the model gets {own:.3f} of them right against {test:.3f} of the test set (gap threshold {FORGOTTEN}): "
            f"the training data is stored by class, and the classes trained first are forgotten by the end")


def unshuffled(run: dict) -> str | None:
    ordered = _ordered_probe(run)
    if ordered:
        return (f"batches ordered by class: {ordered} (DataLoader(shuffle=True), or a shuffling sampler)")
    batches = program(run).get("batches") or {}
    rows = list(zip(batches.get("steps") or [], batches.get("top_class") or [], batches.get("top_share") or []))
    later = [r for r in rows if r[0] > 32] or rows  # past the early steps, where a fresh model predicts one class
    prior = (run.get("labels") or {}).get("prior")
    # a first batch of one class is itself the sign of class-ordered data (shuffled: 0.12-0.34); without it the
    # predicted class must also drift in blocks (an lr-1 collapse jumps between classes at every measured step)
    one_class = prior is not None and prior >= PROBE_ONE_CLASS
    if len(later) < (UNSHUFFLED_CLASSES if one_class else 4):
        return None
    share, classes = statistics.mean(r[2] for r in later), [int(r[1]) for r in later]
    blocks = sum(a == b for a, b in zip(classes, classes[1:])) / (len(classes) - 1)
    if share < UNSHUFFLED_SHARE or len(set(classes)) < UNSHUFFLED_CLASSES or \
            (blocks < UNSHUFFLED_BLOCKS and not one_class):
        return None
    shown = ", ".join(f"step {s}: class {c} ({p:.0%})" for s, c, p in later[:6])
    probe = f"; the probe, the first training samples, is {prior:.0%} one class" if prior and prior >= 0.5 else ""
    return (f"batches ordered by class: within each measured batch the model's predictions concentrate on one class "
            f"({share:.0%} of a batch on average; threshold {UNSHUFFLED_SHARE:.0%}, shuffled batches spread them), "
            f"and that class drifts in blocks ({len(set(classes))} classes over {len(later)} measured steps, "
            f"{blocks:.0%} of consecutive ones the same, threshold {UNSHUFFLED_BLOCKS:.0%}: {shown}){probe}: the "
            f"data is not shuffled, so each stretch of steps teaches one class and "
            f"unlearns the others (DataLoader(shuffle=True), or a shuffling sampler)")


def lr_schedule(run: dict) -> str | None:
    lr = program(run).get("lr") or {}
    rows = [(s, v[0]) for s, v in zip(lr.get("steps") or [], lr.get("lr") or []) if v]
    total = run.get("steps") or max((h.get("step") or 0 for h in run.get("history") or []), default=0)
    top, collapse = 0.0, None
    for step, value in rows:
        if top and value < LR_COLLAPSE * top and step < LR_SOUND_END * total:
            collapse = (step, value)
            break
        top = max(top, value)
    if collapse is None:
        return None
    step, value = collapse
    epoch, epochs = epoch_of(run, step), len(run.get("history") or [])
    after = [v for v in _history(run, "train_loss")[(epoch or 1) - 1 :] if v is not None]
    gain = (after[0] - after[-1]) / after[0] / max(1, len(after) - 1) if len(after) > 1 and after[0] else 0.0
    harm = failing(run) or (f"the training loss stopped improving after it ({gain:.1%} per epoch; threshold "
                            f"{STALLED:.0%})" if gain < STALLED else None)
    if harm is None:
        return None
    return (f"the learning rate fell from {top:.3g} to {value:.2g} by step {step} (epoch {epoch} of {epochs}), "
            f"{step / total:.0%} into the run (threshold: below {LR_COLLAPSE:g} x its largest before "
            f"{LR_SOUND_END:.0%} of the steps; a cosine schedule reaches 0 only at the very end), and {harm}: the "
            f"scheduler, not the learning rate set, is what stalls the run (a per-epoch scheduler stepped every "
            f"batch?)")


def grad_clip(run: dict) -> str | None:
    found = program(run).get("grad_total") or {}
    norms = [n for s, n in zip(found.get("steps") or [], found.get("norm") or []) if s > 1 and n]
    probe = last_diag(run).get(tags.GRAD_PROBE_TOTAL)
    if len(norms) < 4 or not probe:
        return None
    median = statistics.median(norms)
    spread = (max(norms) - min(norms)) / median
    if spread > CLIP_PINNED or probe < CLIP_RATIO * median:
        return None
    ratios = [v for layer in tags.layers(last_diag(run)) if (v := last_diag(run).get(tags.update_ratio(layer)))]
    harm = failing(run) or (f"every layer moves by less than {RATIO_MIN:g} of its weights per step"
                            if ratios and max(ratios) < RATIO_MIN else None)
    if harm is None:  # Adam rescales a clipped gradient: pinned, its steps can still be of a healthy size
        return None
    return (f"gradient clipping binds at every measured step: the gradient's total norm at the optimizer step is "
            f"pinned at {median:.3g} (spread {spread:.1%} over {len(norms)} steps; threshold {CLIP_PINNED:.0%}) while "
            f"the probe set's unclipped gradient is {probe:.3g}, {probe / median:.0f}x larger (threshold "
            f"{CLIP_RATIO:g}x): the steps are a small fraction of what the learning rate would give (max_norm far "
            f"too small); {harm}")


def weight_decay(run: dict) -> str | None:
    lr = program(run).get("lr") or {}
    decay = (lr.get("weight_decay") or [None])[0]
    values = [v[0] for v in lr.get("lr") or [] if v]
    total = run.get("steps") or 0
    if not decay or not values or not total:
        return None
    summed = statistics.mean(values) * decay * total
    first = (run.get("early") or {}).get("1") or {}
    last = last_diag(run)
    shrunk = {layer: last[tags.weight_norm(layer)] / first[tags.weight_norm(layer)] for layer in tags.layers(first)
              if first.get(tags.weight_norm(layer)) and last.get(tags.weight_norm(layer)) is not None}
    collapsed = {layer: r for layer, r in shrunk.items() if r < DECAY_COLLAPSE}
    harm = failing(run)
    if summed < DECAY_TOTAL or not collapsed or len(collapsed) < len(shrunk) / 2 or harm is None:
        return None
    shown = ", ".join(f"{layer} {r:.2g}" for layer, r in collapsed.items())
    per_step = statistics.mean(values) * decay
    return (f"weight decay shrinks the weights faster than the gradient moves them: their norm fell to {shown} of "
            f"its value at step 1 (threshold {DECAY_COLLAPSE:g}), with lr x weight_decay = {per_step:.2g} per step "
            f"(weight_decay {decay:g}), {summed:.3g} over {total} steps (threshold {DECAY_TOTAL:g}: e^-{summed:.3g} "
            f"from decay alone; AdamW's usual 1e-2 at lr 1e-3 is 1e-5 per step); {harm}")


def preprocessing_mismatch(run: dict) -> str | None:
    inputs = program(run).get("inputs") or {}
    train, test = inputs.get("train"), inputs.get("eval")
    final = run.get("final") or {}
    if not train or not test or not train.get("rms") or final.get("test_loss") is None or \
            final.get("train_loss") is None:
        return None
    ratio = test["rms"] / train["rms"]
    shift = abs(test["mean"] - train["mean"]) / train["rms"]
    far = final["test_loss"] > TEST_GAP * final["train_loss"] + 0.1
    if not far or (1 / INPUT_RATIO <= ratio <= INPUT_RATIO and shift <= INPUT_SHIFT):
        return None
    return (f"test inputs RMS {test['rms']:.3g} against {train['rms']:.3g} in training (mean {test['mean']:.3g} "
            f"against {train['mean']:.3g}, range {test['min']:.3g} to {test['max']:.3g} against {train['min']:.3g} to "
            f"{train['max']:.3g}; thresholds {INPUT_RATIO:g}x, or means {INPUT_SHIFT:g} RMS apart): preprocessed "
            f"differently, and the test loss {final['test_loss']:.3g} is far above the training loss "
            f"{final['train_loss']:.3g} (a scaling or normalisation applied to one split only)")


def overfitting(run: dict) -> str | None:
    test, train = _history(run, "test_loss"), _history(run, "train_loss")
    if len(test) < OVERFIT_EPOCHS + 1 or None in test or None in train:
        return None
    best = min(range(len(test)), key=lambda i: test[i])
    after = test[best + 1 :]
    if len(after) < OVERFIT_EPOCHS or not train[-1] < train[best]:
        return None
    rose = min(after) > test[best] and after[-1] >= OVERFIT_RISE * test[best]
    stalled = after[-1] > test[best] and train[-1] <= (1 - OVERFIT_TRAIN_FALL) * train[best] and \
        after[-1] > TEST_GAP * train[-1] + 0.1
    if not (rose or stalled):
        return None
    how = (f"rose for {len(after)} epochs to {after[-1]:.3g} ({after[-1] / test[best]:.2f}x; threshold "
           f"{OVERFIT_RISE:g}x over {OVERFIT_EPOCHS}+ epochs)") if rose else \
        (f"has not improved for {len(after)} epochs since (now {after[-1]:.3g}, {after[-1] / train[-1]:.1f}x the "
         f"training loss; threshold {TEST_GAP:g}x + 0.1)")
    return (f"the test loss reached its minimum {test[best]:.3g} at epoch {best + 1} and {how} while the training "
            f"loss kept falling ({train[best]:.3g} to {train[-1]:.3g}; gap {after[-1] - train[-1]:.3g}): the model "
            f"memorises its training set; stop at epoch {best + 1}, or "
            f"give it more data or regularisation (weight decay, dropout, augmentation)")


TESTS = {"labels_misaligned": labels_misaligned, "unshuffled": unshuffled, "lr_schedule": lr_schedule,
         "grad_clip": grad_clip, "weight_decay": weight_decay, "preprocessing_mismatch": preprocessing_mismatch,
         "overfitting": overfitting}
TITLES = {"labels_misaligned": "labels misaligned with their inputs", "unshuffled": "data not shuffled",
          "lr_schedule": "the schedule drove the learning rate to 0", "grad_clip": "gradient clipping pins every step",
          "weight_decay": "weight decay collapses the weights",
          "preprocessing_mismatch": "test inputs preprocessed differently", "overfitting": "overfitting"}
