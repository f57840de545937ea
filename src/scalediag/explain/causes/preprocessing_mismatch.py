"""Test inputs preprocessed differently: the evaluation passes' inputs off the training inputs' scale or centre,
and the test loss far above the training loss."""

from __future__ import annotations

from ..facts import final, program
from .base import Cause, Evidence, Threshold


class PreprocessingMismatch(Cause):
    id, title, fix, location = ("preprocessing_mismatch", "test inputs preprocessed differently", "data",
                                "preprocessing")
    explains = frozenset({"overfitting"})
    # evaluation inputs' RMS against the training inputs' beyond this factor, named only with the test loss far
    # above the training loss (facts.TEST_GAP)
    INPUT_RATIO = Threshold(1.5, "same preprocessing: 0.998; training-only augmentation moves it by ~10%")
    INPUT_SHIFT = Threshold(0.25, "the means apart by this x the training inputs' RMS: same preprocessing 0.01")
    # the harm, with the inputs off: the final test loss above this x the training loss (+ HARM_SLACK, for losses
    # near 0). Set from healthy runs, not from facts.TEST_GAP's 2x (which let a mismatch at 2.8x with a test loss
    # 1.6x the training loss pass as healthy)
    HARM = Threshold(1.4, "final test/train loss of the program benchmark's 12 healthy programs: 0.63-1.16 (dropout "
                          "and augmentation in training put some below 1); the question's runs 0.96-1.07")
    HARM_SLACK = 0.05

    points_at = (("site", "eval_forward", "the evaluation's forward, fed inputs preprocessed otherwise"),)
    advice = ("apply the training inputs' preprocessing (scaling, normalisation) to the evaluation inputs too, with "
              "the training set's statistics")

    def test(self, run, symptoms):
        inputs = program(run).get("inputs") or {}
        train, test = inputs.get("train"), inputs.get("eval")
        f = final(run)
        if not train or not test or not train.get("rms") or f.get("test_loss") is None or \
                f.get("train_loss") is None:
            return None
        ratio = test["rms"] / train["rms"]
        shift = abs(test["mean"] - train["mean"]) / train["rms"]
        harmed = f["test_loss"] > self.HARM * f["train_loss"] + self.HARM_SLACK
        if not harmed or (1 / self.INPUT_RATIO <= ratio <= self.INPUT_RATIO and shift <= self.INPUT_SHIFT):
            return None
        return Evidence(
            f"test inputs RMS {test['rms']:.3g} against {train['rms']:.3g} in training (mean {test['mean']:.3g} "
            f"against {train['mean']:.3g}, range {test['min']:.3g} to {test['max']:.3g} against {train['min']:.3g} "
            f"to {train['max']:.3g}; thresholds {self.INPUT_RATIO:g}x, or means {self.INPUT_SHIFT:g} RMS apart): "
            f"preprocessed differently, and the test loss {f['test_loss']:.3g} is "
            f"{f['test_loss'] / f['train_loss']:.2g}x the training loss {f['train_loss']:.3g} (threshold {self.HARM:g}x; healthy runs 0.63-1.16x): a scaling "
            f"or normalisation applied to one split only", max(ratio, 1 / ratio), self.INPUT_RATIO,
            values={"shift": shift, "harm": self.HARM})
