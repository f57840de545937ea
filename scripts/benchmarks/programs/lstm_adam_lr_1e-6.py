# bench: family=recurrent | data=markers | optimizer=Adam | causes=lr_too_low | held_out=2
"""An LSTM on the synthetic marker task. BUG: Adam at learning rate 1e-6 (a unit mix-up: meant 1e-3). Held out
(second round): written after the rules were fixed again."""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import markers


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(markers.VOCAB, 32)
        self.lstm = nn.LSTM(32, 64, batch_first=True)
        self.fc = nn.Linear(64, markers.CLASSES)

    def forward(self, x):
        _, (h, _) = self.lstm(self.emb(x))
        return self.fc(h[-1])


torch.manual_seed(204)
(x, y), (xt, yt) = markers.load()
net = Net()
opt = torch.optim.Adam(net.parameters(), lr=1e-6)  # BUG
crit = nn.CrossEntropyLoss()
for epoch in range(4):
    net.train()
    for a, b in DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True):
        opt.zero_grad()
        crit(net(a), b).backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        print(epoch, crit(net(xt), yt).item())
