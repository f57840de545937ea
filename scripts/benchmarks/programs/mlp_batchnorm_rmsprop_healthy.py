# bench: family=MLP | data=Fashion-MNIST | optimizer=RMSprop | causes=none | held_out=2
"""An MLP with BatchNorm1d and Dropout on Fashion-MNIST, RMSprop, evaluated through a DataLoader in a helper:
healthy. Held out (second round): written after the rules were fixed again."""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from fmnist import load


@torch.no_grad()
def accuracy(model, loader):
    model.eval()
    right = sum((model(a).argmax(1) == b).sum().item() for a, b in loader)
    return right / len(loader.dataset)


torch.manual_seed(201)
(x, y), (xt, yt) = load()
train = DataLoader(TensorDataset(x.flatten(1).float() / 255, y), batch_size=128, shuffle=True)
test = DataLoader(TensorDataset(xt.flatten(1).float() / 255, yt), batch_size=500)
model = nn.Sequential(nn.Linear(784, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Dropout(0.2),
                      nn.Linear(256, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Linear(128, 10))
opt = torch.optim.RMSprop(model.parameters(), lr=5e-4)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(4):
    model.train()
    for a, b in train:
        opt.zero_grad()
        loss_fn(model(a), b).backward()
        opt.step()
    print(epoch, accuracy(model, test))
