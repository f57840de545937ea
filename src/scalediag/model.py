"""The question's MLP. Pure nn.Module: it knows nothing of logging; diagnostics attach through hooks."""

from __future__ import annotations

from torch import nn


class MLP(nn.Module):
    def __init__(self, hidden: int = 128, n_in: int = 28 * 28, n_out: int = 10):
        super().__init__()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(n_in, hidden)
        self.relu = nn.ReLU()  # not in-place: hooks must see the pre-activation intact
        self.fc2 = nn.Linear(hidden, n_out)

    def forward(self, x):  # x: [B, 28, 28] float -> logits [B, 10]
        return self.fc2(self.relu(self.fc1(self.flatten(x))))


def init_keras_(model: nn.Module) -> None:
    """Keras' Dense default: glorot_uniform weights U(+-sqrt(6 / (fan_in + fan_out))), zero biases."""
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)


def init_torch_(model: nn.Module) -> None:
    """nn.Linear's own default, kept as built: weights and biases U(+-1/sqrt(fan_in))."""


INITS = {"keras": init_keras_, "torch": init_torch_}  # model.init


def build_model(hidden: int, init: str) -> MLP:
    """conf/model/mlp.yaml's _target_."""
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}, one of {', '.join(INITS)}")
    model = MLP(hidden)
    INITS[init](model)
    return model
