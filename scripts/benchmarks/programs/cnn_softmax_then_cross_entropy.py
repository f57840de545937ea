# bench: family=CNN (BatchNorm, Dropout) | data=Fashion-MNIST | optimizer=Adam | causes=double_softmax
"""CNN on Fashion-MNIST, Adam. BUG: the model ends in nn.Softmax, and nn.CrossEntropyLoss applies log-softmax again."""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from fmnist import load

torch.manual_seed(18)
(x, y), (xt, yt) = load()
train = DataLoader(TensorDataset((x.float() / 255).unsqueeze(1), y), batch_size=64, shuffle=True)
xt = (xt.float() / 255).unsqueeze(1)
model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Flatten(), nn.Linear(32 * 49, 10),
                      nn.Softmax(dim=1))  # BUG: probabilities into CrossEntropyLoss
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
criterion = nn.CrossEntropyLoss()
for epoch in range(3):
    model.train()
    for xb, yb in train:
        opt.zero_grad()
        criterion(model(xb), yb).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        out = model(xt)
    print(epoch, criterion(out, yt).item(), (out.argmax(1) == yt).float().mean().item())
