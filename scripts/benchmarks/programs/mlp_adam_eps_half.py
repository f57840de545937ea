# bench: family=MLP | data=Fashion-MNIST | optimizer=Adam | causes=eps_dominates | held_out=2
"""A two-hidden-layer MLP on Fashion-MNIST. BUG: Adam with eps=0.5 (copied from a reinforcement-learning config).
Held out (second round): written after the rules were fixed again."""
import torch
from torch import nn

from fmnist import load

torch.manual_seed(203)
(x, y), (xt, yt) = load()
x, xt = x.float() / 255, xt.float() / 255
net = nn.Sequential(nn.Flatten(), nn.Linear(784, 200), nn.ELU(), nn.Linear(200, 100), nn.ELU(), nn.Linear(100, 10))
opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=0.5)  # BUG
crit = nn.CrossEntropyLoss()
for epoch in range(4):
    net.train()
    for idx in torch.randperm(len(x)).split(64):
        opt.zero_grad()
        crit(net(x[idx]), y[idx]).backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        out = net(xt)
    print(epoch, crit(out, yt).item(), (out.argmax(1) == yt).float().mean().item())
