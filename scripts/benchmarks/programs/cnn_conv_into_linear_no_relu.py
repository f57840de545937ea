# bench: family=CNN (BatchNorm, Dropout) | data=Fashion-MNIST | optimizer=Adam | causes=missing_activation | held_out=1
"""A CNN on Fashion-MNIST, Adam, its forward written out by hand. BUG: the second convolution's output goes into the
classifier's hidden layer with no activation, and that layer's output straight into the last one. Held out:
written after the rules were fixed."""
import torch
import torch.nn.functional as F
from torch import nn

from fmnist import load


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 16, 3, stride=2, padding=1)
        self.c2 = nn.Conv2d(16, 16, 3, stride=2, padding=1)
        self.f1 = nn.Linear(16 * 7 * 7, 128)
        self.f2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.c1(x))
        x = self.c2(x).flatten(1)  # BUG: no relu here
        return self.f2(self.f1(x))  # BUG: nor here


torch.manual_seed(106)
(x, y), (xt, yt) = load()
x, xt = (x.float() / 255)[:, None], (xt.float() / 255)[:, None]
net = Net()
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
for epoch in range(3):
    net.train()
    for idx in torch.randperm(len(x)).split(64):
        opt.zero_grad()
        F.cross_entropy(net(x[idx]), y[idx]).backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        out = net(xt)
    print(epoch, F.cross_entropy(out, yt).item(), (out.argmax(1) == yt).float().mean().item())
