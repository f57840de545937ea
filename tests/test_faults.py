"""Faults lose nothing: a diverging run, a job that raises, an interrupt and its resume."""

import json
import os
import signal
import subprocess

import torch

from conftest import cli, fake_overrides, run_cli, scalar_steps, write_fashion


def _metrics(sweep):
    return {m.parent.name: json.loads(m.read_text()) for m in sweep.rglob("metrics.json")}


def test_a_diverging_run_is_recorded_while_the_other_job_completes(fake_root, tmp_path):
    sweep = tmp_path / "sweep"
    # Adam moves each weight by about lr per step: with lr 1e20 the logits overflow float32 at the second step
    # without early steps: step 1's weights (about 1e20) are finite, but the float32 norm of 100k of them is not
    p = run_cli(["--multirun", "optimizer.lr=1e-3,1e20", "diag.every_n_steps=2", "diag.early_steps=[]",
                 "train.epochs=3", *fake_overrides(fake_root), f"hydra.sweep.dir={sweep}"], cwd=tmp_path)
    assert p.returncode == 0, p.stderr  # divergence is a result, not an error
    runs = _metrics(sweep)
    ok, bad = runs["optimizer.lr=0.001,train.epochs=3"], runs["optimizer.lr=1e+20,train.epochs=3"]
    assert ok["status"] == "completed" and len(ok["history"]) == 3
    assert bad["status"] == "diverged" and bad["error"] == f"non-finite loss/train_step at step {bad['step']}"
    assert bad["step"] == 2 and bad["epoch"] == 1 and bad["history"] == []  # the epochs done before: none here
    assert 2 < bad["init"]["loss/init"] < 3  # what was measured before the fault is kept
    steps = scalar_steps(sweep / "optimizer.lr=1e+20,train.epochs=3", "loss/train_step")
    assert steps == [2]  # TensorBoard holds the step where it broke
    assert "DIVERGED at epoch 1, step 2: non-finite loss/train_step" in (sweep / "summary.md").read_text()


def test_a_job_that_raises_costs_the_others_nothing(fake_root, tmp_path):
    sweep = tmp_path / "sweep"
    # 784 x 10^9 float32 weights: the allocation fails inside the job, after validation
    p = run_cli(["--multirun", "model.hidden=16,1000000000,32", "train.epochs=1", *fake_overrides(fake_root),
                 f"hydra.sweep.dir={sweep}"], cwd=tmp_path)
    assert p.returncode == 1
    runs = _metrics(sweep)
    assert [runs[f"model.hidden={h},train.epochs=1"]["status"] for h in (16, 1000000000, 32)] == \
        ["completed", "failed", "completed"]
    failed = runs["model.hidden=1000000000,train.epochs=1"]
    assert failed["error"].startswith("RuntimeError") and "allocate" in failed["error"]
    assert "1 job(s) failed: model.hidden=1000000000,train.epochs=1" in p.stderr
    md = (sweep / "summary.md").read_text()
    assert "FAILED: RuntimeError" in md and "| model.hidden=16,train.epochs=1 | 1 |" in md


def _interrupt_after_first_epoch(args, cwd, sig):
    """(exit code, stderr) of a run signalled once its first epoch is on disk (epoch 2 takes ~0.5 s: mid-epoch).
    Up to 3 tries: once in a full suite a signalled run went on to exit 0 (not reproduced in 37 tries alone)."""
    for _ in range(3):
        proc = subprocess.Popen(cli(args), cwd=cwd, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        for line in proc.stdout:
            if "Epoch 1/" in line:
                proc.send_signal(sig)
                break
        _, err = proc.communicate(timeout=120)
        if proc.returncode != 0:
            break
    return proc.returncode, err


def _numbers(metrics):
    return [{k: v for k, v in h.items() if k not in ("seconds", "diag")} for h in metrics["history"]]


def test_sigint_keeps_the_epochs_done_and_resume_reaches_the_uninterrupted_numbers(tmp_path):
    root = tmp_path / "data"
    write_fashion(root / "FashionMNIST" / "raw", n_train=30000, n_test=256)
    common = [*fake_overrides(root), "train.epochs=4", "diag.every_n_steps=50"]
    whole = run_cli([*common, f"hydra.run.dir={tmp_path / 'whole'}"], cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr
    reference = json.loads((tmp_path / "whole" / "metrics.json").read_text())

    run_dir = tmp_path / "cut"
    code, err = _interrupt_after_first_epoch([*common, f"hydra.run.dir={run_dir}"], tmp_path, signal.SIGINT)
    assert code == 130 and "train.resume=true" in err, (code, err[-3000:])
    cut = json.loads((run_dir / "metrics.json").read_text())
    assert cut["status"] == "interrupted" and 1 <= len(cut["history"]) < 4
    state = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    assert state["epoch"] == len(cut["history"])
    # the report diagnoses the finished epochs, and keeps the run in its table
    report = run_cli(["report", str(run_dir)], cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert f"interrupted after epoch {len(cut['history'])} of 4" in report.stdout
    assert "diagnosed on the finished epochs" in report.stdout and "Runs without results" not in report.stdout
    assert "| 1 |" in report.stdout.split("\n\n")[0]  # its row in the table: one run (n = 1)
    assert (run_dir / "summary.md").read_text().startswith("# scalediag run ")  # one run: named as one, not a sweep

    resumed = run_cli([*common, "train.resume=true", f"hydra.run.dir={run_dir}"], cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    final = json.loads((run_dir / "metrics.json").read_text())
    assert final["status"] == "completed"
    assert _numbers(final) == _numbers(reference)
    assert final["final"] == reference["final"]


def test_sigterm_is_an_interrupt_too(tmp_path):
    root = tmp_path / "data"
    write_fashion(root / "FashionMNIST" / "raw", n_train=30000, n_test=256)
    run_dir = tmp_path / "run"
    args = [*fake_overrides(root), "train.epochs=4", f"hydra.run.dir={run_dir}"]
    code, _ = _interrupt_after_first_epoch(args, tmp_path, signal.SIGTERM)
    assert code == 130
    assert json.loads((run_dir / "metrics.json").read_text())["status"] == "interrupted"


def test_resume_refuses_a_checkpoint_of_another_configuration(fake_root, tmp_path):
    run_dir = tmp_path / "run"
    assert run_cli([*fake_overrides(fake_root), "train.epochs=1", f"hydra.run.dir={run_dir}"],
                   cwd=tmp_path).returncode == 0
    p = run_cli([*fake_overrides(fake_root), "train.epochs=2", "divisor=1", "train.resume=true",
                 f"hydra.run.dir={run_dir}"], cwd=tmp_path)
    assert p.returncode == 1
    assert "was made with divisor=255, this run has divisor=1" in p.stderr
