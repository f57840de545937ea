"""`scalediag run script.py`: a plain training script, unchanged, watched through torch's global hooks; its
diagnosis printed, its exit code kept, its record left for the report."""

import json
import sys
import textwrap

from conftest import run_cli

SCRIPT = textwrap.dedent('''
    """A user's script: band images (each class lights a band of rows), an MLP, Adam, an evaluation per epoch."""
    import sys
    import numpy as np
    import torch
    import torch.nn.functional as F
    from torch import nn

    def images(n, seed):
        rng = np.random.default_rng(seed)
        labels = rng.integers(0, 10, n)
        x = rng.integers(0, 60, (n, 28, 28))
        for i, c in enumerate(labels):
            x[i, 2 * c + 4 : 2 * c + 7, :] += 180
        return torch.tensor(x.clip(0, 255), dtype=torch.float32), torch.tensor(labels)

    divisor = float(sys.argv[1])
    x, y = images(1024, 0)
    xt, yt = images(256, 1)
    x, xt = x / divisor, xt / divisor
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    if "rebuilt" in sys.argv:  # the model built again after its optimizer: the optimizer steps the first one
        model = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
    criterion = {"module": nn.CrossEntropyLoss(), "functional": F.cross_entropy,
                 "by_hand": lambda out, t: -torch.log_softmax(out, 1).gather(1, t[:, None]).mean()}[sys.argv[2]]
    for epoch in range(3):
        model.train()
        for i in range(0, 1024, 32):
            loss = criterion(model(x[i : i + 32]), y[i : i + 32])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if "fail" in sys.argv and epoch == 1:
                raise RuntimeError("the script's own bug")
        model.eval()
        with torch.no_grad():
            out = model(xt)
            print(f"epoch {epoch + 1}: test loss {criterion(out, yt).item():.3f}")
''')


def _run(tmp_path, *args):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    out = tmp_path / "run"
    p = run_cli(["run", "--every", "4", "--dir", str(out), str(script), *args], cwd=tmp_path)
    return p, out


def test_a_healthy_script_is_watched_unchanged_and_called_healthy(tmp_path):
    p, out = _run(tmp_path, "255", "module")
    assert p.returncode == 0, p.stderr
    assert [line for line in p.stdout.splitlines() if line.startswith("epoch")] == \
        [line for line in run_plain(tmp_path, "255", "module").splitlines() if line.startswith("epoch")]
    record = json.loads((out / "metrics.json").read_text())
    assert record["status"] == "completed" and record["steps"] == 96 and len(record["history"]) == 3
    assert [h["step"] for h in record["history"]] == [32, 64, 96]  # an epoch ends where the script evaluates
    assert record["history"][-1]["test_loss"] is not None and record["init"] is not None
    # the probe: the first batch of 32 at init, grown with the next training batches to 256 by the first epoch's end
    assert record["labels"]["samples"] == 256
    assert "diagnosis of" in p.stderr and "healthy" in p.stderr
    block = (out / "diagnosis.md").read_text()
    assert block.startswith(f"**scalediag diagnosis** of `{out}` (`train.py`)") and "- verdict: `healthy`" in block
    assert "- task: classification (the loss the program trains with: cross_entropy)" in block


def test_raw_pixels_with_a_functional_loss_are_input_scale(tmp_path):
    p, out = _run(tmp_path, "1", "functional")
    assert p.returncode == 0, p.stderr
    assert "(input_scale)" in p.stderr  # the probe's labels seen through F.cross_entropy


def test_functional_losses_are_the_epochs_losses(tmp_path):
    p, out = _run(tmp_path, "255", "functional")
    assert p.returncode == 0, p.stderr
    printed = [float(line.split()[-1]) for line in p.stdout.splitlines() if line.startswith("epoch")]
    history = json.loads((out / "metrics.json").read_text())["history"]
    # the evaluation's F.cross_entropy, seen once per epoch: the printed value itself (both float32, same call)
    assert [round(h["test_loss"], 3) for h in history] == printed
    assert all(h["train_loss"] is not None and h["test_acc"] is not None for h in history)


def test_a_loss_written_by_hand_still_gets_a_probe_without_labels(tmp_path):
    p, out = _run(tmp_path, "1", "by_hand")
    assert p.returncode == 0, p.stderr
    assert "measured without a loss or an accuracy" in p.stderr
    assert "(input_scale)" in p.stderr  # the raw pixels seen on the probe's inputs and pre-activations
    record = json.loads((out / "metrics.json").read_text())
    assert record["labels"] is None and "loss/init" not in record["init"] and record["init"]["input/rms"] > 50


def test_an_optimizer_of_a_model_the_script_never_calls_is_said(tmp_path):
    p, out = _run(tmp_path, "255", "module", "rebuilt")
    assert p.returncode == 0, p.stderr
    assert "the optimizer stepped 96 times but holds none of the parameters of the module(s) the script trained " \
           "(Sequential)" in p.stderr
    assert not (out / "metrics.json").exists()  # nothing watched: no record


def test_a_script_that_raises_keeps_its_exit_code_and_a_failed_record(tmp_path):
    p, out = _run(tmp_path, "255", "module", "fail")
    assert p.returncode == 1
    assert "RuntimeError: the script's own bug" in p.stderr
    record = json.loads((out / "metrics.json").read_text())
    assert record["status"] == "failed" and record["error"] == "RuntimeError: the script's own bug"
    assert len(record["history"]) == 1
    assert "- failed after epoch 1 (RuntimeError: the script's own bug): diagnosed on the finished epochs" in p.stderr


def run_plain(tmp_path, *args):
    import subprocess

    script = tmp_path / "train.py"
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, check=True,
                          cwd=tmp_path).stdout


def test_a_script_run_again_gets_the_next_version_and_a_named_directory_is_refused_in_its_own_words(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    for n in (0, 1):
        p = run_cli(["run", "--every", "8", str(script), "255", "module"], cwd=tmp_path)
        assert p.returncode == 0, p.stderr
        assert f"runs/train/version_{n}" in p.stderr and (tmp_path / f"runs/train/version_{n}/metrics.json").is_file()
    before = (tmp_path / "runs/train/version_0/metrics.json").read_bytes()
    p = run_cli(["run", "--dir", "runs/train/version_0", str(script), "255", "module"], cwd=tmp_path)
    assert p.returncode == 2 and p.stdout == ""  # refused before the script runs
    assert p.stderr == ("scalediag run: error: --dir runs/train/version_0 already holds a run (metrics.json): give "
                        "another --dir, or leave --dir out to number the runs under runs/train/\n")
    assert (tmp_path / "runs/train/version_0/metrics.json").read_bytes() == before
