# bench: family=MLP | data=Fashion-MNIST | optimizer=Adam | causes=none
"""MLP on Fashion-MNIST with Adam, batches from a DataLoader: healthy."""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from fmnist import load

torch.manual_seed(0)
(x, y), (xt, yt) = load()
x, xt = x.float() / 255.0, xt.float() / 255.0
model = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
criterion = nn.CrossEntropyLoss()
loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True)
for epoch in range(4):
    model.train()
    for xb, yb in loader:
        opt.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        out = model(xt)
        print(f"epoch {epoch}: test loss {criterion(out, yt):.3f} acc {(out.argmax(1) == yt).float().mean():.3f}")
