# bench: family=regression | data=synthetic function | optimizer=SGD | causes=none
# bench: family=regression | data=synthetic function | optimizer=SGD | causes=grad_accumulation | args=bug
# bench: family=regression | data=synthetic function | optimizer=SGD | causes=labels_misaligned | args=shuffled
# bench: family=regression | data=synthetic function | optimizer=SGD | causes=none | args=huber
# bench: family=regression | data=synthetic function | optimizer=SGD | causes=labels_misaligned | args=shuffled l1
"""Regression: an MLP fits y = sin(3 x1) + x2^2 with nn.MSELoss, SGD, an evaluation on held-out points each epoch.
    python regression_mse.py [bug] [shuffled] [l1 | huber]   l1, huber: nn.L1Loss, nn.HuberLoss in MSE's place"""
import sys

import torch
from torch import nn

torch.manual_seed(0)
x = torch.rand(2048, 2) * 2 - 1
y = (torch.sin(3 * x[:, 0]) + x[:, 1] ** 2).unsqueeze(1)
if "shuffled" in sys.argv:  # the targets paired with other inputs: nothing to learn but their mean
    y = y[torch.randperm(len(y))]
xt, yt = x[1536:], y[1536:]
x, y = x[:1536], y[:1536]
model = nn.Sequential(nn.Linear(2, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
criterion = nn.L1Loss() if "l1" in sys.argv else nn.HuberLoss() if "huber" in sys.argv else nn.MSELoss()
for epoch in range(4):
    model.train()
    for i in range(0, 1536, 64):
        loss = criterion(model(x[i : i + 64]), y[i : i + 64])
        if "bug" not in sys.argv:  # the bug variant: gradients never zeroed
            opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        print(f"epoch {epoch + 1}: test mse {criterion(model(xt), yt).item():.5f}")
