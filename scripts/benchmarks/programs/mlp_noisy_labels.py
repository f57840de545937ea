# bench: family=MLP | data=Fashion-MNIST | optimizer=Adam | causes=label_noise
"""MLP on Fashion-MNIST, Adam. BUG: 40% of the training labels are wrong (a careless relabelling: each replaced by a
random class); the test labels are right."""
import torch
from torch import nn

from fmnist import load

torch.manual_seed(19)
(x, y), (xt, yt) = load()
g = torch.Generator().manual_seed(0)
flip = torch.rand(len(y), generator=g) < 0.4
y = torch.where(flip, torch.randint(0, 10, y.shape, generator=g), y)  # BUG
x, xt = x.float() / 255, xt.float() / 255
model = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
criterion = nn.CrossEntropyLoss()
for epoch in range(4):
    model.train()
    for idx in torch.randperm(len(x)).split(64):
        opt.zero_grad()
        criterion(model(x[idx]), y[idx]).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        out = model(xt)
    print(epoch, criterion(out, yt).item(), (out.argmax(1) == yt).float().mean().item())
