"""Test inputs preprocessed differently: the evaluation passes' inputs off the training inputs' scale or centre,
and the test loss far above the training loss."""

from __future__ import annotations

from ..facts import TEST_GAP, final, program, test_far
from ..where import site
from .base import Cause, Evidence, Threshold


class PreprocessingMismatch(Cause):
    id, title, fix, location = ("preprocessing_mismatch", "test inputs preprocessed differently", "data",
                                "preprocessing")
    explains = frozenset({"overfitting"})
    # evaluation inputs' RMS against the training inputs' beyond this factor, named only with the test loss far
    # above the training loss (facts.TEST_GAP)
    INPUT_RATIO = Threshold(1.5, "same preprocessing: 0.998; training-only augmentation moves it by ~10%")
    INPUT_SHIFT = Threshold(0.25, "the means apart by this x the training inputs' RMS: same preprocessing 0.01")

    def where(self, run, evidence):
        return site(run, "eval_forward", "the evaluation's forward, fed inputs preprocessed otherwise")

    def remedy(self, run, evidence):
        return ("apply the training inputs' preprocessing (scaling, normalisation) to the evaluation inputs too, "
                "with the training set's statistics")

    def test(self, run, symptoms):
        inputs = program(run).get("inputs") or {}
        train, test = inputs.get("train"), inputs.get("eval")
        f = final(run)
        if not train or not test or not train.get("rms") or f.get("test_loss") is None or \
                f.get("train_loss") is None:
            return None
        ratio = test["rms"] / train["rms"]
        shift = abs(test["mean"] - train["mean"]) / train["rms"]
        if not test_far(run) or (1 / self.INPUT_RATIO <= ratio <= self.INPUT_RATIO and shift <= self.INPUT_SHIFT):
            return None
        return Evidence(
            f"test inputs RMS {test['rms']:.3g} against {train['rms']:.3g} in training (mean {test['mean']:.3g} "
            f"against {train['mean']:.3g}, range {test['min']:.3g} to {test['max']:.3g} against {train['min']:.3g} "
            f"to {train['max']:.3g}; thresholds {self.INPUT_RATIO:g}x, or means {self.INPUT_SHIFT:g} RMS apart): "
            f"preprocessed differently, and the test loss {f['test_loss']:.3g} is far above the training loss "
            f"{f['train_loss']:.3g} (a scaling or normalisation applied to one split only)",
            max(ratio, 1 / ratio), self.INPUT_RATIO, values={"shift": shift, "test_gap": TEST_GAP})
