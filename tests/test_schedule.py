"""The bugs of the data and the schedule (#28), each in a small plain-PyTorch program watched by scalediag.watch: the
buggy program gets it as its primary cause, its fixed twin `healthy`; a failing run with no known cause is
`unexplained`; and the checks on crafted records."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import scalediag
from scalediag.explain.causes import fixed_in, said
from scalediag.explain.chain import explain
from scalediag.record import read

CLASSES = 4


def vectors(n, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 20, generator=g)
    return x, x[:, :CLASSES].argmax(1)


def loop(out, model, opt, epochs=4, n=512, batch=32, scheduler=None, per_batch=True, clip=None, shuffle=True,
         labels=None, test_scale=1.0, every=4):
    """A user's loop; each keyword is one habit a bug changes."""
    x, y = vectors(n, 0)
    if labels == "misaligned":
        y = y[torch.randperm(n, generator=torch.Generator().manual_seed(5))]  # the images shuffled, the labels not
    if not shuffle:
        order = torch.argsort(y, stable=True)  # class-sorted, as some datasets are stored
        x, y = x[order], y[order]
    xt, yt = vectors(256, 1)
    xt = xt * test_scale
    gen = torch.Generator().manual_seed(0)
    with scalediag.watch(model, opt, out, every=every, probe=(x[:128], y[:128])) as w:
        for epoch in range(epochs):
            model.train()
            order = torch.randperm(n, generator=gen) if shuffle else torch.arange(n)
            total = 0.0
            for i in range(0, n, batch):
                idx = order[i : i + batch]
                loss = F.cross_entropy(model(x[idx]), y[idx])
                opt.zero_grad()
                loss.backward()
                if clip is not None:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
                opt.step()
                if scheduler is not None and per_batch:
                    scheduler.step()
                total += loss.item()
            if scheduler is not None and not per_batch:
                scheduler.step()
            model.eval()
            with torch.no_grad():
                out_t = model(xt)
            w.epoch_end(train_loss=total / -(-n // batch), test_loss=F.cross_entropy(out_t, yt).item(),
                        test_acc=(out_t.argmax(1) == yt).float().mean().item())
    return read(out / "metrics.json")


def mlp(hidden=64):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(20, hidden), nn.ReLU(), nn.Linear(hidden, CLASSES))


def cause(record):
    return explain(record).cause


def adam(model, lr=1e-2, **kw):
    return torch.optim.Adam(model.parameters(), lr=lr, **kw)


@pytest.mark.parametrize("bug", [True, False])
def test_labels_shuffled_apart_from_their_inputs_are_labels_misaligned(bug, tmp_path):
    model = mlp()
    record = loop(tmp_path, model, adam(model), labels="misaligned" if bug else None, n=2048, batch=64)
    assert cause(record) == ("labels_misaligned" if bug else "healthy"), explain(record).causes


@pytest.mark.parametrize("bug", [True, False])
def test_class_sorted_data_never_shuffled_is_unshuffled(bug, tmp_path):
    model = mlp()
    record = loop(tmp_path, model, adam(model), shuffle=not bug, n=2048, batch=64, every=2)
    assert cause(record) == ("unshuffled" if bug else "healthy"), explain(record).causes


@pytest.mark.parametrize("bug", [True, False])
def test_an_exponential_decay_stepped_every_batch_is_lr_schedule(bug, tmp_path):
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.8 if bug else 0.5)
    record = loop(tmp_path, model, opt, scheduler=scheduler, per_batch=bug)  # the twin: once per epoch
    assert cause(record) == ("lr_schedule" if bug else "healthy"), explain(record).causes
    assert record["program"]["lr"]["lr"][0] == [0.1]


def test_a_cosine_schedule_to_zero_at_the_end_is_sound(tmp_path):
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    record = loop(tmp_path, model, opt, scheduler=torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=64))
    assert cause(record) == "healthy", explain(record).causes


@pytest.mark.parametrize("clip,expected", [(1e-4, "grad_clip"), (1.0, "healthy")])
def test_clipping_far_below_the_gradient_is_grad_clip(clip, expected, tmp_path):
    model = mlp()
    record = loop(tmp_path, model, torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9), clip=clip)
    assert cause(record) == expected, explain(record).causes


def test_adamw_with_clipping_and_the_usual_decay_is_healthy(tmp_path):
    model = mlp()
    record = loop(tmp_path, model, torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=1e-2), clip=1.0)
    assert cause(record) == "healthy", explain(record).causes


@pytest.mark.parametrize("lr,decay,expected", [(1e-3, 200.0, "weight_decay"), (1e-2, 1e-2, "healthy")])
def test_a_huge_weight_decay_is_weight_decay(lr, decay, expected, tmp_path):
    model = mlp()
    record = loop(tmp_path, model, torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=decay))
    assert cause(record) == expected, explain(record).causes


