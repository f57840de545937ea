"""Each statistic on hand-built tensors and a hand-built model whose numbers are known exactly."""

import math

import pytest
import torch

from scalediag.measure.hooks import Capture, Diagnostics
from scalediag.measure.stats import dead_fraction, logit_stats, prob_fractions
from scalediag.run.model import MLP


def test_dead_fraction_counts_units_zero_for_every_sample():
    act = torch.tensor([[0.0, 1.0, 0.0, 0.0],
                        [0.0, 0.0, 2.0, 0.0],
                        [0.0, 3.0, 0.0, 0.0]])
    assert dead_fraction(act).item() == 0.5  # units 0 and 3


def test_logit_range_std_and_margin():
    logits = torch.tensor([[3.0, 1.0, 0.0], [5.0, 5.0, -4.0]])
    s = logit_stats(logits)
    assert s["min"].item() == -4.0 and s["max"].item() == 5.0
    assert s["margin"].item() == 1.0  # (3 - 1 + 5 - 5) / 2
    assert s["std"].item() == pytest.approx(torch.tensor([3.0, 1, 0, 5, 5, -4]).std().item())


def test_clipped_and_saturated_fractions():
    logits = torch.zeros(4, 10)
    logits[0, 3] = 40.0  # true class 0 has p = e^-40 / ... < 1e-7: clipped; p_max ~ 1 - 9e-17: saturated
    logits[1, 1] = 15.0  # p_true(1) = 1/(1 + 9 e^-15) ~ 1 - 2.7e-6: neither
    logits[2, 0] = -17.0  # p_true(0) = e^-17 / 9 = 4.6e-9: clipped, not saturated
    target = torch.tensor([0, 1, 0, 5])  # sample 3: uniform, p = 0.1
    f = prob_fractions(logits, target, 1e-7)
    assert f["clipped_fraction"].item() == 0.5
    assert f["saturated_fraction"].item() == 0.25


def _tiny_model():
    torch.manual_seed(0)
    model = MLP(hidden=4, n_in=3, n_out=3)
    with torch.no_grad():
        model.fc1.weight.copy_(torch.tensor([[1.0, 0, 0], [-1, -1, -1], [0, 1, 0], [0.5, -0.5, 0.25]]))
        model.fc1.bias.zero_()
        model.fc2.weight.copy_(torch.tensor([[1.0, 0, 1, 0], [0, 1, 0, -1], [-1, 0.5, 0, 2]]))
        model.fc2.bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
    return model


X = torch.tensor([[[1.0, 2.0, 0.0]], [[0.5, 0.0, 3.0]]])  # [2, 1, 3], nonnegative like pixels
Y = torch.tensor([2, 0])


