import copy

import pytest
import torch

from conftest import DEVICES
from scalediag.run.losses import cross_entropy
from scalediag.run.model import build_model
from scalediag.run.optim import FusedAdamStep


def _pair(device, **adam):
    """Two identical models, each with its own Adam (fused unless adam says otherwise)."""
    torch.manual_seed(0)
    model = build_model(128, "keras").to(device)
    twin = copy.deepcopy(model)
    adam = {"lr": 1e-3, "eps": 1e-7, "fused": True, **adam}
    return (model, torch.optim.Adam(model.parameters(), **adam)), (twin, torch.optim.Adam(twin.parameters(), **adam))


def _batches(device, n):
    gen = torch.Generator().manual_seed(1)
    # pixels 0..255 undivided: many ReLUs die, so some gradients are exactly zero, as in the question's divisor 1
    return [(torch.randint(0, 256, (32, 28, 28), generator=gen).float().to(device),
             torch.randint(0, 10, (32,), generator=gen).to(device)) for _ in range(n)]


def _train(model, step, zero_grad, batches):
    for x, y in batches:
        zero_grad()
        cross_entropy(model(x), y).mean().backward()
        step()


def _same(a, b):
    (model_a, opt_a), (model_b, opt_b) = a, b
    assert all(torch.equal(p, q) for p, q in zip(model_a.parameters(), model_b.parameters()))
    sa, sb = opt_a.state_dict()["state"], opt_b.state_dict()["state"]
    assert sa.keys() == sb.keys() and len(sa) == 4
    for i in sa:
        assert all(torch.equal(sa[i][k], sb[i][k]) for k in ("step", "exp_avg", "exp_avg_sq")), i


@pytest.mark.parametrize("device", DEVICES)
def test_the_direct_kernel_call_gives_optimizer_step_bit_for_bit(device):
    reference, fast = _pair(device)
    batches = _batches(device, 6)
    _train(reference[0], reference[1].step, lambda: reference[1].zero_grad(set_to_none=True), batches)
    stepper = FusedAdamStep(fast[1])
    assert stepper.direct
    _train(fast[0], stepper, stepper.zero_grad, batches[:1])  # creates Adam's state through optimizer.step()
    fast[1].step = None  # from here on, a fallback to optimizer.step() would raise
    _train(fast[0], stepper, stepper.zero_grad, batches[1:])
    _same(reference, fast)


def test_after_load_state_dict_it_steps_the_loaded_state():
    reference, fast = _pair("cpu")
    batches = _batches("cpu", 4)
    _train(reference[0], reference[1].step, reference[1].zero_grad, batches)
    stepper = FusedAdamStep(fast[1])
    _train(fast[0], stepper, stepper.zero_grad, batches[:2])
    fast[1].load_state_dict(copy.deepcopy(fast[1].state_dict()))  # new state tensors, as a resumed run has
    _train(fast[0], stepper, stepper.zero_grad, batches[2:])
    _same(reference, fast)


@pytest.mark.parametrize("adam", [{"fused": False}, {"amsgrad": True}, {"weight_decay": 0.1}])
def test_cases_the_kernel_call_does_not_cover_go_through_optimizer_step(adam):
    reference, fast = _pair("cpu", **adam)
    batches = _batches("cpu", 3)
    _train(reference[0], reference[1].step, reference[1].zero_grad, batches)
    stepper = FusedAdamStep(fast[1])
    assert not stepper.direct
    _train(fast[0], stepper, stepper.zero_grad, batches)
    _same(reference, fast)


def test_a_parameter_without_gradient_goes_through_optimizer_step():
    (model, opt), _ = _pair("cpu")
    stepper = FusedAdamStep(opt)
    x, y = _batches("cpu", 1)[0]
    _train(model, stepper, stepper.zero_grad, [(x, y)])
    model.fc2.bias.requires_grad_(False)  # its grad stays None
    calls = []
    opt.step = lambda: calls.append(1)
    _train(model, stepper, stepper.zero_grad, [(x, y)])
    assert calls == [1]


def _keras_reference(grads, lr, b1, b2, eps):
    """Keras's Adam in float64, step by step: w -= lr sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v) + eps), from w = 0."""
    w, m, v, out = 0, 0, 0, []
    for t, g in enumerate(grads, start=1):
        g = g.double()
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        w = w - lr * (1 - b2 ** t) ** 0.5 / (1 - b1 ** t) * m / (v.sqrt() + eps)
        out.append(w)
    return out


