"""Labels misaligned with their inputs: the training loss stays near the labels' entropy, the model at chance on
its own labels, while its steps are of a healthy size and its gradient reaches the input."""

from __future__ import annotations

from ... import tags
from ..facts import baseline, early_ratios, final, flow, last_diag, r_squared, task
from ..where import site, source
from .base import CLASSES_ONLY, DOWNSTREAM, DOWNSTREAM_SIGNS, Cause, Evidence, Threshold
from .learning_rate import LrTooLow
from .vanishing_gradient import VanishingGradient


class LabelsMisaligned(Cause):
    id, title, fix, location = "labels_misaligned", "labels misaligned with their inputs", "data", "labels"
    tasks = CLASSES_ONLY | {"regression", "binary"}  # against the targets' baseline, where it was measured
    explains = DOWNSTREAM | {"lr_too_low", "label_noise", "overfitting"}
    signs = DOWNSTREAM_SIGNS
    # spreads over the healthy runs of the doctor and program benchmarks, the bug examples and the tests (n = 38)
    # training loss as a share of the labels' entropy: healthy 0.007-0.36 (median 0.19)
    MISALIGNED_LOSS = Threshold(0.9, "healthy 0.007-0.36, median 0.19 (n = 38)")
    # probe accuracy on the training labels at most this above the most frequent class's share
    CHANCE_MARGIN = Threshold(0.05, "healthy 0.59-0.78 above it (n = 38)")
    # the early steps' ||dw||/||w|| below this: not the explosive steps of a learning rate far too large
    STEP_MAX = Threshold(0.5, "healthy median 0.045 (n = 56); 0.53 at an SGD CNN's step 2, 1.0 for a parameter "
                              "initialised near 0 (norm 0.0016)")

    def _loss_share(self, run) -> tuple[float, float] | None:
        entropy, loss = (run.get("labels") or {}).get("entropy"), final(run).get("train_loss")
        return (loss, entropy) if entropy and loss is not None else None

    def where(self, run, evidence):
        return source(run, "data_loader", "where inputs and labels are paired", most=1) or \
            site(run, "forward", "the training forward, with the labels its loss is given")

    def remedy(self, run, evidence):
        return ("check that each input keeps its own label where the data is built: inputs and labels shuffled, "
                "sorted, split or filtered by one and the same index, never one of them alone")

    def _steps_healthy(self, run) -> list[float] | None:
        """The early steps' sizes where they are healthy and the gradient has not vanished on its way back: the
        optimisation is not what fails (None otherwise)."""
        ratios = [v for _, _, v in early_ratios(run)]
        if not ratios or not all(LrTooLow.RATIO_MIN <= v <= self.STEP_MAX for v in ratios):
            return None  # the steps themselves are at fault
        shrink = flow(last_diag(run))
        # labels that carry nothing starve the first layers too: a CNN's first/last 0.0047 with misaligned labels,
        # healthy CNNs 0.002-0.02; an 8-layer sigmoid MLP 3e-6
        if shrink is not None and shrink[0] < VanishingGradient.VANISHED_FLOW:
            return None
        return ratios

    def _against_baseline(self, run) -> Evidence | None:
        """A regression or binary classifier no better than predicting its targets' mean (R² <= 0.1, facts.baseline),
        with steps of a healthy size: its targets carry no information about its inputs."""
        r2, found = r_squared(run), baseline(run)
        ratios = self._steps_healthy(run) if r2 is not None and 1 - r2 >= self.MISALIGNED_LOSS else None
        if ratios is None:
            return None
        value, what, _ = found
        return Evidence(
            f"the targets carry no information about the inputs: the training loss ends at {1 - r2:.0%} of {what} "
            f"{value:.3g} (R² = {r2:.2f}; threshold {self.MISALIGNED_LOSS:.0%}), while its steps are of a healthy "
            f"size (||dw||/||w|| {min(ratios):.2g}-{max(ratios):.2g} at the early steps): targets and inputs "
            f"misaligned (shuffled apart, or read in another order)", 1 - r2, self.MISALIGNED_LOSS)

    def test(self, run, symptoms):
        if task(run) in ("regression", "binary"):
            return self._against_baseline(run)
        labels, loss = run.get("labels") or {}, final(run).get("train_loss")
        entropy, prior, own = labels.get("entropy"), labels.get("prior"), last_diag(run).get(tags.ACC_PROBE)
        test = final(run).get("test_acc")
        if None in (entropy, prior, own, loss) or not entropy or loss < self.MISALIGNED_LOSS * entropy:
            return None
        # at chance on its own training labels, or, where it memorised some of them, on the test set
        if own > prior + self.CHANCE_MARGIN and (test is None or test > prior + self.CHANCE_MARGIN):
            return None
        ratios = self._steps_healthy(run)
        if ratios is None:
            return None
        return Evidence(
            f"the training labels carry no information about the inputs: the training loss ends at {loss:.3g}, "
            f"{loss / entropy:.0%} of the labels' entropy {entropy:.3g} (what predicting the label frequencies "
            f"gives; threshold {self.MISALIGNED_LOSS:.0%}), the model predicts its own training labels on the probe "
            f"set with accuracy {own:.3f}" + (f" and the test labels with {test:.3f}" if test is not None else "")
            + f", against {prior:.3f} for always the most frequent class (margin {self.CHANCE_MARGIN}), while its "
            f"steps are of a healthy size (||dw||/||w|| {min(ratios):.2g}-{max(ratios):.2g} at the early steps): "
            f"labels and inputs misaligned (shuffled apart, or read in another order); label_noise is the cause "
            f"where only part of the labels is random and the test accuracy stays above chance",
            loss / entropy, self.MISALIGNED_LOSS)

    def near(self, run, symptoms):
        found = self._loss_share(run)
        if found is None:
            return None
        loss, entropy = found
        return Evidence(f"labels_misaligned: training loss {loss / entropy:.0%} of the labels' entropy (threshold "
                        f"{self.MISALIGNED_LOSS:.0%})", loss / entropy, self.MISALIGNED_LOSS)
