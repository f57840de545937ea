# bench: family=CNN (BatchNorm, Dropout) | data=Fashion-MNIST | optimizer=Adam | causes=lr_schedule | held_out=1
"""A CNN with BatchNorm on Fashion-MNIST, Adam with ExponentialLR(gamma=0.9). BUG: scheduler.step() sits in the
batch loop: after 100 batches the learning rate is 3e-5 of its start. Held out: written after the rules were
fixed."""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from fmnist import load

torch.manual_seed(109)
(x, y), (xt, yt) = load()
ds = TensorDataset(x[:, None].float() / 255, y)
model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.AdaptiveAvgPool2d(4),
                      nn.Flatten(), nn.Linear(512, 10))
opt = torch.optim.Adam(model.parameters(), lr=2e-3)
sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)
criterion = nn.CrossEntropyLoss()
for epoch in range(3):
    model.train()
    for xb, yb in DataLoader(ds, batch_size=64, shuffle=True):
        opt.zero_grad()
        criterion(model(xb), yb).backward()
        opt.step()
        sched.step()  # BUG: meant once per epoch
    model.eval()
    with torch.no_grad():
        out = model(xt[:, None].float() / 255)
    print(epoch, criterion(out, yt).item())