@pytest.mark.parametrize("scale,expected", [(100.0, "preprocessing_mismatch"), (1.0, "healthy")])
def test_test_inputs_scaled_otherwise_are_preprocessing_mismatch(scale, expected, tmp_path):
    model = mlp()
    record = loop(tmp_path, model, adam(model), test_scale=scale)
    assert cause(record) == expected, explain(record).causes
    inputs = record["program"]["inputs"]
    assert inputs["eval"]["rms"] / inputs["train"]["rms"] == pytest.approx(scale, rel=0.2)


def test_a_mismatch_is_named_by_the_healthy_runs_spread_of_test_over_train():
    """The issue's case: test inputs 2.8x off the training inputs' scale, test loss 0.86 against 0.55 (1.6x): named,
    though under the old harm line (2x + 0.1 = 1.2); the same inputs with a test loss of 0.62 (1.13x, within healthy
    runs' 0.63-1.16) are not."""
    from scalediag.explain.causes import said

    inputs = {"train": {"rms": 0.45, "mean": 0.29, "min": 0.0, "max": 1.0},
              "eval": {"rms": 1.26, "mean": 0.81, "min": 0.0, "max": 2.8}}
    run = {"config": {"loss": {"name": "cross_entropy"}}, "program": {"inputs": inputs},
           "history": [{"epoch": 1, "train_loss": 0.55, "test_loss": 0.86}],
           "final": {"train_loss": 0.55, "test_loss": 0.86}}
    assert "is 1.6x the training loss 0.55 (threshold 1.4x" in said("preprocessing_mismatch", run)
    run["final"]["test_loss"] = 0.62
    assert said("preprocessing_mismatch", run) is None


@pytest.mark.parametrize("n,epochs,expected", [(48, 40, "overfitting"), (512, 4, "healthy")])
def test_a_small_training_set_trained_long_is_overfitting(n, epochs, expected, tmp_path):
    model = mlp(hidden=256)
    record = loop(tmp_path, model, adam(model, lr=1e-2), n=n, epochs=epochs, batch=16, every=10)
    assert cause(record) == expected, explain(record).causes


def test_a_failing_run_with_no_known_cause_is_unexplained_never_healthy(tmp_path):
    """A bottleneck of three units: the classes cannot all be told apart (training loss 1.11, probe accuracy 0.59),
    and nothing scalediag knows explains it."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 3), nn.LeakyReLU(), nn.Linear(3, CLASSES))
    record = loop(tmp_path, model, adam(model))
    diagnosis = explain(record)
    assert diagnosis.cause == "unexplained", diagnosis.causes
    assert "fails" in diagnosis.causes[0].evidence and "nearest" in diagnosis.causes[0].evidence


def test_each_check_stays_silent_on_an_empty_record():
    for run in ({}, {"program": {}}, {"history": [], "program": {"lr": {}, "batches": {}}}):
        assert not any(said(i, run) for i in fixed_in("data", "schedule", "configuration"))


def test_overfitting_needs_a_rise_or_a_widening_gap_over_several_epochs():
    def run(test, train):
        return {"history": [{"epoch": i + 1, "train_loss": a, "test_loss": t}
                            for i, (t, a) in enumerate(zip(test, train))]}

    falling = [1.0, 0.62, 0.5, 0.47, 0.45]
    assert said("overfitting", run([0.9, 0.6, 0.5, 0.56, 0.6], falling)) is not None  # min at 3, rising 1.2x
    assert said("overfitting", run([0.9, 0.6, 0.5, 0.52, 0.53], falling)) is None  # +6%: noise
    assert said("overfitting", run([0.9, 0.6, 0.5, 0.4, 0.6], falling)) is None  # one epoch up
    # stalled above its minimum while the training loss halved, ending at 3.5x it
    assert "has not improved for 2 epochs" in said("overfitting", run([0.9, 0.6, 0.5, 0.52, 0.53],
                                                                       [1.0, 0.5, 0.3, 0.2, 0.15]))


def test_a_collapsed_model_jumping_between_classes_is_not_unshuffled():
    """Adam at lr 1 predicts one class per batch too, but a different one at each measured step; data stored by
    class shows the same class over consecutive measured steps."""
    steps = list(range(36, 100, 4))
    run = {"program": {"batches": {"steps": steps, "top_class": [7, 9, 8, 0, 4, 1, 3, 5, 2, 6, 7, 9, 8, 0, 4, 1],
                                   "top_share": [1.0] * 16}}}
    assert said("unshuffled", run) is None
    run["program"]["batches"]["top_class"] = [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 0, 0, 0, 1]
    assert "drifts in blocks" in said("unshuffled", run)
