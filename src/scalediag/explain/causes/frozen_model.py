"""A model frozen where it must learn: the layer that produces the output is frozen, or only normalisation layers
still train (every weight layer requires_grad=False), in a run that fails. Fine-tuning a head on a frozen backbone
is healthy; freezing the head too, or everything but BatchNorm, leaves nothing that can learn the mapping."""

from __future__ import annotations

from ..facts import failing
from .base import DOWNSTREAM, DOWNSTREAM_SIGNS, Cause, Evidence

NORMS = ("BatchNorm", "LayerNorm", "GroupNorm", "InstanceNorm", "RMSNorm")  # class-name prefixes: they rescale


class FrozenModel(Cause):
    id, title, fix, location = "frozen_model", "the layers that must learn are frozen", "code", "layers"
    explains = DOWNSTREAM | {"labels_misaligned", "label_noise", "lr_too_low"}
    signs = DOWNSTREAM_SIGNS

    def test(self, run, symptoms):
        model = (run.get("config") or {}).get("model") or {}
        frozen, kinds, sizes = set(model.get("frozen") or ()), model.get("kinds") or {}, model.get("sizes") or {}
        if not frozen or not kinds:
            return None
        training = [name for name in kinds if name not in frozen]
        out = model.get("output")
        norms_only = bool(training) and all(kinds[name].startswith(NORMS) for name in training)
        if not (out in frozen or norms_only or not training):
            return None
        harm = failing(run)
        if harm is None:
            return None
        total = sum(sizes.values()) or 1
        share = sum(sizes.get(name, 0) for name in training) / total
        shown = ", ".join(f"{name} ({kinds[name]})" for name in training[:4]) or "none"
        why = "only normalisation layers train, which rescale features but cannot learn the mapping" if norms_only \
            else f"its output layer {out} ({kinds.get(out, '?')}) is frozen"
        return Evidence(
            f"{share:.1%} of the model's weights train ({shown}; frozen: {len(frozen)} of {len(kinds)} layers): "
            f"{why} (requires_grad=False where it should learn: unfreeze the head, or the layers meant to be "
            f"fine-tuned); {harm}", share, 0, values={"training": training})
