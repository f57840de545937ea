# bench: family=residual CNN | data=Fashion-MNIST | optimizer=AdamW | causes=preprocessing_mismatch | held_out=2
"""A small residual CNN on Fashion-MNIST, AdamW; the training images go through a transform that scales them to
[0, 1]. BUG: the evaluation reads the raw uint8 test images as floats, skipping that transform.
Held out (second round): written after the rules were fixed again."""
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from fmnist import load


class Images(Dataset):
    def __init__(self, x, y, transform=None):
        self.x, self.y, self.transform = x, y, transform

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        img = self.x[i].float().unsqueeze(0)
        return (self.transform(img) if self.transform else img), self.y[i]


class Residual(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c)

    def forward(self, x):
        return torch.relu(x + self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x))))))


torch.manual_seed(209)
(x, y), (xt, yt) = load()
train = DataLoader(Images(x, y, transform=lambda t: t / 255), batch_size=64, shuffle=True)
test = DataLoader(Images(xt, yt), batch_size=500)  # BUG: transform forgotten
model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), Residual(16), nn.MaxPool2d(2), Residual(16),
                      nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))
opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
crit = nn.CrossEntropyLoss()
for epoch in range(3):
    model.train()
    for a, b in train:
        opt.zero_grad()
        crit(model(a), b).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        losses = [crit(model(a), b).item() for a, b in test]
    print(epoch, sum(losses) / len(losses))
