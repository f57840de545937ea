import math

import pytest
import torch

from scalediag.run.model import MLP, build_model


def test_forward_shape_and_layers():
    model = build_model(128, "keras")
    assert model(torch.zeros(5, 28, 28)).shape == (5, 10)
    assert [type(m).__name__ for m in model.children()] == ["Flatten", "Linear", "ReLU", "Linear"]
    assert model.relu.inplace is False
    assert model.fc1.weight.shape == (128, 784) and model.fc2.weight.shape == (10, 128)


def test_keras_init_is_glorot_uniform_with_zero_biases():
    torch.manual_seed(0)
    model = build_model(128, "keras")
    for layer, (fan_in, fan_out) in ((model.fc1, (784, 128)), (model.fc2, (128, 10))):
        limit = math.sqrt(6 / (fan_in + fan_out))
        w = layer.weight.detach()
        assert w.abs().max() <= limit
        assert w.abs().max() > 0.98 * limit  # uniform fills its whole range
        assert abs(w.std().item() - limit / math.sqrt(3)) < 0.05 * limit / math.sqrt(3)
        assert abs(w.mean().item()) < 4 * limit / math.sqrt(3 * w.numel())  # 4 standard errors
        assert torch.count_nonzero(layer.bias) == 0


def test_torch_init_is_uniform_one_over_sqrt_fan_in_with_nonzero_biases():
    torch.manual_seed(0)
    model = build_model(128, "torch")
    for layer, fan_in in ((model.fc1, 784), (model.fc2, 128)):
        bound = 1 / math.sqrt(fan_in)
        w, b = layer.weight.detach(), layer.bias.detach()
        assert w.abs().max() <= bound and b.abs().max() <= bound
        assert abs(w.std().item() - bound / math.sqrt(3)) < 0.05 * bound / math.sqrt(3)
        assert torch.count_nonzero(b) == b.numel()


def test_same_seed_same_weights():
    torch.manual_seed(3)
    a = build_model(16, "keras")
    torch.manual_seed(3)
    b = build_model(16, "keras")
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


def test_model_holds_no_hooks():
    model = MLP(8)
    assert all(not m._forward_hooks and not m._backward_hooks for m in model.modules())


def test_two_hidden_layers_mirror_keras_s_layer_list_with_glorot_init():
    torch.manual_seed(0)
    model = build_model([256, 128], "keras", "tanh")
    assert [(n, type(m).__name__) for n, m in model.named_children()] == [
        ("flatten", "Flatten"), ("fc1", "Linear"), ("tanh", "Tanh"), ("fc2", "Linear"), ("tanh2", "Tanh"),
        ("fc3", "Linear")]
    assert [tuple(m.weight.shape) for m in (model.fc1, model.fc2, model.fc3)] == [(256, 784), (128, 256), (10, 128)]
    for layer in (model.fc1, model.fc2, model.fc3):
        fan_out, fan_in = layer.weight.shape
        limit = math.sqrt(6 / (fan_in + fan_out))
        assert layer.weight.abs().max() <= limit and abs(layer.weight.std().item() - limit / math.sqrt(3)) < 0.05 * limit
        assert torch.count_nonzero(layer.bias) == 0
    assert model(torch.zeros(3, 28, 28)).shape == (3, 10)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "gelu", "tanh", "sigmoid"])
def test_each_activation_builds_and_trains_on_the_small_idx_data(activation, fake_root, tmp_path):
    from conftest import compose_cfg, fake_overrides
    from scalediag.run.train import run

    cfg = compose_cfg([*fake_overrides(fake_root), f"model.activation={activation}", "train.epochs=3",
                       "model.hidden=[32,16]", "diag.every_n_steps=4"])
    metrics = run(cfg, tmp_path, name=activation)
    losses = [h["train_loss"] for h in metrics["history"]]
    assert metrics["status"] == "completed" and losses[-1] < losses[0]
    diag = metrics["history"][-1]["diag"]
    assert {"act/fc1/dead_fraction", "act/fc2/saturated_fraction", "act/fc2/preact_std"} <= set(diag)
    assert "act/fc3/preact_std" not in diag  # the output layer has no activation
