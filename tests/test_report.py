"""The sweep report: written by the Hydra callback at the end of a multirun, rebuilt by `scalediag report DIR`."""

import csv
import json
import shutil
from pathlib import Path

import pytest

from conftest import fake_sweep, run_cli
from scalediag.explain.report import aggregate, label, table

PLOTS = {"loss.png", "dead_units.png", "saturated.png", "logits.png", "clipped.png", "update_ratio.png"}


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    sweep, p = fake_sweep(tmp_path_factory.mktemp("report"), "divisor=1,255", "seed=0,1", "train.epochs=2",
                          "diag.every_n_steps=4")
    return sweep, p.stdout


def test_the_callback_writes_every_file_with_one_row_per_run(sweep):
    sweep, stdout = sweep
    rows = list(csv.DictReader((sweep / "summary.csv").open()))
    assert sorted(r["run"] for r in rows) == ["divisor=1,seed=0,train.epochs=2", "divisor=1,seed=1,train.epochs=2",
                                             "divisor=255,seed=0,train.epochs=2", "divisor=255,seed=1,train.epochs=2"]
    assert all(r["status"] == "completed" and r["epochs"] == "2" and r["findings"] for r in rows)
    assert all(float(r["init_loss"]) > 0 and r["update_ratio_fc1"] for r in rows)
    md = (sweep / "summary.md").read_text()
    assert "| divisor=1,train.epochs=2 | 2 |" in md and "| divisor=255,train.epochs=2 | 2 |" in md
    assert "## Diagnosis per run" in md and "**divisor=1,seed=0,train.epochs=2**" in md
    assert PLOTS <= {p.name for p in sweep.glob("*.png")}
    assert all((sweep / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in PLOTS)
    assert all(f"![{p}]({p})" in md for p in PLOTS)
    assert json.loads((sweep / "jobs.json").read_text())["jobs"] == sorted(r["run"] for r in rows)
    assert "Sweep summary" in stdout and "| divisor=255,train.epochs=2 | 2 |" in stdout
    blocks = sorted(p.read_text() for p in sweep.glob("*/diagnosis.md"))  # each run's, to paste into an issue
    assert len(blocks) == 4 and all("- what ran: classification, loss cross_entropy, KerasAdam lr 0.001, divisor "
                                    in b and "- run: completed, 2 of 2 epochs" in b for b in blocks)


def test_seeds_are_aggregated_per_configuration():
    rows = [{"seed": s, "train_loss": t, "test_loss": t, "test_acc": 0.8, "seconds_per_epoch": 1.0}
            for s, t in ((0, 0.2), (1, 0.4), (2, 0.3))] + \
           [{"seed": 0, "train_loss": 1.0, "test_loss": 1.0, "test_acc": 0.5, "seconds_per_epoch": None}]
    groups = aggregate(rows, ["divisor=255"] * 3 + ["divisor=1000"])
    assert [g["config"] for g in groups] == ["divisor=255", "divisor=1000"]  # numbers sort as numbers
    g = groups[0]
    assert (g["n"], g["seeds"]) == (3, [0, 1, 2])
    assert g["train_loss"] == pytest.approx(0.3) and g["train_loss_std"] == pytest.approx(0.1)
    assert groups[1]["train_loss_std"] is None and groups[1]["seconds_per_epoch"] is None  # one run: no spread
    assert "± " not in table(groups[1:]).splitlines()[-1]  # shown without a ± 0.0000
    assert label({"name": "divisor=1,loss=keras_clipped,seed=2"}) == "divisor=1,loss=keras_clipped"
    assert label({"name": "betas=[0.9,0.99],seed=0", "dir": "x"}) == "betas=[0.9,0.99]"


def test_report_rebuilds_and_names_a_missing_run(sweep, tmp_path):
    sweep, _ = sweep
    copy = tmp_path / "copy"
    shutil.copytree(sweep, copy)
    shutil.rmtree(copy / "divisor=1,seed=1,train.epochs=2")
    for f in ("summary.md", "summary.csv", "loss.png"):
        (copy / f).unlink()
    p = run_cli(["report", str(copy)], cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "- divisor=1,seed=1,train.epochs=2\n  - MISSING: no metrics.json" in p.stdout
    assert "| divisor=1,train.epochs=2 | 1 |" in p.stdout
    assert "MISSING" in (copy / "summary.md").read_text()
    assert len(list(csv.DictReader((copy / "summary.csv").open()))) == 3 and (copy / "loss.png").is_file()


def test_report_on_a_directory_without_runs(tmp_path):
    p = run_cli(["report", str(tmp_path)], cwd=tmp_path)
    assert p.returncode == 1 and "no run with a metrics.json" in p.stderr


def test_per_layer_columns_come_from_the_runs_layers():
    from scalediag.explain.chain import Diagnosis
    from scalediag.explain.report import row, run_layers

    diag = {"update/fc1/ratio": 1e-3, "update/fc2/ratio": 2e-3, "update/fc10/ratio": 3e-3}
    run = {"dir": "d", "status": "completed", "config": {"seed": 0, "divisor": 255, "loss": {"name": "x"},
                                                        "model": {"init": "keras"}, "optimizer": {"eps": 1e-7}},
           "history": [{"epoch": 1, "seconds": 1.0, "diag": diag}]}
    diag.update({"act/fc1/dead_fraction": 0.1, "act/fc2/dead_fraction": 0.2})
    layers = run_layers([run])
    assert layers == (["fc1", "fc2", "fc10"], ["fc1", "fc2"])
    r = row(run, Diagnosis("healthy", []), layers)
    assert (r["update_ratio_fc1"], r["update_ratio_fc2"], r["update_ratio_fc10"]) == (1e-3, 2e-3, 3e-3)
    assert (r["dead_fraction_fc1"], r["dead_fraction_fc2"]) == (0.1, 0.2) and "dead_fraction_fc10" not in r


def _final_run(divisor, eps, seed=0, loss=0.3):
    return {"status": "completed", "config": {"divisor": divisor, "seed": seed, "optimizer": {"eps": eps}},
            "final": {"train_loss": loss, "test_loss": loss + 0.05}}


def test_the_sweep_pictures_are_written_only_when_their_keys_vary(tmp_path):
    from scalediag.explain.plots import write_sweep_plots

    def written(runs):
        out = tmp_path / str(len(list(tmp_path.iterdir())))
        out.mkdir()
        names = write_sweep_plots(runs, [""] * len(runs), [""] * len(runs), out)
        assert sorted(names) == sorted(p.name for p in out.iterdir())
        assert all((out / n).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for n in names)
        return sorted(names)

    both = [_final_run(d, e, s, 0.3 + d / 1e4 + e) for d in (1, 255, 1000) for e in (1e-7, 1.0) for s in (0, 1)]
    assert written(both) == ["divisor.png", "divisor_eps.png"]
    assert written([r for r in both if r["config"]["optimizer"]["eps"] == 1.0]) == ["divisor.png"]
    assert written([r for r in both if r["config"]["divisor"] == 255]) == []  # only eps varies
    assert written([_final_run(255, 1e-7, s) for s in (0, 1, 2)]) == []  # only the seed


def test_the_report_fixture_sweep_draws_the_divisor_but_not_the_heatmap(sweep):
    sweep, _ = sweep
    md = (sweep / "summary.md").read_text()
    assert (sweep / "divisor.png").is_file() and "![divisor.png](divisor.png)" in md
    assert not (sweep / "divisor_eps.png").exists() and "Adam's epsilon" not in md


def test_a_sweep_with_the_question_s_divisor_1_opens_with_the_answer():
    from scalediag.explain.question import answer

    def run(loss, train, test, clipped=None):
        diag = {"probs/clipped_fraction": clipped} if clipped is not None else {}
        return {"status": "completed", "experiment": {"divisor": 1, "seed": 0}, "schema": 2,
                "config": {"loss": {"name": loss, "clip_eps": 1e-7}}, "history": [{"diag": diag}],
                "final": {"train_loss": train, "test_loss": test}}

    clamped, exact = run("keras_clipped", 12.906, 12.921, clipped=0.8), run("cross_entropy", 0.507, 0.566)
    first, second = answer([clamped, exact])
    assert first.startswith("The question's 12.9: the raw pixels (divisor 1) with Keras' clamped loss end at "
                            "training loss 12.906, test loss 12.921 (mean of 1 run(s)): 80% of the training samples sit at the clamp, "
                            "p_true < 1e-7, each costing -ln(1e-7) = 16.118")
    assert "0.800 x 16.118 = 12.894" in first  # the plateau from the clipped fraction alone
    assert second.startswith("With the exact cross-entropy the same raw pixels end at training loss 0.507")
    assert answer([clamped])[1].startswith("Add loss=cross_entropy,keras_clipped")
    assert answer([exact]) == [] and answer([{**clamped, "experiment": {"divisor": 255, "seed": 0}}]) == []


def test_per_epoch_plots_order_legends_by_number_tick_whole_epochs_and_keep_negatives_linear(monkeypatch):
    """Legends 1, 255, 1000 (not 1, 1000, 255); ticks on whole epochs; a loss below 0 on a linear axis."""
    from scalediag.explain import plots

    drawn = {}
    monkeypatch.setattr(plots, "_save", lambda fig, path: drawn.setdefault(path.name, fig) and path.name)
    runs = [{"init": None, "history": [{"epoch": e, "train_loss": -e / d, "test_loss": 1.0 / (e * d)}
                                       for e in (1, 2, 3)]} for d in (1000, 1, 255)]
    plots.write_plots(runs, ["divisor=1000", "divisor=1", "divisor=255"], Path("."), ([], []))
    train, test = drawn["loss.png"].axes
    assert [t.get_text() for t in train.get_legend().get_texts()] == ["divisor=1", "divisor=255", "divisor=1000"]
    assert (train.get_yscale(), test.get_yscale()) == ("linear", "log")
    assert train.get_xlabel() == "epoch" and all(float(t).is_integer() for t in train.get_xticks())
