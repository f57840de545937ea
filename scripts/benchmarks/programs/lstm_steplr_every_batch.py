# bench: family=recurrent | data=markers | optimizer=SGD | causes=lr_schedule
"""An LSTM on the synthetic marker task, SGD with momentum and StepLR(step_size=1, gamma=0.7). BUG: the scheduler is
stepped after every batch instead of every epoch: the learning rate is ~0 within the first epoch."""
import torch
from torch import nn

import markers


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(markers.VOCAB, 32)
        self.lstm = nn.LSTM(32, 64, batch_first=True)
        self.out = nn.Linear(64, markers.CLASSES)

    def forward(self, x):
        h, _ = self.lstm(self.emb(x))
        return self.out(h.mean(1))


torch.manual_seed(38)
(x, y), (xt, yt) = markers.load()
net = Net()
opt = torch.optim.SGD(net.parameters(), lr=0.5, momentum=0.9)
sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
crit = nn.CrossEntropyLoss()
for epoch in range(4):
    net.train()
    for idx in torch.randperm(len(x)).split(32):
        opt.zero_grad()
        crit(net(x[idx]), y[idx]).backward()
        opt.step()
        sched.step()  # BUG: one "epoch" of the schedule per batch
    net.eval()
    with torch.no_grad():
        out = net(xt)
    print(epoch, crit(out, yt).item(), (out.argmax(1) == yt).float().mean().item())
