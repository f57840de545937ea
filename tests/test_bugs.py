"""The bugs of the training code (#27), each in a small plain-PyTorch program watched by scalediag.watch: the buggy
program gets the bug as its primary cause, its fixed twin `healthy`; and the checks on crafted records."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from scalediag.explain.causes import CAUSES, fixed_in, said
from scalediag.explain.chain import explain
from watched_loop import CLASSES, loop, sequences  # the loop the bug programs share


def mlp(*tail, hidden=64):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(20, hidden), nn.ReLU(), nn.Linear(hidden, CLASSES), *tail)


def cause(record):
    return explain(record).cause


@pytest.mark.parametrize("bug", [True, False])
def test_forgotten_zero_grad_is_grad_accumulation(bug, tmp_path):
    model = mlp()
    record = loop(tmp_path, model, torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9), zero_grad=not bug)
    assert cause(record) == ("grad_accumulation" if bug else "healthy"), explain(record).causes
    if bug:
        stale = record["program"]["stale_gradient"]
        assert stale["steps"] == stale["of"] - 1  # every measured step but the first found last step's gradient


@pytest.mark.parametrize("optimizer", [lambda p: torch.optim.SGD(p, lr=0.02, momentum=0.9),
                                       lambda p: torch.optim.Adam(p, lr=0.01)], ids=["SGD", "Adam"])
def test_zero_grad_between_backward_and_step_is_grad_cleared(optimizer, tmp_path):
    model = mlp()
    record = loop(tmp_path, model, optimizer(model.parameters()), zero_grad="late")
    assert cause(record) == "grad_cleared", explain(record).causes
    assert all(g["cleared"] == g["steps"] for g in record["program"]["gradients"].values())
    fixed = mlp()
    twin = loop(tmp_path / "twin", fixed, optimizer(fixed.parameters()))
    assert cause(twin) == "healthy" and not any(g["cleared"] for g in twin["program"]["gradients"].values())


def test_gradients_computed_as_exactly_zero_are_not_cleared(tmp_path):
    """Zero init: backward reaches every weight and gives the hidden ones exactly 0; nothing was cleared (the program
    benchmark's mlp_zero_init was called grad_cleared before the computed gradient's norm was asked)."""
    model = mlp()
    for m in model:
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.weight)
    record = loop(tmp_path, model, torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9))
    assert not any(g["cleared"] for g in record["program"]["gradients"].values())
    assert cause(record) != "grad_cleared"


class Regularised(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.fc1, self.bn = nn.Linear(20, 64), nn.BatchNorm1d(64)
        self.drop, self.fc2 = nn.Dropout(0.3), nn.Linear(64, 4)

    def forward(self, x):
        return self.fc2(self.drop(F.relu(self.bn(self.fc1(x)))))


@pytest.mark.parametrize("bug", [True, False])
def test_model_train_never_called_again_is_eval_mode(bug, tmp_path):
    model = Regularised()
    record = loop(tmp_path, model, torch.optim.Adam(model.parameters(), lr=1e-2), train_again=not bug)
    assert cause(record) == ("eval_mode" if bug else "healthy"), explain(record).causes
    assert record["program"]["missing_activation"] == []  # BatchNorm, a functional ReLU and Dropout between them
    if bug:
        evidence = explain(record).causes[0].evidence
        assert evidence.startswith("epochs 2-4 trained in eval mode") and "BatchNorm1d, Dropout" in evidence


@pytest.mark.parametrize("bug", [True, False])
def test_a_head_replaced_after_the_optimizer_was_built_is_not_optimized(bug, tmp_path):
    model = mlp()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model[2] = nn.Linear(64, CLASSES)  # a fresh head for the task, after the optimizer was built
    if not bug:
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    record = loop(tmp_path, model, opt)
    assert cause(record) == ("not_optimized" if bug else "healthy"), explain(record).causes
    if bug:
        assert list(record["program"]["not_optimized"]) == ["2"]


class Detached(nn.Module):
    def __init__(self, cut: bool):
        super().__init__()
        torch.manual_seed(0)
        self.cut = cut
        self.fc1, self.fc2, self.fc3 = nn.Linear(20, 64), nn.Linear(64, 32), nn.Linear(32, CLASSES)

    def forward(self, x):
        h = F.relu(self.fc1(x))
        if self.cut:
            h = h.detach()  # the bug: fc1 never gets a gradient
        return self.fc3(F.relu(self.fc2(h)))


@pytest.mark.parametrize("bug", [True, False])
def test_a_detached_layer_is_no_gradient(bug, tmp_path):
    model = Detached(bug)
    record = loop(tmp_path, model, torch.optim.Adam(model.parameters(), lr=1e-2))
    assert cause(record) == ("no_gradient" if bug else "healthy"), explain(record).causes
    if bug:
        assert "fc1 (.grad None at" in explain(record).causes[0].evidence


class Functional(nn.Module):
    """Three Linear layers, the activations applied as functions (or not at all: the bug)."""

    def __init__(self, act: bool):
        super().__init__()
        torch.manual_seed(0)
        self.act = act
        self.a, self.b, self.c = nn.Linear(20, 64), nn.Linear(64, 64), nn.Linear(64, CLASSES)

    def forward(self, x):
        f = F.relu if self.act else (lambda t: t)
        return self.c(f(self.b(f(self.a(x)))))


@pytest.mark.parametrize("bug", [True, False])
def test_no_activation_between_layers_is_missing_activation(bug, tmp_path):
    model = Functional(act=not bug)
    record = loop(tmp_path, model, torch.optim.Adam(model.parameters(), lr=1e-2))
    assert cause(record) == ("missing_activation" if bug else "healthy"), explain(record).causes
    assert record["program"]["missing_activation"] == ([["a", "b"], ["b", "c"]] if bug else [])


def test_an_in_place_relu_between_layers_is_an_activation(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(inplace=True), nn.Linear(64, CLASSES))
    record = loop(tmp_path, model, torch.optim.Adam(model.parameters(), lr=1e-2), epochs=1)
    assert record["program"]["missing_activation"] == []


@pytest.mark.parametrize("tail,expected", [((nn.Sigmoid(),), "output_activation"),
                                           ((nn.ReLU(),), "output_activation"), ((nn.Tanh(),), "output_activation"),
                                           ((), "healthy")])
def test_an_activation_on_the_output_is_output_activation(tail, expected, tmp_path):
    model = mlp(*tail)
    record = loop(tmp_path, model, torch.optim.Adam(model.parameters(), lr=1e-2))
    assert cause(record) == expected, explain(record).causes
    if tail:
        kind = {nn.Sigmoid: "a sigmoid", nn.ReLU: "a ReLU", nn.Tanh: "a tanh"}[type(tail[0])]
        assert f"{kind} on the output" in explain(record).causes[0].evidence


class GRUNet(nn.Module):
    def __init__(self, batch_first: bool):
        super().__init__()
        torch.manual_seed(0)
        self.rnn, self.fc = nn.GRU(8, 32, batch_first=batch_first), nn.Linear(32, CLASSES)

    def forward(self, x):  # x: [batch, time, features], as the loader gives it
        out, _ = self.rnn(x)
        return self.fc(out[:, -1])


@pytest.mark.parametrize("bug", [True, False])
def test_a_gru_without_batch_first_is_batch_mixing(bug, tmp_path):
    model = GRUNet(batch_first=not bug)
    record = loop(tmp_path, model, torch.optim.Adam(model.parameters(), lr=1e-2), data=sequences, epochs=5)
    assert cause(record) == ("batch_mixing" if bug else "healthy"), explain(record).causes
    assert (record["program"]["batch_mixing"]["change"] > CAUSES["batch_mixing"].MIXING) == bug


def test_a_log_softmax_over_the_batch_is_batch_mixing(tmp_path):
    class OverBatch(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = mlp()

        def forward(self, x):
            return F.log_softmax(self.net(x), dim=0)  # the bug: over the samples, not the classes

    model = OverBatch()
    record = loop(tmp_path, model, torch.optim.Adam(model.parameters(), lr=1e-2), loss_fn=F.nll_loss)
    assert cause(record) == "batch_mixing", explain(record).causes


def test_each_check_stays_silent_on_an_empty_or_healthy_program_record():
    healthy = {"measured_steps": 10, "eval_mode": {"steps": [], "modules": {}},
               "stale_gradient": {"steps": 0, "of": 10, "worst": None}, "not_optimized": {},
               "gradients": {"fc1": {"steps": 10, "none": 0, "zero": 0, "first": 1}}, "missing_activation": [],
               "batch_mixing": {"samples": 16, "replaced_by": 1, "change": 0.0}}
    for run in ({}, {"program": healthy}, {"program": {}}):
        assert not any(said(i, run) for i in fixed_in("code"))


def test_zero_initialised_outputs_are_not_a_relu_on_the_output():
    """All outputs exactly 0 at init is zero-initialised weights (bad_init), not a ReLU: a ReLU passes its positives."""
    init = {"logits/min": 0.0, "logits/max": 0.0, "logits/sum_dev": 1.0, "logits/zero_fraction": 1.0}
    run = {"config": {"loss": {"name": "cross_entropy"}}, "init": init, "history": []}
    assert said("output_activation", run) is None
    run["init"] = {**init, "logits/max": 0.7, "logits/zero_fraction": 0.5}
    assert "a ReLU on the output" in said("output_activation", run)


def test_a_layer_whose_gradient_dies_later_is_not_a_cut_graph():
    """Exactly-zero gradients that begin after the first measured step (units dying as it trains) are not a graph
    cut: no_gradient needs every measured step without gradient, the first included."""
    run = {"program": {"gradients": {"fc1": {"steps": 5, "none": 0, "zero": 4, "first": 1},
                                     "fc2": {"steps": 5, "none": 0, "zero": 0, "first": 1}}}}
    assert said("no_gradient", run) is None
    run["program"]["gradients"]["fc1"]["zero"] = 5
    assert "fc1 (.grad None at 0, exactly 0 at 5 of 5 measured steps)" in said("no_gradient", run)


def test_no_layer_with_a_gradient_is_not_a_cut_graph():
    """Every layer without a gradient (zero init, every sample beyond a probability clamp: 0 at 15 of 15 steps in the
    program benchmark's mlp_clamped_log_raw) is the loss passing nothing back; a cut leaves the layers after it one."""
    run = {"program": {"gradients": {"1": {"steps": 15, "none": 0, "zero": 15, "first": 2},
                                     "3": {"steps": 15, "none": 0, "zero": 15, "first": 2}}}}
    assert said("no_gradient", run) is None
    run["program"]["gradients"]["3"]["zero"] = 0  # the layer after the cut learns: from step 2, as `scalediag run`
    assert "1 (.grad None at 0, exactly 0 at 15 of 15 measured steps)" in said("no_gradient", run)