def test_step_statistics_match_autograd_and_the_applied_step():
    model = _tiny_model()
    reference = _tiny_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with Diagnostics(model) as diag:
        diag.arm(Y)
        loss = torch.nn.functional.cross_entropy(model(X), Y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        stats = diag.statistics(diag.collect())
    # the same numbers by hand, on an identical model without hooks
    h = reference.fc1(reference.flatten(X))
    h.retain_grad()
    logits = reference.fc2(reference.relu(h))
    logits.retain_grad()
    ref_loss = torch.nn.functional.cross_entropy(logits, Y)
    ref_loss.backward()
    assert stats["grad/fc1/norm"].item() == pytest.approx(reference.fc1.weight.grad.norm().item())
    assert stats["grad/fc2/norm"].item() == pytest.approx(reference.fc2.weight.grad.norm().item())
    assert stats["grad/fc1/output_rms"].item() == pytest.approx(h.grad.pow(2).mean().sqrt().item())
    assert stats["grad/fc2/output_rms"].item() == pytest.approx(logits.grad.pow(2).mean().sqrt().item())
    for name in ("fc1", "fc2"):  # SGD: delta w = -lr * grad; relative to the weights after the step
        w1, g = getattr(model, name).weight, getattr(reference, name).weight.grad
        expected = 0.1 * g.norm().item() / w1.norm().item()
        assert stats[f"update/{name}/ratio"].item() == pytest.approx(expected, rel=1e-5)
        assert stats[f"weights/{name}/norm"].item() == pytest.approx(getattr(model, name).weight.norm().item())
    # h = [[1, -3, 2, -0.5], [0.5, -3.5, 0, 1]]: unit 1 is dead for both samples, unit 2 and 3 for one each
    assert stats["act/fc1/dead_fraction_batch"].item() == 0.25
    assert stats["act/fc1/preact_max_abs"].item() == 3.5
    assert stats["act/fc1/preact_mean"].item() == pytest.approx(h.mean().item())
    assert stats["logits/max"].item() == pytest.approx(logits.max().item())
    assert stats["probs/clipped_fraction"].item() == 0.0
    assert not diag.handles and all(not m._forward_hooks for m in model.modules())  # detached after collect


def test_unarmed_steps_record_nothing_and_probe_measures_the_dead_fraction():
    model = _tiny_model()
    with Diagnostics(model) as diag:
        model(X).sum().backward()
        assert diag.seen == {} and not model.fc1._forward_hooks  # nothing attached between logging steps
        stats, hists = diag.probe(X, Y)
    assert stats["act/fc1/dead_fraction"].item() == 0.25
    assert "act/fc1/dead_fraction_batch" not in stats
    assert set(hists) == {"act/fc1/preact", "logits", "weights/fc1", "bias/fc1", "weights/fc2", "bias/fc2"}
    assert model.training  # probe restores the mode


def test_the_clamp_shows_for_unscaled_inputs():
    torch.manual_seed(0)
    from scalediag.run.model import build_model

    model = build_model(128, "keras")
    x = torch.full((8, 28, 28), 200.0)  # raw pixels, divisor 1
    with Diagnostics(model) as diag:
        stats, _ = diag.probe(x, torch.arange(8))
    assert stats["act/fc1/preact_std"].item() > 50
    assert stats["probs/clipped_fraction"].item() > 0.5
    assert math.isfinite(stats["logits/max"].item())


def test_exit_removes_hooks_of_an_armed_step_that_never_collected():
    model = _tiny_model()
    with Diagnostics(model) as diag:
        diag.arm(Y)
        assert any(m._forward_hooks for m in model.modules())  # armed: hooks on the activation and the output
    assert not any(m._forward_hooks for m in model.modules()) and not diag.armed


def test_statistics_of_stacked_captures_equal_those_of_each_capture():
    """What StepMonitor computes once per epoch over n captured steps, each step's values as if computed alone."""
    torch.manual_seed(0)
    model = MLP(hidden=16, n_in=12, n_out=5)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    captures = []
    with Diagnostics(model) as diag:
        for _ in range(4):
            x, y = torch.randn(8, 12) * 3, torch.randint(0, 5, (8,))
            diag.arm(y)
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            c = diag.collect()
            captures.append(Capture(c.norm_tags, {k: v.clone() for k, v in c.tensors.items()}))
        alone = [diag.statistics(c) for c in captures]
        stacked = diag.statistics(Capture(captures[0].norm_tags, {k: torch.stack([c.tensors[k] for c in captures])
                                                                  for k in captures[0].tensors}))
    # 20, the saturated share, the logits' sum_dev, exact zeros and most-predicted class with its share
    assert set(stacked) == set(alone[0]) and len(stacked) == 25
    for tag, values in stacked.items():
        assert values.shape == (4,), tag
        assert values.tolist() == pytest.approx([a[tag].item() for a in alone], rel=1e-6, abs=1e-7), tag


def test_eps_dominance_on_known_values():
    from scalediag.measure.stats import eps_dominance

    found = eps_dominance(torch.tensor([[1e-9, 1e-3], [0.5, 2.0]]), eps=1e-2)
    assert found["eps_fraction"].item() == 0.5  # 1e-9 and 1e-3 are below eps
    assert found["sqrt_v_median"].item() == pytest.approx(1e-3)  # torch's median: the lower of the middle two


@pytest.mark.parametrize("convention", ["keras", "torch"])
def test_adam_state_statistics_on_a_hand_built_state(convention):
    """exp_avg_sq set by hand, step 10, b2 0.9: Keras compares sqrt(v) with eps, torch sqrt(v) / sqrt(1 - 0.9^10)."""
    from scalediag.run.optim import KerasAdam, torch_adam

    model = _tiny_model()
    make = KerasAdam if convention == "keras" else torch_adam
    opt = make(model.parameters(), lr=1e-3, betas=[0.9, 0.9], eps=0.1)
    sqrt_v = torch.tensor([0.01, 0.05, 0.09, 0.2] * 3).reshape(4, 3)  # fc1's weight is [4, 3]
    for p in model.parameters():
        opt.state[p] = {"step": torch.tensor(10.0), "exp_avg": torch.zeros_like(p), "exp_avg_sq": torch.zeros_like(p)}
    opt.state[model.fc1.weight]["exp_avg_sq"] = sqrt_v ** 2
    with Diagnostics(model) as diag:
        stats = diag.adam(opt)
    scale = 1.0 if convention == "keras" else math.sqrt(1 - 0.9 ** 10)  # 0.808: 0.09 / 0.808 = 0.111 > eps
    assert stats["adam/fc1/eps_fraction"].item() == (0.75 if convention == "keras" else 0.5)
    assert stats["adam/fc1/sqrt_v_median"].item() == pytest.approx(0.05 / scale)
    assert stats["adam/fc2/eps_fraction"].item() == 1.0  # v = 0: eps is all there is
    with Diagnostics(_tiny_model()) as diag:
        assert diag.adam(make(diag.model.parameters(), lr=1e-3, betas=[0.9, 0.9], eps=0.1)) == {}  # no step yet


def test_saturated_and_dead_fractions_on_known_pre_activations():
    """Saturated: the derivative below 1% of its maximum, i.e. relu z <= 0, tanh |z| > 2.993, sigmoid |z| > 5.986.
    Dead: a unit saturated for every sample."""
    from scalediag.measure.stats import saturated_fraction

    z = torch.tensor([[-1.0, 0.5, 3.0, -7.0],
                      [-2.0, -0.1, 3.5, 6.5],
                      [0.0, 0.2, -4.0, -6.1]])  # [3 samples, 4 units]
    expected = {  # activation: (saturated pairs of the 12, dead units of the 4)
        "relu": (7 / 12, 1 / 4),  # z <= 0 in 7 pairs; unit 0 for every sample
        "tanh": (6 / 12, 2 / 4),  # |z| > 2.993: units 2 and 3, for every sample
        "sigmoid": (3 / 12, 1 / 4),  # |z| > 5.986: unit 3, for every sample
        "leaky_relu": (0.0, 0.0),  # its slope never falls below 1% of its maximum
        "elu": (2 / 12, 0.0),  # exp(z) < 1%: z < -4.605, at -7 and -6.1
        "silu": (1 / 12, 0.0),  # |silu'| < 1% of its 1.100: at -7 (-0.0055), not at -6.1 (-0.0114) nor -4 (-0.053)
    }
    for activation, (pairs, units) in expected.items():
        assert saturated_fraction(z, activation).item() == pytest.approx(pairs), activation
        assert dead_fraction(z, activation).item() == pytest.approx(units), activation
    assert dead_fraction(z) == dead_fraction(z, "relu")  # relu is the default


def test_gelu_saturates_far_left_only():
    from scalediag.measure.stats import saturated_fraction

    z = torch.tensor([[-6.0, -3.5, 0.0, 2.0, 6.0]])
    assert saturated_fraction(z, "gelu").item() == pytest.approx(2 / 5)  # gelu'(-3.5) = -0.0036: below 1% of 1.129
