# bench: family=CNN (BatchNorm, Dropout) | data=Fashion-MNIST | optimizer=SGD | causes=weight_decay
"""A CNN with BatchNorm on Fashion-MNIST, SGD with momentum. BUG: weight_decay=0.5 (meant 5e-4): the decay pulls every
weight to zero faster than the data can move it."""
import torch
import torch.nn.functional as F
from torch import nn

from fmnist import load

torch.manual_seed(40)
(x, y), (xt, yt) = load()
x, xt = (x.float() / 255).unsqueeze(1), (xt.float() / 255).unsqueeze(1)
model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Flatten(), nn.Linear(32 * 49, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=0.5)  # BUG
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
