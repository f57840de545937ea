# bench: family=MLP | data=Fashion-MNIST | optimizer=SGD | causes=batch_mixing
"""An MLP on Fashion-MNIST returning log-probabilities for nn.NLLLoss, SGD with momentum. BUG: log_softmax over dim 0,
the batch, instead of the classes."""
import torch
import torch.nn.functional as F
from torch import nn

from fmnist import load


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1, self.l2 = nn.Linear(784, 128), nn.Linear(128, 10)

    def forward(self, x):
        return F.log_softmax(self.l2(F.relu(self.l1(x.flatten(1)))), dim=0)  # BUG: dim=1


torch.manual_seed(35)
(x, y), (xt, yt) = load()
x, xt = x.float() / 255, xt.float() / 255
net = Net()
opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
nll = nn.NLLLoss()
for epoch in range(4):
    net.train()
    for idx in torch.randperm(len(x)).split(64):
        opt.zero_grad()
        nll(net(x[idx]), y[idx]).backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        out = net(xt)
    print(epoch, nll(out, yt).item(), (out.argmax(1) == yt).float().mean().item())
