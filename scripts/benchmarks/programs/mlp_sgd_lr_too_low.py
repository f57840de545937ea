# bench: family=MLP | data=Fashion-MNIST | optimizer=SGD | causes=lr_too_low
"""MLP on Fashion-MNIST, plain SGD. BUG: learning rate 1e-5 (a typo for 1e-2)."""
import torch
import torch.nn.functional as F
from torch import nn

from fmnist import load


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(784, 200), nn.ReLU(), nn.Linear(200, 10)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x.view(len(x), -1))))


torch.manual_seed(14)
(x, y), (xt, yt) = load()
x, xt = x.float() / 255, xt.float() / 255
net = MLP()
opt = torch.optim.SGD(net.parameters(), lr=1e-5)  # BUG
for epoch in range(4):
    net.train()
    for i in range(0, len(x), 32):
        j = torch.randint(0, len(x), (32,))
        opt.zero_grad()
        F.cross_entropy(net(x[j]), y[j]).backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        out = net(xt)
    print(epoch, F.cross_entropy(out, yt).item(), (out.argmax(1) == yt).float().mean().item())
