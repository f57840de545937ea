"""Samples mixed within a batch: replacing one sample of the probe moves the others' outputs."""

from __future__ import annotations

from ..facts import program
from ..where import in_forward, site
from .base import DOWNSTREAM, DOWNSTREAM_SIGNS, Cause, Evidence, Threshold


class BatchMixing(Cause):
    id, title, fix, location = "batch_mixing", "samples mixed within a batch", "code", "layers"
    preflight = True
    explains = DOWNSTREAM | {"lr_too_low", "label_noise", "missing_activation"}
    signs = DOWNSTREAM_SIGNS
    # other samples' outputs moved by this share of the outputs' scale
    MIXING = Threshold(1e-4, "exactly 0 in the 24 healthy program shapes (rounding alone: 1e-7)")

    def where(self, run, evidence):
        return in_forward(run, r"dim\s*=\s*0\b|\b(?:rnn|lstm|gru)\b|transpose|permute",
                          "where samples can meet (an RNN's layout, an op over dim 0)", most=2) or \
            site(run, "forward", "the training forward")

    def remedy(self, run, evidence):
        return ("keep the batch on its own axis: an RNN fed [batch, time, ...] needs `batch_first=True` (or the "
                "input transposed to [time, batch, ...]); a softmax or normalisation over dim 0 mixes the samples")

    def test(self, run, symptoms):
        found = program(run).get("batch_mixing")
        if not found or found.get("change", 0) <= self.MIXING:
            return None
        return Evidence(
            f"a sample's output depends on the other samples of its batch: replacing sample 0 of "
            f"{found['samples']} probe samples (in eval mode) moved the others' outputs by up to "
            f"{found['change']:.2g} of the outputs' largest magnitude (threshold {self.MIXING:g}; 0 when each sample "
            f"is computed on its own): something mixes the batch dimension (a recurrent layer without "
            f"batch_first=True fed [batch, time, ...], a view where a permute was meant, a softmax or a normalisation "
            f"over dim 0)", found["change"], self.MIXING)
