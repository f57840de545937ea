"""metrics.json is one record type, versioned: the Hydra app's runs and watched runs write it through record.Record
(the question's divisor and seed in an experiment block of their own, on the Hydra app's runs only); a record of
the first version is read in the current layout; one of a schema this scalediag does not know is refused in one line."""

import json

import pytest
import torch
from torch import nn

import scalediag
from conftest import compose_cfg, fake_overrides
from scalediag.record import SCHEMA, RecordError, experiment, read
from scalediag.run.train import run


def _watched(out):
    torch.manual_seed(0)
    x, y = torch.randn(64, 8), torch.randint(0, 3, (64,))
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with scalediag.watch(model, opt, out, probe=(x[:32], y[:32])) as w:
        for i in range(0, 64, 16):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[i : i + 16]), y[i : i + 16]).backward()
            opt.step()
        w.epoch_end(train_loss=1.0)
    return read(out / "metrics.json")


def test_the_hydra_app_and_watch_write_the_same_record_type(fake_root, tmp_path):
    run(compose_cfg([*fake_overrides(fake_root), "train.epochs=1", "divisor=255", "seed=3"]), tmp_path / "app")
    app, watched = read(tmp_path / "app" / "metrics.json"), _watched(tmp_path / "watched")
    assert (app["schema"], app["kind"], app["experiment"]) == (SCHEMA, "experiment", {"divisor": 255.0, "seed": 3})
    assert (watched["schema"], watched["kind"], watched["experiment"]) == (SCHEMA, "watched", None)
    assert "divisor" not in watched["config"] and "seed" not in watched["config"]  # nothing faked
    shared = {"schema", "kind", "status", "name", "config", "experiment", "init", "early", "history", "final",
              "device", "threads", "versions", "host", "pid"}
    assert shared <= set(app) and shared <= set(watched)
    # written as open() would write them (mkstemp's 0600 kept another user's TensorBoard out)
    from scalediag.files import FILE_MODE

    for path in (tmp_path / "app" / "metrics.json", tmp_path / "app" / "checkpoint.pt", tmp_path / "watched" /
                 "metrics.json"):
        assert path.stat().st_mode & 0o777 == FILE_MODE, path


def _v1(tmp_path, divisor):
    record = {"status": "completed", "name": "old", "history": [], "final": None,
              "config": {"divisor": divisor, "seed": None if divisor is None else 0, "loss": {"name": "cross_entropy"},
                         "model": {}, "optimizer": {"lr": 1e-3}}}
    path = tmp_path / f"{divisor}.json"
    path.write_text(json.dumps(record))
    return path


def test_a_first_version_record_is_read_in_the_current_layout(tmp_path):
    watched, app = read(_v1(tmp_path, None)), read(_v1(tmp_path, 255))
    assert (watched["kind"], watched["experiment"], watched["schema"]) == ("watched", None, SCHEMA)
    assert "divisor" not in watched["config"] and "seed" not in watched["config"]
    assert (app["kind"], app["experiment"]) == ("experiment", {"divisor": 255, "seed": 0})
    # a record built by hand in the first layout (the tests' crafted records) answers the same
    assert experiment(json.loads(_v1(tmp_path, 255).read_text())) == {"divisor": 255, "seed": 0}


@pytest.mark.parametrize("change, said", [({"schema": 3}, "record schema 3; this one reads 1 to 2"),
                                          ({"schema": 2, "kind": "other"}, "kind 'other' is none of"),
                                          ({"schema": 2, "kind": "experiment", "experiment": {}},
                                           "without experiment.divisor, experiment.seed")])
def test_a_record_of_an_unknown_layout_is_refused_in_one_line(tmp_path, change, said):
    path = _v1(tmp_path, None)
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    with pytest.raises(RecordError, match=said.replace("(", r"\(")) as e:
        read(path)
    assert "\n" not in str(e.value)
