# bench: family=CNN (BatchNorm, Dropout) | data=Fashion-MNIST | optimizer=Adam | causes=none
"""CNN with BatchNorm on Fashion-MNIST trained in mixed precision (bfloat16 autocast on the CPU), Adam: healthy."""
import torch
from torch import nn

from fmnist import load

torch.manual_seed(7)
(x, y), (xt, yt) = load()
x, xt = (x.float() / 255 - 0.286) / 0.353, (xt.float() / 255 - 0.286) / 0.353  # the data set's mean and std
x, xt = x[:, None], xt[:, None]
model = nn.Sequential(
    nn.Conv2d(1, 24, 5, padding=2), nn.BatchNorm2d(24), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(24, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(32 * 49, 64), nn.ReLU(), nn.Linear(64, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
criterion = nn.CrossEntropyLoss()
for epoch in range(3):
    model.train()
    for idx in torch.randperm(len(x)).split(64):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = criterion(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(xt)
        print(epoch, criterion(out.float(), yt).item())
