"""frozen_model: nothing but normalisation layers training (the root of a real forum report: every parameter frozen
except BatchNorm's, which scalediag called labels_misaligned), in a run that fails. A frozen stem under a trainable
head is fine-tuning, and a frozen head under trainable layers still learns: neither is this."""

import torch
from torch import nn

from scalediag.explain.chain import explain
from watched_loop import loop


def _train(out, freeze):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, 4))
    for name, p in model.named_parameters():
        p.requires_grad_(not freeze(name))
    return loop(out, model, torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2))


def test_only_batchnorm_training_is_frozen_model_and_a_frozen_stem_is_not(tmp_path):
    only_norm = _train(tmp_path / "bn_only", lambda name: not name.startswith("1."))
    found = explain(only_norm)
    assert found.cause == "frozen_model", found.causes
    assert "only normalisation layers train" in found.causes[0].evidence and "1 (BatchNorm1d)" in found.causes[0].evidence
    assert "labels_misaligned" not in [c.id for c in found.causes[:1]]
    stem = _train(tmp_path / "stem", lambda name: name.startswith("0."))  # the first layer frozen, the head trains
    assert "frozen_model" not in explain(stem).ids


def test_a_frozen_head_that_the_layers_before_it_make_up_for_is_not_blamed(tmp_path):
    """A random frozen 64 -> 4 head: the trainable layers before it still fit 4 classes (85% on held-out data here,
    its training loss near the failing line): the cause asks that only normalisation layers train."""
    head = _train(tmp_path / "head", lambda name: name.startswith("3."))
    assert head["final"]["test_acc"] > 0.8 and "frozen_model" not in explain(head).ids
