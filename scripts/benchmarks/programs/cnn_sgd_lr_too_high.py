# bench: family=CNN (BatchNorm, Dropout) | data=Fashion-MNIST | optimizer=SGD | causes=lr_too_high
"""CNN with BatchNorm and Dropout on Fashion-MNIST, SGD. BUG: learning rate 2 (meant 0.02)."""
import torch
import torch.nn.functional as F
from torch import nn

from fmnist import load

torch.manual_seed(12)
(x, y), (xt, yt) = load()
x, xt = (x.float() / 255).unsqueeze(1), (xt.float() / 255).unsqueeze(1)
model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                      nn.Dropout(0.25), nn.Linear(32 * 49, 10))
opt = torch.optim.SGD(model.parameters(), lr=2.0)  # BUG
for epoch in range(3):
    model.train()
    for idx in torch.randperm(len(x)).split(64):
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        out = model(xt)
    print(epoch, F.cross_entropy(out, yt).item())
