"""Noisy labels: the model agrees with the test labels more than with its own training labels."""

from __future__ import annotations

import math

from ... import tags
from ..facts import classes, final, last_diag
from .base import CLASSES_ONLY, Cause, Evidence, Threshold

PROBE_SAMPLES = 1000  # the Hydra app's probe set (diag.probe_size); a watched run records its own


class LabelNoise(Cause):
    id, title, fix, location = "label_noise", "noisy labels", "data", "labels"
    tasks = CLASSES_ONLY
    signs = frozenset({"overconfident"})
    # test accuracy minus the accuracy on the model's own training labels (probe set of 1000)
    NOISE_GAP = Threshold(0.05, "the doctor benchmark's 10 healthy controls stay below it (0/10 false alarms); a "
                                "healthy model fits its training labels at least as well as the test labels")

    def _gap(self, run) -> tuple[float, float, float, int] | None:
        """(test accuracy, accuracy on the own labels, the gap threshold, probe samples)."""
        test, own = final(run).get("test_acc"), last_diag(run).get(tags.ACC_PROBE)
        if test is None or own is None:
            return None
        # a small probe's accuracy is noisy: the gap must also exceed 3 standard errors of it (64 images: ~0.15)
        samples = (run.get("labels") or {}).get("samples") or PROBE_SAMPLES
        return test, own, max(self.NOISE_GAP, 3 * math.sqrt(own * (1 - own) / samples)), samples

    points_at = (("source", "data_loader", "where the training labels come from"),)
    advice = ("check the training labels' source: the model agrees more with the test labels than with its own "
              "training labels; clean or relabel them, or use a loss robust to noise (label smoothing)")

    def test(self, run, symptoms):
        found = self._gap(run)
        if found is None:
            return None
        test, own, gap, samples = found
        chance = 1 / classes(run)
        if test < 2 * chance or test - own < gap:
            return None
        share = (test - own) / (test - chance)  # own = (1 - share) test + share / C, for labels replaced at random
        return Evidence(
            f"the model agrees with the test labels ({test:.3f}) more than with its own training labels ({own:.3f} "
            f"on the probe set of {samples}; gap threshold {gap:.2g}): about {share:.0%} of the training labels "
            f"look random", test - own, gap, values={"share": share})

    def near(self, run, symptoms):
        found = self._gap(run)
        if found is None:
            return None
        test, own, gap, _ = found
        return Evidence(f"label_noise: test accuracy {test:.3f} against {own:.3f} on the training labels (gap "
                        f"threshold {gap:.2g})", test - own, gap)
