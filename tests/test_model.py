import math

import torch

from scalediag.model import MLP, build_model


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