@pytest.mark.parametrize("eps", [1e-7, 1e-2, 1.0])
@pytest.mark.parametrize("direct", [False, True], ids=["optimizer.step", "direct kernel call"])
def test_keras_adam_follows_keras_s_formula_step_by_step(eps, direct):
    """200 steps of gradients from 1e-4 to 1 in size (eps above some sqrt(v), below others), float32 against the
    float64 formula: the weights' relative error stays below 1e-5 at every step."""
    from scalediag.run.optim import KerasAdam

    gen = torch.Generator().manual_seed(0)
    scale = 10.0 ** torch.linspace(-4, 0, 64)
    grads = [torch.randn(64, generator=gen) * scale for _ in range(200)]
    w = torch.zeros(64, requires_grad=True)
    opt = KerasAdam([w], lr=1e-3, betas=[0.9, 0.999], eps=eps)
    step = FusedAdamStep(opt) if direct else opt.step
    for g, expected in zip(grads, _keras_reference(grads, 1e-3, 0.9, 0.999, eps)):
        w.grad = g.clone()
        step()
        error = (w.detach().double() - expected).norm() / expected.norm()
        assert error < 1e-5
    assert opt.param_groups[0]["keras_step"] == 200


def test_keras_and_torch_adam_are_identical_at_eps_zero():
    """Bit for bit, through the direct kernel call, over gradients that are never exactly zero (0/0 is NaN for both)."""
    from scalediag.run.optim import KerasAdam, torch_adam

    gen = torch.Generator().manual_seed(0)
    grads = [torch.randn(256, generator=gen) for _ in range(50)]
    weights = []
    for make in (KerasAdam, torch_adam):
        w = torch.zeros(256, requires_grad=True)
        stepper = FusedAdamStep(make([w], lr=1e-3, betas=[0.9, 0.999], eps=0.0))
        for g in grads:
            w.grad = g.clone()
            stepper()
        weights.append(w.detach())
    assert torch.equal(*weights) and weights[0].abs().min() > 0


def test_keras_adam_differs_from_torch_s_where_eps_matters():
    from scalediag.run.optim import KerasAdam, torch_adam

    batches = _batches("cpu", 5)
    weights = []
    for make in (KerasAdam, torch_adam):
        torch.manual_seed(0)
        model = build_model(128, "keras")
        opt = make(model.parameters(), lr=1e-3, betas=[0.9, 0.999], eps=1.0)
        _train(model, opt.step, opt.zero_grad, batches)
        weights.append(model.fc1.weight.detach().clone())
    assert not torch.allclose(*weights, rtol=1e-3, atol=0)


def test_keras_adam_resumes_its_step_count_from_a_state_dict():
    from scalediag.run.optim import KerasAdam

    batches = _batches("cpu", 6)
    torch.manual_seed(0)
    model = build_model(128, "keras")
    twin = copy.deepcopy(model)
    whole = KerasAdam(model.parameters(), lr=1e-3, betas=[0.9, 0.999], eps=1e-2)
    _train(model, whole.step, whole.zero_grad, batches)
    first = KerasAdam(twin.parameters(), lr=1e-3, betas=[0.9, 0.999], eps=1e-2)
    _train(twin, first.step, first.zero_grad, batches[:3])
    resumed = KerasAdam(twin.parameters(), lr=1e-3, betas=[0.9, 0.999], eps=1e-2)
    resumed.load_state_dict(copy.deepcopy(first.state_dict()))
    assert resumed.param_groups[0]["keras_step"] == 3
    stepper = FusedAdamStep(resumed)
    _train(twin, stepper, stepper.zero_grad, batches[3:])
    _same((model, whole), (twin, resumed))


def test_keras_adam_does_not_load_torch_s_compiler():
    """Constructing a torch.optim.Optimizer imports torch._dynamo, 0.85 s of every run's start-up; KerasAdam's own
    class does not."""
    import subprocess
    import sys

    code = ("import sys, torch; from scalediag.run.optim import KerasAdam; w = torch.zeros(3, requires_grad=True); "
            "opt = KerasAdam([w], lr=1e-3, betas=[0.9, 0.999], eps=1e-7); w.grad = torch.ones(3); opt.step(); "
            "opt.load_state_dict(opt.state_dict()); print('torch._dynamo' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"
