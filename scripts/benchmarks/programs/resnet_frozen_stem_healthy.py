# bench: family=residual CNN | data=Fashion-MNIST | optimizer=AdamW | causes=none
"""A small residual CNN on Fashion-MNIST, AdamW; its stem frozen on purpose (requires_grad=False, as when reusing a
trained stem): healthy."""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from fmnist import load


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
                                  nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(x + self.body(x))


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.blocks = nn.Sequential(Block(16), nn.MaxPool2d(2), Block(16))
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))

    def forward(self, x):
        return self.head(self.blocks(self.stem(x)))


torch.manual_seed(2)
(x, y), (xt, yt) = load()
train = DataLoader(TensorDataset((x.float() / 255).unsqueeze(1), y), batch_size=64, shuffle=True)
xt = (xt.float() / 255).unsqueeze(1)
model = ResNet()
for p in model.stem.parameters():
    p.requires_grad = False  # kept as initialised: not a bug
opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-3, weight_decay=1e-4)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(3):
    model.train()
    for xb, yb in train:
        opt.zero_grad(set_to_none=True)
        loss_fn(model(xb), yb).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        logits = model(xt)
    print(f"epoch {epoch} test {loss_fn(logits, yt).item():.3f}")
