import copy

import pytest
import torch

from conftest import DEVICES
from scalediag.losses import cross_entropy
from scalediag.model import build_model
from scalediag.optim import FusedAdamStep


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
