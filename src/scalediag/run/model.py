"""The question's MLP. Pure nn.Module: it knows nothing of logging; diagnostics attach through hooks.

Its children mirror Keras's layer list: Flatten, then per hidden layer a Dense (fc1, fc2, ...) and its activation
(named for it: relu, relu2, ...), then the Dense to the logits. The default, hidden=128 with relu, is the question's
Flatten -> fc1 (784->128) -> relu -> fc2 (128->10). output="softmax" adds a Softmax after it: probabilities that the
loss, which takes logits, softmaxes again (the "double softmax" bug, on purpose, to be diagnosed).
"""

from __future__ import annotations

from torch import nn

# model.activation -> module; none in place: hooks must see the pre-activation intact
ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


class MLP(nn.Module):
    def __init__(self, hidden: int | list[int] = 128, n_in: int = 28 * 28, n_out: int = 10, activation: str = "relu",
                 output: str = "logits"):
        super().__init__()
        widths = [hidden] if isinstance(hidden, int) else list(hidden)
        self.flatten = nn.Flatten()
        for i, (a, b) in enumerate(zip([n_in, *widths], widths), start=1):
            self.add_module(f"fc{i}", nn.Linear(a, b))
            self.add_module(activation if i == 1 else f"{activation}{i}", ACTIVATIONS[activation]())
        self.add_module(f"fc{len(widths) + 1}", nn.Linear(widths[-1], n_out))
        if output == "softmax":
            self.softmax = nn.Softmax(dim=1)

    def forward(self, x):  # x: [B, 28, 28] float -> logits [B, 10] (probabilities with output="softmax")
        for layer in self.children():
            x = layer(x)
        return x


def init_keras_(model: nn.Module) -> None:
    """Keras' Dense default: glorot_uniform weights U(+-sqrt(6 / (fan_in + fan_out))), zero biases."""
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)


def init_torch_(model: nn.Module) -> None:
    """nn.Linear's own default, kept as built: weights and biases U(+-1/sqrt(fan_in))."""


def init_zeros_(model: nn.Module) -> None:
    """Every weight and bias 0: all hidden units identical, and none ever differs from the others."""
    for p in model.parameters():
        nn.init.zeros_(p)


def init_normal_(model: nn.Module, std: float) -> None:
    """Weights ~ N(0, std^2) whatever the layer's fan-in, zero biases: the scale is right for one fan-in at most."""
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=std)
            nn.init.zeros_(m.bias)


INITS = {"keras": init_keras_, "torch": init_torch_, "zeros": init_zeros_, "normal": init_normal_}  # model.init
OUTPUTS = ("logits", "softmax")  # model.output


def build_model(hidden: int | list[int], init: str, activation: str = "relu", output: str = "logits",
                init_std: float = 0.05) -> MLP:
    """conf/model/mlp.yaml's _target_. init_std: the standard deviation of init="normal"."""
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}, one of {', '.join(INITS)}")
    model = MLP(hidden if isinstance(hidden, int) else [int(h) for h in hidden], activation=activation, output=output)
    if init == "normal":
        init_normal_(model, init_std)
    else:
        INITS[init](model)
    return model
