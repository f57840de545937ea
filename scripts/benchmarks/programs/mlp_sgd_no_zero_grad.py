# bench: family=MLP | data=Fashion-MNIST | optimizer=SGD | causes=grad_accumulation
"""MLP on Fashion-MNIST, SGD with momentum. BUG: optimizer.zero_grad() never called: gradients add up over steps."""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from fmnist import load

torch.manual_seed(23)
(x, y), (xt, yt) = load()
loader = DataLoader(TensorDataset(x.float() / 255, y), batch_size=64, shuffle=True)
model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
crit = nn.CrossEntropyLoss()
for epoch in range(4):
    model.train()
    for xb, yb in loader:
        loss = crit(model(xb), yb)
        loss.backward()  # BUG: no opt.zero_grad() anywhere
        opt.step()
    model.eval()
    with torch.no_grad():
        out = model(xt.float() / 255)
    print(epoch, crit(out, yt).item())
