# bench: family=MLP | data=Fashion-MNIST | optimizer=SGD | causes=grad_clip
"""MLP on Fashion-MNIST, plain SGD. BUG: gradients clipped to a total norm of 1e-4 (max_norm meant 1.0): every step
is ~10,000x too small."""
import torch
import torch.nn.functional as F
from torch import nn

from fmnist import load

torch.manual_seed(39)
(x, y), (xt, yt) = load()
x, xt = x.float() / 255, xt.float() / 255
model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(4):
    model.train()
    for idx in torch.randperm(len(x)).split(64):
        opt.zero_grad()
        F.cross_entropy(model(x[idx]), y[idx]).backward()
        nn.utils.clip_grad_norm_(model.parameters(), max_norm=1e-4)  # BUG
        opt.step()
    model.eval()
    with torch.no_grad():
        out = model(xt)
    print(epoch, F.cross_entropy(out, yt).item(), (out.argmax(1) == yt).float().mean().item())
