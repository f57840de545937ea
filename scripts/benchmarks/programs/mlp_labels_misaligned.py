# bench: family=MLP | data=Fashion-MNIST | optimizer=Adam | causes=labels_misaligned
"""MLP on Fashion-MNIST, Adam. BUG: the images are shuffled once before training, the labels are not, so every image
carries another image's label."""
import numpy as np
import torch
from torch import nn

from fmnist import load

torch.manual_seed(36)
(x, y), (xt, yt) = load()
x = x[np.random.default_rng(0).permutation(len(x))]  # BUG: y not permuted with it
x, xt = x.float() / 255, xt.float() / 255
model = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
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
