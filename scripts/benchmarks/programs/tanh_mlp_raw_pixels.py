# bench: family=MLP | data=Fashion-MNIST | optimizer=RMSprop | causes=input_scale
"""A tanh MLP on Fashion-MNIST, RMSprop. BUG: the raw 0..255 pixels saturate every tanh unit."""
import torch
from torch import nn

from fmnist import load

torch.manual_seed(21)
(x, y), (xt, yt) = load()
x, xt = x.view(-1, 784).float(), xt.view(-1, 784).float()  # BUG: no scaling
model = nn.Sequential(nn.Linear(784, 128), nn.Tanh(), nn.Linear(128, 10))
opt = torch.optim.RMSprop(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(4):
    for idx in torch.randperm(len(x)).split(32):
        opt.zero_grad()
        loss_fn(model(x[idx]), y[idx]).backward()
        opt.step()
    with torch.no_grad():
        model.eval()
        print(epoch, loss_fn(model(xt), yt).item())
        model.train()
