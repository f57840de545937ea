# bench: family=MLP | data=Fashion-MNIST | optimizer=SGD | causes=lr_too_high | held_out=2
"""An MLP on Fashion-MNIST, plain SGD. BUG: learning rate 5 ("SGD needs a large rate"). Held out (second round):
written after the rules were fixed again."""
import torch
from torch import nn

from fmnist import load

torch.manual_seed(208)
(x, y), (xt, yt) = load()
x, xt = x.flatten(1).float() / 255, xt.flatten(1).float() / 255
model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
opt = torch.optim.SGD(model.parameters(), lr=5.0)  # BUG
loss_fn = nn.CrossEntropyLoss()
for epoch in range(4):
    model.train()
    for idx in torch.randperm(len(x)).split(64):
        opt.zero_grad()
        loss_fn(model(x[idx]), y[idx]).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        out = model(xt)
    print(epoch, loss_fn(out, yt).item(), (out.argmax(1) == yt).float().mean().item())
