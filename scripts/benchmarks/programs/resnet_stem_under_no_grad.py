# bench: family=residual CNN | data=Fashion-MNIST | optimizer=AdamW | causes=no_gradient
"""A small residual CNN on Fashion-MNIST, AdamW. BUG: the stem runs under torch.no_grad() inside forward (copied from
an inference snippet), so the stem's parameters, which the optimizer holds, never get a gradient."""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from fmnist import load


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
                                  nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))

    def forward(self, x):
        return torch.relu(x + self.body(x))


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2))
        self.blocks = nn.Sequential(Block(16), nn.MaxPool2d(2), Block(16))
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))

    def forward(self, x):
        with torch.no_grad():  # BUG
            x = self.stem(x)
        return self.head(self.blocks(x))


torch.manual_seed(30)
(x, y), (xt, yt) = load()
train = DataLoader(TensorDataset((x.float() / 255).unsqueeze(1), y), batch_size=64, shuffle=True)
xt = (xt.float() / 255).unsqueeze(1)
model = ResNet()
opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(3):
    model.train()
    for xb, yb in train:
        opt.zero_grad()
        loss_fn(model(xb), yb).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        print(epoch, loss_fn(model(xt), yt).item())
