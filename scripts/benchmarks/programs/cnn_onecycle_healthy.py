# bench: family=CNN (BatchNorm, Dropout) | data=Fashion-MNIST | optimizer=AdamW | causes=none | held_out=1
"""A CNN on Fashion-MNIST with AdamW and a OneCycleLR schedule stepped every batch (the learning rate climbs, then
anneals to 1/10,000 of its peak by the last batch): healthy. Held out: written after the rules were fixed."""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from fmnist import load

EPOCHS = 3


def build():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout2d(0.1),
        nn.Flatten(), nn.Linear(32 * 12 * 12, 64), nn.ReLU(), nn.Linear(64, 10))


if __name__ == "__main__":
    torch.manual_seed(100)
    (x, y), (xt, yt) = load()
    train = DataLoader(TensorDataset(x.unsqueeze(1).float() / 255, y), batch_size=100, shuffle=True)
    test = DataLoader(TensorDataset(xt.unsqueeze(1).float() / 255, yt), batch_size=250)
    net = build()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=EPOCHS * len(train))
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(EPOCHS):
        net.train()
        for images, labels in train:
            opt.zero_grad()
            loss_fn(net(images), labels).backward()
            opt.step()
            sched.step()
        net.eval()
        with torch.no_grad():
            losses = [loss_fn(net(a), b).item() for a, b in test]
        print(f"epoch {epoch}: test loss {sum(losses) / len(losses):.3f}")
