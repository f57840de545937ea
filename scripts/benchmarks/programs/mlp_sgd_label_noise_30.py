# bench: family=MLP | data=Fashion-MNIST | optimizer=SGD | causes=label_noise | held_out=1
"""A two-hidden-layer MLP on Fashion-MNIST, SGD with momentum. BUG: a third of the training labels were swapped for
a random other class by a faulty annotation merge. Held out: written after the rules were fixed."""
import torch
import torch.nn.functional as F
from torch import nn

from fmnist import load

torch.manual_seed(110)
(x, y), (xt, yt) = load()
noisy = torch.rand(len(y)) < 1 / 3
y = y.clone()
y[noisy] = (y[noisy] + torch.randint(1, 10, (int(noisy.sum()),))) % 10  # BUG: another class, at random
x, xt = x.flatten(1) / 255.0, xt.flatten(1) / 255.0
model = nn.Sequential(nn.Linear(784, 200), nn.ReLU(), nn.Linear(200, 100), nn.ReLU(), nn.Linear(100, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
for epoch in range(5):
    model.train()
    for idx in torch.randperm(len(x)).split(32):
        opt.zero_grad()
        F.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        out = model(xt)
    print(epoch, F.cross_entropy(out, yt).item(), (out.argmax(1) == yt).float().mean().item())
