# bench: family=residual CNN | data=Fashion-MNIST | optimizer=Adam | causes=bad_init
"""A small residual CNN on Fashion-MNIST, Adam. BUG: every weight re-initialised from N(0, 1) ("a standard normal
init")."""
import torch
from torch import nn

from fmnist import load


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(c, c, 3, padding=1), nn.Conv2d(c, c, 3, padding=1)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(x + self.c2(self.relu(self.c1(x))))


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 16, 3, padding=1)
        self.act = nn.ReLU()
        self.block1, self.block2 = Block(16), Block(16)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(16 * 7 * 7, 10)

    def forward(self, x):
        x = self.pool(self.block1(self.act(self.stem(x))))
        return self.fc(self.pool(self.block2(x)).flatten(1))


torch.manual_seed(16)
(x, y), (xt, yt) = load()
x, xt = (x.float() / 255).unsqueeze(1), (xt.float() / 255).unsqueeze(1)
model = ResNet()
for m in model.modules():
    if isinstance(m, (nn.Conv2d, nn.Linear)):
        nn.init.normal_(m.weight, 0.0, 1.0)  # BUG: std 1 whatever the fan-in
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
crit = nn.CrossEntropyLoss()
for epoch in range(3):
    model.train()
    for idx in torch.randperm(len(x)).split(64):
        opt.zero_grad()
        crit(model(x[idx]), y[idx]).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        print(epoch, crit(model(xt), yt).item())
