"""scalediag.watch on models scalediag did not build, in hand-written loops: per-layer tags named by the modules,
a record the report reads, the cause of injected faults, nothing left behind, and the same numbers as unwatched."""

import contextlib
import csv
import json
import warnings
from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import scalediag
from conftest import fake_data, run_cli, scalars


def cnn():
    torch.manual_seed(0)
    return nn.Sequential(OrderedDict(
        features=nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                               nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)),
        classifier=nn.Sequential(nn.Flatten(), nn.Linear(16 * 7 * 7, 10))))


def gelu_mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.LayerNorm(64), nn.GELU(), nn.Linear(64, 10))


def train(model, optimizer, data, divisor, log_dir=None, epochs=3, fail_at=None):
    """A plain loop, as a user writes it; watched when log_dir is given. Returns every batch's loss."""
    x, y = data.train.x.float().div(divisor).unsqueeze(1), data.train.y
    xt, yt = data.test.x.float().div(divisor).unsqueeze(1), data.test.y
    gen, losses = torch.Generator().manual_seed(0), []
    w = scalediag.watch(model, optimizer, log_dir, every=4, probe=(x[:256], y[:256])) if log_dir else None
    with w or contextlib.nullcontext():
        for epoch in range(epochs):
            order, total = torch.randperm(len(y), generator=gen), 0.0
            for i in range(0, len(y), 32):
                idx = order[i : i + 32]
                loss = F.cross_entropy(model(x[idx]), y[idx])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                losses.append(loss.item())
                total += loss.item()
                if fail_at is not None and len(losses) == fail_at:
                    raise RuntimeError("the user's loop broke")
            if w:
                model.eval()
                with torch.no_grad():
                    out = model(xt)
                model.train()
                w.epoch_end(train_loss=total / (len(y) // 32), test_loss=F.cross_entropy(out, yt).item(),
                            test_acc=(out.argmax(1) == yt).float().mean().item())
    return losses


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from conftest import write_fashion

    root = tmp_path_factory.mktemp("watch") / "data"
    write_fashion(root / "FashionMNIST" / "raw")
    return fake_data(root)


@pytest.fixture(scope="module")
def runs(data, tmp_path_factory):
    """A CNN at /255 and on raw pixels and with Adam at lr 1; the GELU + LayerNorm MLP with SGD: one report."""
    out = tmp_path_factory.mktemp("watched")
    for name, make, opt, divisor in [("cnn", cnn, lambda p: torch.optim.Adam(p, lr=1e-3), 255.0),
                                     ("cnn_raw_pixels", cnn, lambda p: torch.optim.Adam(p, lr=1e-3), 1.0),
                                     ("cnn_lr1", cnn, lambda p: torch.optim.Adam(p, lr=1.0), 255.0),
                                     ("mlp_gelu_sgd", gelu_mlp, lambda p: torch.optim.SGD(p, lr=0.05), 255.0)]:
        model = make()
        train(model, opt(model.parameters()), data, divisor, out / name)
    p = run_cli(["report", str(out)], cwd=out)
    assert p.returncode == 0, p.stderr
    return out, p.stdout


def test_per_layer_tags_are_named_by_the_modules(runs):
    out, _ = runs
    record = json.loads((out / "cnn" / "metrics.json").read_text())
    assert record["status"] == "completed" and [h["epoch"] for h in record["history"]] == [1, 2, 3]
    last = record["history"][-1]["diag"]
    for tag in ("act/features.0/dead_fraction", "act/features.3/preact_std", "update/classifier.1/ratio",
                "grad/features.0/output_rms", "weights/features.3/gain", "adam/classifier.1/eps_fraction",
                "acc/probe"):
        assert tag in last or tag in record["init"], tag
    assert record["config"]["model"]["layers"] == ["features.0", "features.3", "classifier.1"]
    steps = [s for s, _ in scalars(out / "cnn", "update/features.0/ratio")]
    assert steps[:4] == [1, 2, 4, 8] and steps == sorted(set(steps))  # early steps, then every 4th
    mlp = json.loads((out / "mlp_gelu_sgd" / "metrics.json").read_text())
    assert "act/1/saturated_fraction" in mlp["history"][-1]["diag"]  # GELU after the LayerNorm: Linear 1's unit
    assert not any(k.startswith("adam/") for k in mlp["history"][-1]["diag"])  # SGD keeps no Adam state


def test_the_report_names_the_cause_of_each_watched_run(runs):
    out, printed = runs
    rows = {r["run"]: r for r in csv.DictReader((out / "summary.csv").open())}
    assert rows["cnn_raw_pixels"]["cause"] == "input_scale"
    assert rows["cnn_lr1"]["cause"] == "lr_too_high"
    assert (rows["cnn"]["cause"], rows["mlp_gelu_sgd"]["cause"]) == ("healthy", "healthy")
    assert "**cause: learning rate too large**" in printed


def test_a_watched_loop_gives_the_unwatched_loop_s_losses_bit_for_bit_and_leaves_no_hook(data, tmp_path):
    model = cnn()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    watched = train(model, optimizer, data, 255.0, tmp_path / "w", epochs=2)
    assert not any(m._forward_hooks or m._forward_pre_hooks or m._backward_hooks for m in model.modules())
    assert not optimizer._optimizer_step_post_hooks and not optimizer._optimizer_step_pre_hooks
    plain_model = cnn()
    assert train(plain_model, torch.optim.Adam(plain_model.parameters(), lr=1e-3), data, 255.0, epochs=2) == watched


def test_an_exception_in_the_loop_is_recorded_and_raised(data, tmp_path):
    model = gelu_mlp()
    with pytest.raises(RuntimeError, match="the user's loop broke"):
        train(model, torch.optim.SGD(model.parameters(), lr=0.05), data, 255.0, tmp_path, fail_at=20)
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["status"] == "failed" and record["error"] == "RuntimeError: the user's loop broke"
    assert [h["epoch"] for h in record["history"]] == [1]  # 16 steps per epoch: the first one was done
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())


