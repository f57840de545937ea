# bench: family=MLP | data=Fashion-MNIST | optimizer=Adam | causes=grad_cleared | held_out=1
"""MLP on Fashion-MNIST, Adam. BUG: optimizer.zero_grad() called between backward() and step(), so every step sees
no gradient. Held out: written after the rules were fixed."""
import torch
from torch import nn

from fmnist import load

torch.manual_seed(103)
(x, y), (xt, yt) = load()
x, xt = x.reshape(len(x), -1) / 255.0, xt.reshape(len(xt), -1) / 255.0
model = nn.Sequential(nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(), nn.Linear(100, 10))
optimizer = torch.optim.Adam(model.parameters(), lr=5e-4)
criterion = nn.CrossEntropyLoss()
for epoch in range(4):
    model.train()
    for idx in torch.randperm(len(x)).split(128):
        loss = criterion(model(x[idx]), y[idx])
        loss.backward()
        optimizer.zero_grad()  # BUG: clears what backward() just computed
        optimizer.step()
    model.eval()
    with torch.no_grad():
        print(epoch, criterion(model(xt), yt).item())
