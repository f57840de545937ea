# bench: family=recurrent | data=Fashion-MNIST | optimizer=Adam | causes=input_scale
"""An LSTM reading Fashion-MNIST rows, Adam. BUG: the rows are fed as raw 0..255 pixel values."""
import torch
from torch import nn

from fmnist import load


class RowLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(28, 64, batch_first=True)
        self.head = nn.Linear(64, 10)

    def forward(self, images):
        seq, _ = self.lstm(images)
        return self.head(seq[:, -1])


torch.manual_seed(11)
(x, y), (xt, yt) = load()
x, xt = x.float(), xt.float()  # BUG: 0..255 into the LSTM's gates
model = RowLSTM()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
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
