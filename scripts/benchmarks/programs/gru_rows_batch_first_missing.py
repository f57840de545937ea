# bench: family=recurrent | data=Fashion-MNIST | optimizer=Adam | causes=batch_mixing
"""A GRU reading Fashion-MNIST rows, Adam. BUG: the GRU is built without batch_first=True and fed [batch, rows,
pixels]: it runs along the batch, mixing the images with each other."""
import torch
from torch import nn

from fmnist import load


class RowGRU(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(28, 64)  # BUG: batch_first missing
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1])


torch.manual_seed(34)
(x, y), (xt, yt) = load()
x, xt = x.float() / 255, xt.float() / 255
model = RowGRU()
opt = torch.optim.Adam(model.parameters(), lr=2e-3)
crit = nn.CrossEntropyLoss()
for epoch in range(3):
    model.train()
    for idx in torch.randperm(len(x)).split(64):
        opt.zero_grad()
        crit(model(x[idx]), y[idx]).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        out = model(xt)
    print(epoch, crit(out, yt).item(), (out.argmax(1) == yt).float().mean().item())
