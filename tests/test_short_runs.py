"""A run too short to tell is not blamed (#35): a 3-class MLP whose labels are a function of its inputs, 16 SGD steps
at lr 0.1, stopped near chance, was called labels_misaligned. Few steps and a loss that hardly moved cannot tell
"cannot learn" from "has not learned yet": the diagnosis says so with the step count and the steps' sizes, and
names no cause; a bug of the code is still named, and the same program trained long enough learns."""

import torch
import torch.nn.functional as F
from torch import nn

import scalediag
from scalediag.explain.chain import explain, run_text
from scalediag.record import read


def _train(out, steps, zero_grad=True):
    torch.manual_seed(0)
    x = torch.randn(512, 10)
    y = (x[:, 0] > 0.5).long() + (x[:, 1] > 0.5).long()  # 3 classes, a function of the inputs
    model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with scalediag.watch(model, opt, out, every=4, probe=(x[:128], y[:128]), quiet=True) as w:
        total, n = 0.0, 0
        for step in range(steps):
            i = (step * 32) % 512
            loss = F.cross_entropy(model(x[i : i + 32]), y[i : i + 32])
            if zero_grad:
                opt.zero_grad()
            loss.backward()
            opt.step()
            total, n = total + loss.item(), n + 1
            if (step + 1) % 16 == 0 or step + 1 == steps:
                w.epoch_end(train_loss=total / n)
                total, n = 0.0, 0
    return read(out / "metrics.json")


def test_sixteen_steps_at_chance_are_too_short_to_tell(tmp_path):
    run = _train(tmp_path / "short", 16)
    found = explain(run)
    assert found.cause == "too_short", found.causes
    text = run_text(run)
    assert text.startswith("- **too short to tell** (too_short): 16 optimizer steps") and "||dw||/||w||" in text


def test_a_bug_of_the_code_is_named_in_a_short_run_too(tmp_path):
    assert explain(_train(tmp_path / "bug", 16, zero_grad=False)).cause == "grad_accumulation"


def test_the_same_program_trained_longer_is_judged(tmp_path):
    run = _train(tmp_path / "long", 320)
    assert explain(run).cause == "healthy", explain(run).causes
