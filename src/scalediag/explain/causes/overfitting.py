"""Overfitting: the test loss reached its minimum epochs before the end and rose, or stalled far above the training
loss, while the training loss kept falling."""

from __future__ import annotations

from ..facts import TEST_GAP, TEST_SLACK, history
from ..where import source
from .base import Cause, Evidence, Threshold


class Overfitting(Cause):
    id, title, fix, location = "overfitting", "overfitting", "data", "training_data"
    after_all = True  # every other cause fails a run of its own; memorising needs a model that learns
    RISE = Threshold(1.1, "the last test loss against its minimum, every epoch after the minimum above it; +6% is "
                          "noise")
    EPOCHS = 2  # ... for at least this many epochs
    # or: the test loss stalled above its minimum while the training loss fell by this share since, ending far below
    # it (facts.TEST_GAP: healthy runs of the doctor benchmark end with test/train 1.1-1.3)
    TRAIN_FALL = Threshold(0.2, "the training loss's fall since the test minimum")

    def where(self, run, evidence):
        return source(run, "epoch_loop", "the epoch loop, to stop earlier", most=1)

    def remedy(self, run, evidence):
        best = (evidence.values or {}).get("best_epoch")
        return (f"stop after epoch {best}, where the test loss was lowest (early stopping on the held-out loss)"
                if best else "stop where the held-out loss is lowest") + \
            ", or give the model more data or regularisation (weight decay, dropout, augmentation)"

    def test(self, run, symptoms):
        test, train = history(run, "test_loss"), history(run, "train_loss")
        if len(test) < self.EPOCHS + 1 or None in test or None in train:
            return None
        best = min(range(len(test)), key=lambda i: test[i])
        after = test[best + 1 :]
        if len(after) < self.EPOCHS or not train[-1] < train[best]:
            return None
        # memorising ends with the test loss above the training loss (a loss trained on something else, such as
        # softmax outputs fed to cross_entropy, can end far above a test loss computed on the logits)
        rose = min(after) > test[best] and after[-1] >= self.RISE * test[best] and after[-1] > train[-1]
        stalled = after[-1] > test[best] and train[-1] <= (1 - self.TRAIN_FALL) * train[best] and \
            after[-1] > TEST_GAP * train[-1] + TEST_SLACK
        if not (rose or stalled):
            return None
        how = (f"rose for {len(after)} epochs to {after[-1]:.3g} ({after[-1] / test[best]:.2f}x; threshold "
               f"{self.RISE:g}x over {self.EPOCHS}+ epochs)") if rose else \
            (f"has not improved for {len(after)} epochs since (now {after[-1]:.3g}, {after[-1] / train[-1]:.1f}x the "
             f"training loss; threshold {TEST_GAP:g}x + {TEST_SLACK:g})")
        return Evidence(
            f"the test loss reached its minimum {test[best]:.3g} at epoch {best + 1} and {how} while the training "
            f"loss kept falling ({train[best]:.3g} to {train[-1]:.3g}; gap {after[-1] - train[-1]:.3g}): the model "
            f"memorises its training set; stop at epoch {best + 1}, or give it more data or regularisation (weight "
            f"decay, dropout, augmentation)", after[-1] / test[best], self.RISE, values={"best_epoch": best + 1})
