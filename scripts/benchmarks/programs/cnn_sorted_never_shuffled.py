# bench: family=CNN (BatchNorm, Dropout) | data=Fashion-MNIST | optimizer=SGD | causes=unshuffled
"""A CNN on Fashion-MNIST, SGD with momentum, the training set sorted by class (as a folder-per-class data set is
read). BUG: the DataLoader is built with shuffle=False, so each stretch of batches holds one class."""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from fmnist import load

torch.manual_seed(37)
(x, y), (xt, yt) = load()
order = torch.argsort(y, stable=True)  # read class by class
x, y = (x[order].float() / 255).unsqueeze(1), y[order]
xt = (xt.float() / 255).unsqueeze(1)
loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=False)  # BUG
model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Flatten(), nn.Linear(32 * 49, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
crit = nn.CrossEntropyLoss()
for epoch in range(3):
    model.train()
    for xb, yb in loader:
        opt.zero_grad()
        crit(model(xb), yb).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        out = model(xt)
    print(epoch, crit(out, yt).item(), (out.argmax(1) == yt).float().mean().item())
