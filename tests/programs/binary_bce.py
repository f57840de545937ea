# bench: family=binary classifier | data=synthetic points | optimizer=Adam | causes=none
# bench: family=binary classifier | data=synthetic points | optimizer=Adam | causes=labels_misaligned | args=shuffled
"""Binary classification: an MLP tells whether a point lies inside a circle, nn.BCEWithLogitsLoss on [N, 1] float
targets, Adam, an evaluation on held-out points each epoch; `shuffled`: the targets paired with other points."""
import sys

import torch
from torch import nn

torch.manual_seed(0)
x = torch.rand(2048, 2) * 2 - 1
y = (x.square().sum(1, keepdim=True) < 0.5).float()  # inside the circle: about 39% of the points
if "shuffled" in sys.argv:
    y = y[torch.randperm(len(y))]
xt, yt, x, y = x[1536:], y[1536:], x[:1536], y[:1536]
model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 1))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
criterion = nn.BCEWithLogitsLoss()
for epoch in range(5):
    model.train()
    for i in range(0, 1536, 64):
        loss = criterion(model(x[i : i + 64]), y[i : i + 64])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        out = model(xt)
        print(f"epoch {epoch + 1}: test loss {criterion(out, yt).item():.4f}, "
              f"accuracy {((out > 0).float() == yt).float().mean().item():.3f}")
