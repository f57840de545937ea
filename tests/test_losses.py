import math

import pytest
import torch

from scalediag.run.losses import KERAS_EPSILON, cross_entropy, keras_clipped


def test_keras_clipped_equals_cross_entropy_when_nothing_is_clamped():
    torch.manual_seed(0)
    logits = torch.randn(64, 10, dtype=torch.float64) * 2  # probabilities well inside [1e-7, 1 - 1e-7]
    target = torch.randint(0, 10, (64,))
    torch.testing.assert_close(keras_clipped(logits, target), cross_entropy(logits, target), rtol=1e-12, atol=1e-12)


def test_keras_clipped_gradients_match_cross_entropy_when_nothing_is_clamped():
    torch.manual_seed(1)
    a = (torch.randn(16, 10, dtype=torch.float64)).requires_grad_()
    b = a.detach().clone().requires_grad_()
    target = torch.randint(0, 10, (16,))
    keras_clipped(a, target).mean().backward()
    cross_entropy(b, target).mean().backward()
    torch.testing.assert_close(a.grad, b.grad)


def test_a_clamped_sample_has_zero_gradient_and_loss_minus_ln_eps():
    logits = torch.tensor([[0.0, 40.0, 0.0, 0, 0, 0, 0, 0, 0, 0],  # p_true = e^-40 < 1e-7: clamped
                           [1.0, 0.5, 0.0, 0, 0, 0, 0, 0, 0, 0]], requires_grad=True)
    target = torch.tensor([0, 0])
    loss = keras_clipped(logits, target)
    assert loss[0].item() == torch.tensor(-math.log(KERAS_EPSILON), dtype=torch.float32).item()
    assert abs(loss[0].item() - 16.118) < 1e-3
    loss.sum().backward()
    assert torch.count_nonzero(logits.grad[0]) == 0
    assert torch.count_nonzero(logits.grad[1]) == 10
    # exact cross-entropy still pushes the same sample hard
    exact = logits.detach().clone().requires_grad_()
    cross_entropy(exact, target)[0].backward()
    assert exact.grad[0].abs().max() > 0.99


def test_a_saturated_correct_sample_is_clamped_from_above():
    logits = torch.tensor([[40.0] + [0.0] * 9], requires_grad=True)
    loss = keras_clipped(logits, torch.tensor([0]))
    assert 0 < loss.item() < 2e-7  # -ln(1 - 1e-7), 1 - 1e-7 rounded to float32
    loss.backward()
    assert torch.count_nonzero(logits.grad) == 0


@pytest.mark.parametrize("loss", [cross_entropy, keras_clipped])
def test_mean_and_sum_reductions_agree_with_the_per_sample_losses(loss):
    torch.manual_seed(2)
    logits, target = torch.randn(32, 10) * 30, torch.randint(0, 10, (32,))  # some samples at Keras' clamp
    per_sample = loss(logits, target)
    assert per_sample.shape == (32,)
    torch.testing.assert_close(loss(logits, target, reduction="mean"), per_sample.mean())
    torch.testing.assert_close(loss(logits, target, reduction="sum"), per_sample.sum())
