"""The same sweep through Hydra's basic, joblib and submitit_local launchers: same numbers, threads shared out."""

import json
import os

import pytest

from conftest import automatic_threads, fake_overrides, run_cli, write_fashion


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("launchers") / "data"
    write_fashion(root / "FashionMNIST" / "raw")
    return root


def _sweep(root, tmp_path, *args):
    tmp_path.mkdir(parents=True, exist_ok=True)
    sweep = tmp_path / "sweep"
    p = run_cli(["--multirun", "divisor=1,255", "train.epochs=2", *args, *fake_overrides(root),
                 f"hydra.sweep.dir={sweep}"], cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert (sweep / "summary.md").is_file()  # the report runs whatever the launcher
    return {m.parent.name: json.loads(m.read_text()) for m in sweep.glob("*/metrics.json")}


def _finals(runs):
    return {name: (r["final"], [h["train_loss"] for h in r["history"]]) for name, r in runs.items()}


@pytest.fixture(scope="module")
def basic(root, tmp_path_factory):
    return _sweep(root, tmp_path_factory.mktemp("basic"))


def test_joblib_gives_the_basic_launchers_numbers(root, tmp_path, basic):
    runs = _sweep(root, tmp_path, "hydra/launcher=local_parallel", "hydra.launcher.n_jobs=2")
    assert set(runs) == {"divisor=1,train.epochs=2", "divisor=255,train.epochs=2"}
    assert _finals(runs) == _finals(basic)


def test_submitit_local_gives_the_basic_launchers_numbers(root, tmp_path, basic):
    runs = _sweep(root, tmp_path, "hydra/launcher=submitit_local", "hydra.launcher.cpus_per_task=1")
    assert _finals(runs) == _finals(basic)


@automatic_threads
def test_threads_are_shared_out_between_parallel_jobs(root, tmp_path):
    cores = os.cpu_count() or 1
    parallel = _sweep(root, tmp_path / "joblib", "hydra/launcher=local_parallel", "hydra.launcher.n_jobs=2",
                      "train.batch_size=256")
    assert {r["threads"] for r in parallel.values()} == {max(1, cores // 2)}  # 2 jobs x threads <= cores
    assert {r["blas_threads"] for r in parallel.values()} == {max(1, cores // 2)}  # numpy's BLAS as well
    alone = _sweep(root, tmp_path / "basic", "train.batch_size=256")
    assert {r["threads"] for r in alone.values()} == {cores}
    small = _sweep(root, tmp_path / "small", "hydra/launcher=local_parallel", "hydra.launcher.n_jobs=2")
    assert {r["threads"] for r in small.values()} == {1}  # batch 32: one thread is fastest anyway
    explicit = _sweep(root, tmp_path / "explicit", "train.threads=2")
    assert {r["threads"] for r in explicit.values()} == {2}


def test_thread_budget_of_each_launcher():
    from omegaconf import OmegaConf

    from scalediag.run.threads import thread_budget

    cores = os.cpu_count() or 1
    joblib = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"
    assert thread_budget(OmegaConf.create({"_target_": joblib, "n_jobs": -1})) == 1
    assert thread_budget(OmegaConf.create({"_target_": joblib, "n_jobs": 1})) == cores
    assert thread_budget(OmegaConf.create({"_target_": "x.submitit.SlurmLauncher", "cpus_per_task": 4})) == 4
    assert thread_budget(OmegaConf.create({"_target_": "hydra._internal.BasicLauncher"})) == cores
