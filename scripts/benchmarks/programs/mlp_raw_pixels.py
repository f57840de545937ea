# bench: family=MLP | data=Fashion-MNIST | optimizer=Adam | causes=input_scale
"""MLP on Fashion-MNIST with Adam, the question's model in PyTorch. BUG: the pixels go in as 0..255."""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from fmnist import load

torch.manual_seed(10)
(x, y), (xt, yt) = load()
x, xt = x.float(), xt.float()  # BUG: never divided by 255
model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
criterion = nn.CrossEntropyLoss()
for epoch in range(4):
    model.train()
    for xb, yb in DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True):
        opt.zero_grad()
        criterion(model(xb), yb).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        print(epoch, criterion(model(xt), yt).item())
