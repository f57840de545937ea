import math

import pytest

from conftest import compose_cfg, fake_overrides
from scalediag.run.config import ConfigError, problems, validate


def test_defaults_compose_to_the_question_setting(tmp_path):
    cfg = compose_cfg([f"data.root={tmp_path}"])
    assert cfg.divisor == 255 and cfg.seed == 0 and cfg.device == "auto"
    assert cfg.loss.name == "cross_entropy"
    assert cfg.model.hidden == 128 and cfg.model.init == "keras"
    assert cfg.optimizer.lr == 1e-3 and list(cfg.optimizer.betas) == [0.9, 0.999] and cfg.optimizer.eps == 1e-7
    assert cfg.train.epochs == 5 and cfg.train.batch_size == 32
    assert cfg.data.train_limit is None and cfg.data.test_limit is None
    validate(cfg)


def test_loss_group_and_experiment_compose(tmp_path):
    cfg = compose_cfg([f"data.root={tmp_path}", "loss=keras_clipped", "model.init=torch", "optimizer.eps=1e-8"])
    assert cfg.loss.name == "keras_clipped" and cfg.loss.clip_eps == 1e-7
    assert cfg.model.init == "torch" and cfg.optimizer.eps == 1e-8
    validate(cfg)
    exp = compose_cfg(["+experiment=question"])
    assert exp.loss.name == "keras_clipped"


BAD = [
    ("divisor=0", "divisor=0: must be a finite number > 0"),
    ("divisor=-255", "divisor=-255: must be a finite number > 0"),
    ("divisor=nan", "divisor=nan: must be a finite number > 0"),
    ("divisor=inf", "divisor=inf: must be a finite number > 0"),
    ("divisor=abc", "divisor='abc': must be a finite number > 0"),
    ("divisor=true", "divisor=True: must be a finite number > 0"),
    ("optimizer.eps=-1e-7", "optimizer.eps=-1e-07: must be a finite number >= 0"),
    ("optimizer.lr=0", "optimizer.lr=0: must be a finite number > 0"),
    ("optimizer.lr=-0.1", "optimizer.lr=-0.1: must be a finite number > 0"),
    ("train.epochs=0", "train.epochs=0: must be an integer >= 1"),
    ("train.epochs=2.5", "train.epochs=2.5: must be an integer >= 1"),
    ("train.batch_size=0", "train.batch_size=0: must be an integer >= 1"),
    ("train.batch_size=abc", "train.batch_size='abc': must be an integer >= 1"),
    ("data.train_limit=0", "data.train_limit=0: must be null (all samples) or an integer >= 1"),
    ("data.test_limit=-5", "data.test_limit=-5: must be null (all samples) or an integer >= 1"),
    ("model.hidden=0", "model.hidden=0: must be an integer >= 1 or a list of them, e.g. [256,128]"),
    ("model.init=he", "model.init='he': must be one of keras, torch, zeros, normal"),
    ("model.activation=swish", "model.activation='swish': must be one of relu, leaky_relu, gelu, tanh, sigmoid"),
    ("model.hidden=[256,0]", "model.hidden=[256, 0]: must be an integer >= 1 or a list of them, e.g. [256,128]"),
    ("model.hidden=[]", "model.hidden=[]: must be an integer >= 1 or a list of them, e.g. [256,128]"),
    ("model.hidden=[64,2.5]", "model.hidden=[64, 2.5]: must be an integer >= 1 or a list of them, e.g. [256,128]"),
    ("model.hidden=wide", "model.hidden='wide': must be an integer >= 1 or a list of them, e.g. [256,128]"),
    ("device=tpu", "device='tpu': must be one of auto, cpu, cuda"),
    ("loss.name=mse", "loss.name='mse': must be one of cross_entropy, keras_clipped"),
    ("seed=-1", "seed=-1: must be an integer >= 0"),
    ("train.threads=0", "train.threads=0: must be null (automatic) or an integer >= 1"),
    ("diag.every_n_steps=0", "diag.every_n_steps=0: must be an integer >= 1"),
    ("diag.probe_size=-1", "diag.probe_size=-1: must be an integer >= 1"),
    ("diag.enabled=maybe", "diag.enabled='maybe': must be true or false"),
    ("model.init_std=0", "model.init_std=0: must be a finite number > 0"),
    ("model.output=probabilities", "model.output='probabilities': must be one of logits, softmax"),
    ("data.label_noise=1", "data.label_noise=1: must be a number in [0, 1)"),
    ("data.label_noise=-0.1", "data.label_noise=-0.1: must be a number in [0, 1)"),
]


@pytest.mark.parametrize("override,message", BAD, ids=[b[0] for b in BAD])
def test_each_bad_value_gives_one_line_naming_key_value_and_rule(override, message, tmp_path):
    found = problems(compose_cfg([*fake_overrides(tmp_path), override]))
    assert found == [message]


def test_every_mistake_is_reported_not_only_the_first(tmp_path):
    with pytest.raises(ConfigError) as e:
        validate(compose_cfg([*fake_overrides(tmp_path), "divisor=0", "train.epochs=0", "model.hidden=0"]))
    assert len(e.value.problems) == 3


def test_data_root_that_is_a_file(tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("x")
    found = problems(compose_cfg([f"data.root={f}"]))
    assert found == [f"data.root='{f}': is a file, must be a directory that can be written"]


def test_data_root_that_cannot_be_written(tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("x")
    for root in (f / "below_a_file", "/proc/scalediag-cannot-write-here"):
        (found,) = problems(compose_cfg([f"data.root={root}"]))
        assert found.startswith(f"data.root='{root}': cannot be written (")


def test_cuda_where_there_is_none(tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    found = problems(compose_cfg([*fake_overrides(tmp_path), "device=cuda"]))
    assert len(found) == 1 and found[0].startswith("device='cuda': CUDA is not available here")


def test_nan_is_not_a_number_to_us():
    assert math.isnan(compose_cfg(["divisor=nan"]).divisor)
