# bench: family=CNN (BatchNorm, Dropout) | data=Fashion-MNIST | optimizer=SGD | causes=not_optimized | held_out=2
"""A CNN on Fashion-MNIST, SGD with momentum. BUG: the model is built again ("to reset it") after the optimizer was
made from the first one: the optimizer updates a model that is never used. Held out (second round): written after
the rules were fixed again."""
import torch
import torch.nn.functional as F
from torch import nn

from fmnist import load


def make():
    return nn.Sequential(nn.Conv2d(1, 12, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(12, 24, 3, padding=1),
                         nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(24 * 49, 10))


torch.manual_seed(202)
(x, y), (xt, yt) = load()
x, xt = x.float().div(255).unsqueeze(1), xt.float().div(255).unsqueeze(1)
model = make()
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
model = make()  # BUG: a fresh model; opt still holds the first one's parameters
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
