# bench: family=recurrent | data=Fashion-MNIST | optimizer=SGD | causes=none
"""An LSTM reading each Fashion-MNIST image row by row, SGD with momentum and a StepLR stepped once per epoch:
healthy."""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from fmnist import load


class RowLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(28, 64, batch_first=True)
        self.head = nn.Linear(64, 10)

    def forward(self, images):
        seq, _ = self.lstm(images)  # [batch, 28 rows, 28 pixels]
        return self.head(seq[:, -1])


torch.manual_seed(9)
(x, y), (xt, yt) = load()
loader = DataLoader(TensorDataset(x.float() / 255, y), batch_size=32, shuffle=True)
xt = xt.float() / 255
model = RowLSTM()
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
crit = nn.CrossEntropyLoss()
for epoch in range(4):
    model.train()
    for images, labels in loader:
        opt.zero_grad()
        crit(model(images), labels).backward()
        opt.step()
    sched.step()
    model.eval()
    with torch.no_grad():
        out = model(xt)
    print(epoch, crit(out, yt).item(), (out.argmax(1) == yt).float().mean().item())
