# bench: family=MLP | data=Fashion-MNIST | optimizer=SGD | causes=vanishing_gradient,saturation
"""A deep MLP (8 sigmoid layers) on Fashion-MNIST, SGD. BUG: sigmoid through 8 layers: the gradient vanishes before
it reaches the first layers."""
import torch
import torch.nn.functional as F
from torch import nn

from fmnist import load


class Deep(nn.Module):
    def __init__(self, width=128, depth=8):
        super().__init__()
        sizes = [784] + [width] * depth
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
        self.acts = nn.ModuleList(nn.Sigmoid() for _ in range(depth))  # BUG: sigmoid at every layer of 8
        self.out = nn.Linear(width, 10)

    def forward(self, x):
        x = x.flatten(1)
        for layer, act in zip(self.hidden, self.acts):
            x = act(layer(x))
        return self.out(x)


torch.manual_seed(20)
(x, y), (xt, yt) = load()
x, xt = x.float() / 255, xt.float() / 255
model = Deep()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(4):
    model.train()
    for idx in torch.randperm(len(x)).split(64):
        opt.zero_grad()
        F.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        out = model(xt)
    print(epoch, F.cross_entropy(out, yt).item(), (out.argmax(1) == yt).float().mean().item())
