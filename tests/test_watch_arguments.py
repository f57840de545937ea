"""scalediag.watch's refusals: one TypeError or ValueError of one line naming the argument, before anything is
hooked or written; and its own errors, which never reach the user's loop."""

import json
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import scalediag


def mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3))


def nothing_hooked(model, optimizer):
    return not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules()) and \
        not optimizer._optimizer_step_post_hooks and not optimizer._optimizer_step_pre_hooks


X, Y = torch.randn(20, 16), torch.randint(0, 3, (20,))
CASES = {
    "the model cannot take the probe": (lambda m: dict(probe=(torch.randn(20, 5), Y)), ValueError,
                                        r"^scalediag\.watch: probe: the model could not take its inputs \(RuntimeError: "),
    "float labels": (lambda m: dict(probe=(X, Y.float())), TypeError,
                     r"^scalediag\.watch: probe: its labels must be an integer tensor of classes, got torch\.float32"),
    "labels out of range": (lambda m: dict(probe=(X, Y + 5)), ValueError,
                            r"^scalediag\.watch: probe: labels from 5 to 7, outside the model's 3 classes \(0 to 2\)"),
    "labels of another length": (lambda m: dict(probe=(X, Y[:10])), ValueError,
                                 r"^scalediag\.watch: probe: the model's output for its 10 labels is \[20, 3\]; the "
                                 r"probe needs \[samples, classes\] logits for its labels, one row per label"),
    "empty probe": (lambda m: dict(probe=(X[:0], Y[:0])), ValueError, r"^scalediag\.watch: probe: empty \(0 samples\)"),
    "probe not a pair": (lambda m: dict(probe=X), TypeError, r"^scalediag\.watch: probe must be a pair"),
    "optimizer of another model": (lambda m: dict(optimizer=torch.optim.SGD(mlp().parameters(), lr=0.1)), ValueError,
                                   r"^scalediag\.watch: optimizer: holds none of the Sequential's parameters"),
    "not an optimizer": (lambda m: dict(optimizer=object()), TypeError,
                         r"^scalediag\.watch: optimizer: needs a torch\.optim\.Optimizer"),
    "no optimizer, nothing to update": (lambda m: dict(optimizer=None, model=m.requires_grad_(False)), ValueError,
                                        r"^scalediag\.watch: optimizer=None: none of the Sequential's parameters "
                                        r"requires grad"),
    "every 0": (lambda m: dict(every=0), ValueError, r"^scalediag\.watch: every=0: must be an integer >= 1"),
    "not a module": (lambda m: dict(model=lambda x: x), TypeError,
                     r"^scalediag\.watch: model must be a torch\.nn\.Module, got function"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_bad_argument_is_refused_in_one_line_before_anything_is_hooked_or_written(case, tmp_path):
    change, kind, message = CASES[case]
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    args = {"model": model, "optimizer": opt, "log_dir": tmp_path / "run", "probe": (X, Y), **change(model)}
    state = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(kind, match=message) as e:
        scalediag.watch(**args)
    assert "\n" not in str(e.value)
    assert not (tmp_path / "run").exists()
    assert nothing_hooked(model, opt)
    assert all(torch.equal(a, b) for a, b in zip(state, model.parameters()))
    assert all(m.training for m in model.modules())  # the trial forward pass gave each module its mode back


def test_a_directory_that_cannot_be_made_is_refused(tmp_path):
    (tmp_path / "file").write_text("a file, not a directory")
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"^scalediag\.watch: log_dir .*/file/run cannot be made: .*/file is a file$"):
        scalediag.watch(model, opt, tmp_path / "file" / "run")
    assert nothing_hooked(model, opt)


def test_a_finished_run_is_never_overwritten(tmp_path):
    """A second run into the directory of the first is refused with the way out; the first's files stay whole."""
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with scalediag.watch(model, opt, tmp_path, probe=(X, Y)) as w:
        w.epoch_end(train_loss=1.0)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(ValueError, match=r"already holds a watched run \(metrics\.json\): give each run its own "
                                         r"directory, or delete that one to replace it$"):
        scalediag.watch(model, opt, tmp_path, probe=(X, Y))
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert nothing_hooked(model, opt)


def test_an_error_of_watch_s_own_turns_it_off_with_one_warning_and_the_loop_goes_on(tmp_path, monkeypatch):
    """A statistic that raises (here made to) at the first measured step after entry: one warning, the hooks
    gone, the loop's losses those of an unwatched loop, and a record that says where watch stopped."""
    import scalediag.measure.hooks as hooks

    def train(log_dir=None):
        model = mlp()
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        losses, w = [], scalediag.watch(model, opt, log_dir, every=1, probe=(X, Y)) if log_dir else None
        with w if w else warnings.catch_warnings():
            for epoch in range(2):
                for i in range(0, 20, 5):
                    loss = F.cross_entropy(model(X[i : i + 5]), Y[i : i + 5])
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    losses.append(loss.item())
                if w:
                    w.epoch_end(train_loss=losses[-1])
        return losses, model, opt

    plain, _, _ = train()

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug of scalediag's")

    monkeypatch.setattr(hooks, "grad_norms", broken)
    with pytest.warns(RuntimeWarning) as caught:
        watched, model, opt = train(tmp_path)
    stopped = [w for w in caught if "stopped measuring" in str(w.message)]
    assert len(stopped) == 1 and "ZeroDivisionError: a bug of scalediag's" in str(stopped[0].message)
    assert watched == plain
    assert nothing_hooked(model, opt)
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["status"] == "completed" and [h["train_loss"] for h in record["history"]] == [plain[3], plain[7]]
    assert record["watch_error"] == {"step": 0, "error": "ZeroDivisionError: a bug of scalediag's"}
