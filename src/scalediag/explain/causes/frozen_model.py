"""A model frozen where it must learn: only normalisation layers still train (every weight layer
requires_grad=False), in a run that fails. Fine-tuning a head on a frozen backbone is healthy, and so is a frozen
head under layers that train (they fit a random projection: 85% on the tests' 4 classes); everything frozen but
BatchNorm leaves nothing that can learn the mapping."""

from __future__ import annotations

from ..facts import failing
from .base import DOWNSTREAM, DOWNSTREAM_SIGNS, Cause, Evidence

NORMS = ("BatchNorm", "LayerNorm", "GroupNorm", "InstanceNorm", "RMSNorm")  # class-name prefixes: they rescale


class FrozenModel(Cause):
    id, title, fix, location = "frozen_model", "the layers that must learn are frozen", "code", "layers"
    explains = DOWNSTREAM | {"labels_misaligned", "label_noise", "lr_too_low"}
    signs = DOWNSTREAM_SIGNS

    points_at = (("source", "freeze", "freezes parameters"),)
    advice = ("unfreeze the layers that must learn (at least the last ones: requires_grad=True), and build the "
              "optimizer from the parameters that train")

    def test(self, run, symptoms):
        model = (run.get("config") or {}).get("model") or {}
        frozen, kinds, sizes = set(model.get("frozen") or ()), model.get("kinds") or {}, model.get("sizes") or {}
        training = [name for name in kinds if name not in frozen]
        if not frozen or not all(kinds[name].startswith(NORMS) for name in training):
            return None
        harm = failing(run)
        if harm is None:
            return None
        share = sum(sizes.get(name, 0) for name in training) / (sum(sizes.values()) or 1)
        shown = ", ".join(f"{name} ({kinds[name]})" for name in training[:4]) or "none"
        return Evidence(
            f"{share:.1%} of the model's weights train ({shown}; frozen: {len(frozen)} of {len(kinds)} layers): "
            f"only normalisation layers train, which rescale features but cannot learn the mapping "
            f"(requires_grad=False where it should learn: unfreeze the layers meant to be fine-tuned); {harm}",
            share, 0, values={"training": training})