def test_what_it_cannot_see_is_said(tmp_path):
    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(4, 8), nn.Linear(8, 2)

        def forward(self, x):
            return self.fc2(F.relu(self.fc1(x)))

    model = Functional()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    # without a probe, an activation applied as a function cannot be seen; with one it is (the next test)
    with pytest.warns(UserWarning, match="no activation follows fc1 .one applied as a function is seen at the probe"):
        with scalediag.watch(model, opt, tmp_path / "functional", quiet=True):
            pass
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compiled = torch.compile(model)
    with pytest.raises(TypeError, match="torch.compile'd model runs its compiled graph"):
        scalediag.watch(compiled, opt, tmp_path / "x")
    with pytest.raises(TypeError, match="needs a torch.optim.Optimizer"):
        scalediag.watch(model, object(), tmp_path / "x")
    assert not (tmp_path / "x").exists()  # refused before writing anything


def test_import_scalediag_loads_no_torch_hydra_omegaconf_or_matplotlib():
    import subprocess
    import sys

    code = ("import sys, scalediag; print(sorted(m for m in ('torch', 'hydra', 'omegaconf', 'matplotlib', "
            "'lightning', 'transformers') if m in sys.modules)); scalediag.watch; "
            "print('hydra' in sys.modules, 'matplotlib' in sys.modules, 'lightning' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out == "[]\nFalse False False\n"


def test_the_block_prints_its_diagnosis_and_diagnose_returns_it(data, tmp_path, capfd):
    torch.manual_seed(0)
    model = cnn()
    train(model, torch.optim.Adam(model.parameters(), lr=1e-3), data, 255.0, tmp_path / "loud", epochs=1)
    printed = capfd.readouterr().err
    assert f"scalediag: diagnosis of {tmp_path / 'loud'} (`scalediag report" in printed
    found = scalediag.diagnose(tmp_path / "loud")
    assert found.text in printed and found.cause in ("healthy", *(c.id for c in found.causes))
    assert found.text.startswith("- ")
    # the block to paste into an issue, beside the record, and said where it is
    block = (tmp_path / "loud" / "diagnosis.md").read_text()
    assert f"to paste into an issue: {tmp_path / 'loud' / 'diagnosis.md'}" in printed
    assert block.startswith(f"**scalediag diagnosis** of `{tmp_path / 'loud'}`")
    assert f"- verdict: `{found.cause}`" in block and "- versions: scalediag 0.1.0, torch 2." in block
    assert "- what ran: 10 classes, Adam lr 0.001" in block and found.text in block


def test_quiet_prints_nothing(data, tmp_path, capfd):
    model = cnn()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = data.train.x[:64].float().div(255).unsqueeze(1), data.train.y[:64]
    with scalediag.watch(model, opt, tmp_path / "quiet", probe=(x, y), quiet=True) as w:
        for i in range(0, 64, 32):
            opt.zero_grad()
            F.cross_entropy(model(x[i : i + 32]), y[i : i + 32]).backward()
            opt.step()
        w.epoch_end(train_loss=1.0)
    assert "scalediag: diagnosis" not in capfd.readouterr().err
    assert (tmp_path / "quiet" / "metrics.json").is_file()


class FunctionalCNN(nn.Module):
    """The hand-written style: activations as functions in forward, a BatchNorm between a conv and its ReLU."""

    def __init__(self, bias=0.0):
        super().__init__()
        self.conv1, self.bn1, self.conv2 = nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.Conv2d(8, 8, 3)
        self.fc1, self.fc2 = nn.Linear(8 * 6 * 6, 32), nn.Linear(32, 10)
        nn.init.constant_(self.fc1.bias, bias)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(torch.tanh(self.conv2(x)), 2)
        return self.fc2(self.fc1(x.flatten(1)).relu())


def test_activations_applied_as_functions_are_measured_at_the_probe(data, tmp_path, recwarn):
    torch.manual_seed(0)
    model = FunctionalCNN()
    train(model, torch.optim.Adam(model.parameters(), lr=1e-3), data, 255.0, tmp_path / "f", epochs=1)
    assert not [w for w in recwarn if "no activation follows" in str(w.message)]
    record = json.loads((tmp_path / "f" / "metrics.json").read_text())
    init, last = record["init"], record["history"][-1]["diag"]
    for layer in ("conv1", "conv2", "fc1"):  # each with the function after it: F.relu, torch.tanh, Tensor.relu
        assert 0 <= init[f"act/{layer}/dead_fraction"] <= 1 and f"act/{layer}/dead_fraction" in last
        assert init[f"act/{layer}/preact_std"] > 0
    assert "act/fc2/dead_fraction" not in init  # the output layer has none
    # a bias far below 0 before Tensor.relu: every unit dead at init, as a module's ReLU would show it
    torch.manual_seed(0)
    dead = FunctionalCNN(bias=-50.0)
    train(dead, torch.optim.Adam(dead.parameters(), lr=1e-3), data, 255.0, tmp_path / "dead", epochs=1)
    assert json.loads((tmp_path / "dead" / "metrics.json").read_text())["init"]["act/fc1/dead_fraction"] == 1.0


def test_a_loop_without_an_optimizer_is_watched_with_none(tmp_path):
    """watch(model, None, dir): the loop updates the weights itself. A step is a backward pass and the update after
    it (read at the model's next call): each is counted, and a measured step's update ratio is the one the loop
    made, ||w_after - w_before|| / ||w_after||, computed here from copies of the weights."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 3))
    x, y = torch.randn(64, 16), torch.randint(0, 3, (64,))
    expected = {}
    with scalediag.watch(model, None, tmp_path / "run", every=10, probe=(x[:32], y[:32]), quiet=True) as w:
        for step in range(1, 61):
            before = model[0].weight.detach().clone()
            F.cross_entropy(model(x), y).backward()
            with torch.no_grad():
                for p in model.parameters():
                    p -= 0.05 * p.grad
                    p.grad = None
            if step == 4:
                after = model[0].weight.detach()  # a layer's ratio is its weight's (its bias left out)
                expected[step] = float((after - before).norm() / after.norm())
            if step % 20 == 0:
                w.epoch_end(train_loss=1.0)
    record = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert record["steps"] == 60 and record["config"]["optimizer"]["_target_"] == "hand-written update"
    # float32 norms of 512 entries summed in another order: within 1e-4 on any CPU (the rounding is ~1e-7)
    assert record["early"]["4"]["update/0/ratio"] == pytest.approx(expected[4], rel=1e-4) and expected[4] > 0
    assert not any(m._forward_pre_hooks or m._forward_hooks for m in model.modules())
    assert not any(p._post_accumulate_grad_hooks for p in model.parameters())
