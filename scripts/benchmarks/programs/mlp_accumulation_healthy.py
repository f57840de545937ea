# bench: family=MLP | data=Fashion-MNIST | optimizer=SGD | causes=none
"""MLP on Fashion-MNIST, SGD with momentum, gradients accumulated over 4 micro-batches of 16 before each step (the
loss divided by 4): healthy."""
import torch
from torch import nn

from fmnist import load

ACCUM = 4
torch.manual_seed(3)
(x, y), (xt, yt) = load()
x, xt = x.flatten(1).float() / 255, xt.flatten(1).float() / 255
model = nn.Sequential(nn.Linear(784, 128), nn.Tanh(), nn.Linear(128, 64), nn.Tanh(), nn.Linear(64, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
criterion = nn.CrossEntropyLoss()
for epoch in range(4):
    model.train()
    perm = torch.randperm(len(x))
    opt.zero_grad()
    for k, i in enumerate(range(0, len(x), 16)):
        idx = perm[i:i + 16]
        (criterion(model(x[idx]), y[idx]) / ACCUM).backward()
        if (k + 1) % ACCUM == 0:
            opt.step()
            opt.zero_grad()
    model.eval()
    with torch.no_grad():
        print(epoch, criterion(model(xt), yt).item())
