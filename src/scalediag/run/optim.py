"""Adam as the question's Keras ran it and as torch runs it, and its update called without Optimizer.step's Python
around the kernel.

The two differ only in where eps goes. Keras (and the original paper's "efficient" form):
    w -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)
torch:
    w -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
so Keras's update is torch's with eps_t = eps / sqrt(1 - b2^t) at step t: about 32x eps at step 1 (b2 = 0.999),
fading over some thousand steps. KerasAdam runs torch's fused kernel with that eps_t, computed on the host from a
step count kept there (no sync).
"""

from __future__ import annotations

import math

import torch


def _fused(params: list[torch.Tensor]) -> bool:
    # fused Adam: one kernel for all parameters (measured 1.35 -> 1.02 s/epoch on CPU); same update rule as Adam
    return params[0].device.type in ("cpu", "cuda")


def torch_adam(params, lr: float, betas, eps: float) -> torch.optim.Adam:
    """conf/optimizer/torch.yaml's _target_: torch.optim.Adam, eps added to the bias-corrected sqrt(v_hat)."""
    params = list(params)
    return torch.optim.Adam(params, lr=lr, betas=tuple(betas), eps=eps, fused=_fused(params))


class KerasAdam:
    """conf/optimizer/keras.yaml's _target_: Keras's Adam, eps added to the uncorrected sqrt(v).

    Its own small class, not a torch.optim.Optimizer: constructing one of those imports torch's compiler stack
    (torch._dynamo, 0.85 s of every run's start-up here). The interface the loop, the checkpoints and the
    diagnostics use is torch's: param_groups, state[param] with "step", "exp_avg", "exp_avg_sq", step(),
    zero_grad(), state_dict() and load_state_dict() in torch's layout. The update is torch's fused Adam kernel with
    eps_t = eps / sqrt(1 - b2^t); the group keeps Keras's eps ("keras_eps") and the steps taken ("keras_step"), so
    both travel in the state_dict; "eps" is the eps_t of the step last taken.
    """

    def __init__(self, params, lr: float, betas, eps: float):
        params = list(params)
        if not _fused(params):
            raise ValueError(f"optimizer=keras runs on cpu or cuda, not {params[0].device.type}")
        self.param_groups = [{"params": params, "lr": lr, "betas": tuple(betas), "eps": eps, "keras_eps": eps,
                              "keras_step": 0}]
        self.state: dict[torch.Tensor, dict[str, torch.Tensor]] = {}
        self._bound = None  # (params, exp_avgs, exp_avg_sqs, steps, ones) once every parameter has its state

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.param_groups[0]["params"]:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        group = self.param_groups[0]
        bound = self._bound or self._bind()
        params, exp_avgs, exp_avg_sqs, steps, ones = bound
        grads = [p.grad for p in params]
        if any(g is None for g in grads):  # a frozen parameter: step the others alone
            keep = [i for i, g in enumerate(grads) if g is not None]
            params, grads, exp_avgs, exp_avg_sqs, steps, ones = ([x[i] for i in keep] for x in
                                                                 (params, grads, exp_avgs, exp_avg_sqs, steps, ones))
        group["keras_step"] += 1
        group["eps"] = group["keras_eps"] / math.sqrt(1 - group["betas"][1] ** group["keras_step"])
        torch._foreach_add_(steps, ones)
        torch._fused_adam_(params, grads, exp_avgs, exp_avg_sqs, [], steps, amsgrad=False, lr=group["lr"],
                           beta1=group["betas"][0], beta2=group["betas"][1], weight_decay=0.0, eps=group["eps"],
                           maximize=False, grad_scale=None, found_inf=None)

    def _bind(self) -> tuple:
        params = self.param_groups[0]["params"]
        for p in params:  # as torch's fused Adam makes its state: a float32 step on the parameter's device
            self.state.setdefault(p, {"step": torch.zeros((), dtype=torch.float32, device=p.device),
                                      "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                                      "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format)})
        states = [self.state[p] for p in params]
        self._bound = (params, [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states],
                       [s["step"] for s in states], [torch.ones_like(states[0]["step"])] * len(states))
        return self._bound

    def state_dict(self) -> dict:
        """torch's layout: parameters by index."""
        group = self.param_groups[0]
        index = {id(p): i for i, p in enumerate(group["params"])}
        return {"state": {index[id(p)]: dict(s) for p, s in self.state.items()},
                "param_groups": [{**{k: v for k, v in group.items() if k != "params"},
                                  "params": list(range(len(group["params"])))}]}

    def load_state_dict(self, state_dict: dict) -> None:
        group, (saved,) = self.param_groups[0], state_dict["param_groups"]
        params = group["params"]
        if len(saved["params"]) != len(params):
            raise ValueError(f"the saved optimizer has {len(saved['params'])} parameters, this one {len(params)}")
        group.update({k: v for k, v in saved.items() if k != "params"})
        self.state = {params[i]: {k: v.to(params[i].device) if k == "step" else v.to(params[i])
                                  for k, v in s.items()} for i, s in state_dict["state"].items()}
        self._bound = None


