# bench: family=MLP | data=Fashion-MNIST | optimizer=SGD | causes=bad_init,dead_at_init | held_out=2
"""A ReLU MLP on Fashion-MNIST, SGD with momentum. BUG: a custom init sets every hidden bias to -5 ("sparse
activations"): almost every ReLU starts dead. Held out (second round): written after the rules were fixed again."""
import torch
import torch.nn.functional as F
from torch import nn

from fmnist import load


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(784, 256)
        self.relu = nn.ReLU()
        self.out = nn.Linear(256, 10)
        nn.init.constant_(self.hidden.bias, -5.0)  # BUG

    def forward(self, x):
        return self.out(self.relu(self.hidden(x.flatten(1))))


torch.manual_seed(205)
(x, y), (xt, yt) = load()
x, xt = x.float() / 255, xt.float() / 255
model = MLP()
opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
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
