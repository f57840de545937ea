# bench: family=CNN (BatchNorm, Dropout) | data=Fashion-MNIST | optimizer=Adam | causes=unshuffled | held_out=2
"""A CNN with BatchNorm on Fashion-MNIST, Adam, the training set grouped by class (one folder per class). BUG: the
DataLoader is given a SequentialSampler, so the classes come one after another. Held out (second round): written
after the rules were fixed again."""
import torch
from torch import nn
from torch.utils.data import DataLoader, SequentialSampler, TensorDataset

from fmnist import load

torch.manual_seed(206)
(x, y), (xt, yt) = load()
groups = [torch.nonzero(y == c).flatten() for c in range(10)]  # "read folder by folder"
order = torch.cat(groups)
train_set = TensorDataset(x[order].float().div(255).unsqueeze(1), y[order])
loader = DataLoader(train_set, batch_size=50, sampler=SequentialSampler(train_set))  # BUG
model = nn.Sequential(nn.Conv2d(1, 16, 5, padding=2), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Conv2d(16, 16, 5, padding=2), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Flatten(), nn.Linear(16 * 49, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
crit = nn.CrossEntropyLoss()
for epoch in range(3):
    model.train()
    for a, b in loader:
        opt.zero_grad()
        crit(model(a), b).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        out = model(xt.float().div(255).unsqueeze(1))
    print(epoch, crit(out, yt).item(), (out.argmax(1) == yt).float().mean().item())
