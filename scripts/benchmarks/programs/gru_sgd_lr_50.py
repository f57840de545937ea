# bench: family=recurrent | data=markers | optimizer=SGD | causes=lr_too_high | held_out=1
"""A GRU on the synthetic marker task, plain SGD. BUG: learning rate 50. Held out: written after the rules were
fixed."""
import torch
import torch.nn.functional as F
from torch import nn

import markers


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.e = nn.Embedding(markers.VOCAB, 16)
        self.g = nn.GRU(16, 32, batch_first=True)
        self.o = nn.Linear(32, markers.CLASSES)

    def forward(self, x):
        return self.o(self.g(self.e(x))[0][:, -1])


torch.manual_seed(104)
(x, y), (xt, yt) = markers.load()
net = Net()
sgd = torch.optim.SGD(net.parameters(), lr=50.0)  # BUG
for epoch in range(4):
    net.train()
    for i in range(0, len(x), 32):
        sgd.zero_grad()
        F.cross_entropy(net(x[i:i + 32]), y[i:i + 32]).backward()
        sgd.step()
    net.eval()
    with torch.no_grad():
        out = net(xt)
    print(epoch, F.cross_entropy(out, yt).item(), (out.argmax(1) == yt).float().mean().item())
