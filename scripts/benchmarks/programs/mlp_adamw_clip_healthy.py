# bench: family=MLP | data=Fashion-MNIST | optimizer=AdamW | causes=none
"""A deeper GELU MLP on Fashion-MNIST, AdamW (weight decay 0.05) with the gradient norm clipped at 1 every step,
training in a function with its own helpers: healthy."""
import torch
import torch.nn.functional as F
from torch import nn

from fmnist import load


def make_model():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.GELU(), nn.Dropout(0.1),
                         nn.Linear(256, 128), nn.GELU(), nn.Linear(128, 10))


def train_epoch(model, opt, x, y, bs=100):
    model.train()
    losses = []
    for idx in torch.randperm(len(x)).split(bs):
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        opt.step()
        losses.append(loss.item())
    return sum(losses) / len(losses)


@torch.no_grad()
def test(model, x, y):
    model.eval()
    out = model(x)
    return F.cross_entropy(out, y).item(), (out.argmax(1) == y).float().mean().item()


if __name__ == "__main__":
    torch.manual_seed(8)
    (x, y), (xt, yt) = load()
    x, xt = x.float().div(255), xt.float().div(255)
    model = make_model()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    for epoch in range(4):
        print(epoch, train_epoch(model, opt, x, y), test(model, xt, yt))
