# bench: family=MLP | data=Fashion-MNIST | optimizer=SGD | causes=bad_init
"""A two-hidden-layer MLP on Fashion-MNIST, SGD with momentum. BUG: all weights initialised to zero."""
import torch
import torch.nn.functional as F
from torch import nn

from fmnist import load

torch.manual_seed(17)
(x, y), (xt, yt) = load()
x, xt = x.flatten(1).float() / 255, xt.flatten(1).float() / 255
model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
for layer in model:
    if isinstance(layer, nn.Linear):
        nn.init.zeros_(layer.weight)  # BUG: every unit identical
        nn.init.zeros_(layer.bias)
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
for epoch in range(4):
    model.train()
    for idx in torch.randperm(len(x)).split(64):
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        out = model(xt)
    print(epoch, F.cross_entropy(out, yt).item(), (out.argmax(1) == yt).float().mean().item())
