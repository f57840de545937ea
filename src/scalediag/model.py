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


def build_model(hidden: int, init: str) -> MLP:
    """init='torch' keeps nn.Linear's default: weights and biases U(+-1/sqrt(fan_in))."""
    model = MLP(hidden)
    if init == "keras":
        init_keras_(model)
    elif init != "torch":
        raise ValueError(f"unknown init {init!r}")
    return model
