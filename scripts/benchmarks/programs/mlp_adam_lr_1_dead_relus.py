# bench: family=MLP | data=Fashion-MNIST | optimizer=Adam | causes=lr_too_high
"""A two-layer ReLU MLP on Fashion-MNIST. BUG: Adam at learning rate 1: the first steps push most ReLUs dead."""
import torch
import torch.nn.functional as F
from torch import nn

from fmnist import load

torch.manual_seed(44)
(x, y), (xt, yt) = load()
x, xt = x.float() / 255, xt.float() / 255
model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
opt = torch.optim.Adam(model.parameters(), lr=1.0)  # BUG
for epoch in range(3):
    model.train()
    for idx in torch.randperm(len(x)).split(64):
        opt.zero_grad()
        F.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        out = model(xt)
    print(epoch, F.cross_entropy(out, yt).item(), (out.argmax(1) == yt).float().mean().item())
