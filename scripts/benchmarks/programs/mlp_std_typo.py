# bench: family=MLP | data=Fashion-MNIST | optimizer=SGD | causes=input_scale | held_out=1
"""MLP on Fashion-MNIST, SGD with momentum, inputs standardised. BUG: the standard deviation is typed as 0.0035
instead of 0.35, so the inputs come out 100x too large. Held out: written after the rules were fixed."""
import torch
from torch import nn

from fmnist import load

MEAN, STD = 0.286, 0.0035  # BUG: 0.35
torch.manual_seed(105)
(x, y), (xt, yt) = load()
x, xt = (x.float() / 255 - MEAN) / STD, (xt.float() / 255 - MEAN) / STD
model = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
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
