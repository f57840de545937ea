# bench: family=MLP | data=Fashion-MNIST | optimizer=Adam | causes=missing_activation
"""A three-layer MLP on Fashion-MNIST, Adam. BUG: no activation between the layers: the network is one linear map."""
import torch
from torch import nn

from fmnist import load

torch.manual_seed(31)
(x, y), (xt, yt) = load()
x, xt = x.float() / 255, xt.float() / 255
model = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.Linear(256, 128), nn.Linear(128, 10))  # BUG
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
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
