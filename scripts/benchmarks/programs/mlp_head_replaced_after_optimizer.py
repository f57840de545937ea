# bench: family=MLP | data=Fashion-MNIST | optimizer=Adam | causes=not_optimized
"""MLP on Fashion-MNIST, Adam. BUG: the classifier head is replaced after the optimizer was built, so the optimizer
holds the old head's parameters and the new head never learns."""
import torch
from torch import nn

from fmnist import load

torch.manual_seed(27)
(x, y), (xt, yt) = load()
x, xt = x.float() / 255, xt.float() / 255
model = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 100))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
model[3] = nn.Linear(256, 10)  # BUG: 10 classes, not 100, fixed after the optimizer exists
crit = nn.CrossEntropyLoss()
for epoch in range(4):
    model.train()
    for idx in torch.randperm(len(x)).split(64):
        opt.zero_grad()
        crit(model(x[idx]), y[idx]).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        out = model(xt)
    print(epoch, crit(out, yt).item(), (out.argmax(1) == yt).float().mean().item())
