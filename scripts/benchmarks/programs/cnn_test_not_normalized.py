# bench: family=CNN (BatchNorm, Dropout) | data=Fashion-MNIST | optimizer=Adam | causes=preprocessing_mismatch
"""A CNN with BatchNorm on Fashion-MNIST, Adam, the training images standardised with the data set's mean and std.
BUG: the test images are only divided by 255, never standardised."""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from fmnist import load

MEAN, STD = 0.286, 0.353
torch.manual_seed(41)
(x, y), (xt, yt) = load()
x = ((x.float() / 255 - MEAN) / STD).unsqueeze(1)
xt = (xt.float() / 255).unsqueeze(1)  # BUG: (xt - MEAN) / STD forgotten
model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Flatten(), nn.Linear(32 * 49, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
crit = nn.CrossEntropyLoss()
for epoch in range(3):
    model.train()
    for xb, yb in DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True):
        opt.zero_grad()
        crit(model(xb), yb).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        out = model(xt)
    print(epoch, crit(out, yt).item(), (out.argmax(1) == yt).float().mean().item())