class FusedAdamStep:
    """`step()` and `zero_grad()` of a fused torch.optim.Adam, minus the Python that surrounds its kernel.

    Optimizer.step spends more time than the kernel itself at batch 32 (hook dispatch, profiler labels, grouping
    the tensors by device and dtype on every call: 95 us against 56 us per step here, ~0.1 s per epoch;
    scripts/bench.py choices). This calls the same kernel, `torch._fused_adam_`, with the arguments Adam passes it,
    on the optimizer's own state, so the parameters, moments and state_dict come out bit for bit as from
    optimizer.step() (tests/test_optim.py). Where a case is not the one it covers (Adam not fused, amsgrad,
    weight decay, several parameter groups or devices, a tensor lr, a parameter without gradient, state not yet
    created), it calls optimizer.step(). It runs no step hooks: use optimizer.step() on steps that need them.
    """

    def __init__(self, optimizer: torch.optim.Optimizer):
        self.optimizer = optimizer
        self.params = [p for group in optimizer.param_groups for p in group["params"]]
        self.keras = isinstance(optimizer, KerasAdam)  # its step() is the direct kernel call already
        self.direct = self.keras or _kernel_applies(optimizer, self.params)
        self.bound = None  # the optimizer.state whose tensors steps, exp_avgs, exp_avg_sqs are

    def zero_grad(self) -> None:
        for p in self.params:  # what zero_grad(set_to_none=True) does, without its profiler label
            p.grad = None

    def __call__(self) -> None:
        if self.keras:
            self.optimizer.step()
            return
        grads = [p.grad for p in self.params]
        if not self.direct or any(g is None for g in grads) or not self._bind():
            self.optimizer.step()
            return
        group = self.optimizer.param_groups[0]
        torch._foreach_add_(self.steps, self.ones)
        torch._fused_adam_(
            self.params, grads, self.exp_avgs, self.exp_avg_sqs, [], self.steps, amsgrad=False, lr=group["lr"],
            beta1=group["betas"][0], beta2=group["betas"][1], weight_decay=0.0, eps=group["eps"], maximize=False,
            grad_scale=None, found_inf=None,
        )

    def _bind(self) -> bool:
        """Take Adam's state tensors once its first step has made them; again after load_state_dict, which
        replaces optimizer.state. False while there is no state yet."""
        if self.bound is self.optimizer.state:
            return True
        states = [self.optimizer.state.get(p) for p in self.params]
        if not all(states):
            return False
        self.steps = [s["step"] for s in states]
        self.exp_avgs, self.exp_avg_sqs = [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states]
        self.ones = [torch.ones_like(self.steps[0])] * len(self.steps)  # step += 1: 3 us, 7 us with a Python 1
        self.bound = self.optimizer.state
        return True


def _kernel_applies(optimizer: torch.optim.Optimizer, params: list[torch.Tensor]) -> bool:
    if type(optimizer) is not torch.optim.Adam or len(optimizer.param_groups) != 1 or not params:
        return False
    g = optimizer.param_groups[0]
    plain = not (g["amsgrad"] or g["weight_decay"] or g["maximize"] or g["differentiable"]
                 or g.get("decoupled_weight_decay", False) or isinstance(g["lr"], torch.Tensor))
    one_kind = len({(p.device, p.dtype) for p in params}) == 1
    return bool(g["fused"]) and plain and one_kind and hasattr(torch, "_fused_adam_")
