"""Data not shuffled: batches ordered by class, seen in the probe (the first training samples all one class and
forgotten) or in each measured batch's predictions concentrating on one class that drifts in blocks."""

from __future__ import annotations

import statistics

from ... import tags
from ..facts import final, last_diag, program
from ..where import source
from .base import CLASSES_ONLY, DOWNSTREAM, DOWNSTREAM_SIGNS, Cause, Evidence, Threshold


class Unshuffled(Cause):
    id, title, fix, location = "unshuffled", "data not shuffled", "data", "training_data"
    tasks = CLASSES_ONLY
    explains, signs = DOWNSTREAM | {"label_noise", "lr_too_high", "labels_misaligned"}, DOWNSTREAM_SIGNS
    # mean share of a measured batch's most-predicted class
    SHARE = Threshold(0.5, "shuffled 0.16-0.19 with 10 classes, 0.33-0.34 with 4; class-sorted 0.64 (4 classes)")
    CLASSES = 3  # ... drifting over at least this many classes (a collapsed init predicts one class throughout)
    # ... in blocks: this share of consecutive measured steps predict the same class
    BLOCKS = Threshold(0.5, "shuffled 0.12-0.25 over ~9 steps; a model collapsed by Adam at lr 1, jumping from class "
                            "to class: 0.08")
    PROBE_ONE_CLASS = Threshold(0.9, "the probe's most frequent class: the first 128-256 samples of a shuffled set, "
                                     "0.12-0.34")
    FORGOTTEN = Threshold(0.3, "probe accuracy this far below the test accuracy (healthy: the probe, training data, "
                               "is above it)")

    def _ordered_probe(self, run) -> str | None:
        """The probe, the first training samples as most users take it, almost all one class, and the model no
        longer predicting them while it predicts the test set: the data is stored and trained in class order."""
        prior, own = (run.get("labels") or {}).get("prior"), last_diag(run).get(tags.ACC_PROBE)
        test = final(run).get("test_acc")
        if None in (prior, own, test) or prior < self.PROBE_ONE_CLASS or own > test - self.FORGOTTEN:
            return None
        return (f"the probe, the first training samples, is {prior:.0%} one class (threshold "
                f"{self.PROBE_ONE_CLASS:.0%}), and the model gets {own:.3f} of them right against {test:.3f} of the "
                f"test set (gap threshold {self.FORGOTTEN}): the training data is stored by class, and the classes "
                f"trained first are forgotten by the end")

    def where(self, run, evidence):
        return (source(run, "sampler", "no shuffling", most=1)
                or source(run, "data_loader", "the DataLoader, without shuffle=True", most=1))

    def remedy(self, run, evidence):
        loader = source(run, "data_loader", "", most=1)
        return ("pass `shuffle=True` to the training DataLoader" + (f" (line {loader[0].line})" if loader else "")
                + ", or shuffle the samples once per epoch, so that every batch mixes the classes")

    def test(self, run, symptoms):
        ordered = self._ordered_probe(run)
        if ordered:
            return Evidence(f"batches ordered by class: {ordered} (DataLoader(shuffle=True), or a shuffling sampler)")
        batches = program(run).get("batches") or {}
        rows = list(zip(batches.get("steps") or [], batches.get("top_class") or [], batches.get("top_share") or []))
        later = [r for r in rows if r[0] > 32] or rows  # past the early steps, where a fresh model predicts one class
        prior = (run.get("labels") or {}).get("prior")
        # a first batch of one class is itself the sign of class-ordered data (shuffled: 0.12-0.34); without it the
        # predicted class must also drift in blocks (an lr-1 collapse jumps between classes at every measured step)
        one_class = prior is not None and prior >= self.PROBE_ONE_CLASS
        if len(later) < (self.CLASSES if one_class else 4):
            return None
        share, classes = statistics.mean(r[2] for r in later), [int(r[1]) for r in later]
        blocks = sum(a == b for a, b in zip(classes, classes[1:])) / (len(classes) - 1)
        if share < self.SHARE or len(set(classes)) < self.CLASSES or (blocks < self.BLOCKS and not one_class):
            return None
        shown = ", ".join(f"step {s}: class {c} ({p:.0%})" for s, c, p in later[:6])
        probe = f"; the probe, the first training samples, is {prior:.0%} one class" if prior and prior >= 0.5 else ""
        return Evidence(
            f"batches ordered by class: within each measured batch the model's predictions concentrate on one class "
            f"({share:.0%} of a batch on average; threshold {self.SHARE:.0%}, shuffled batches spread them), and "
            f"that class drifts in blocks ({len(set(classes))} classes over {len(later)} measured steps, {blocks:.0%} "
            f"of consecutive ones the same, threshold {self.BLOCKS:.0%}: {shown}){probe}: the data is not shuffled, "
            f"so each stretch of steps teaches one class and unlearns the others (DataLoader(shuffle=True), or a "
            f"shuffling sampler)", share, self.SHARE, values={"blocks": blocks})
