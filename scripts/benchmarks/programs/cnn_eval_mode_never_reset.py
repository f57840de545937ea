# bench: family=CNN (BatchNorm, Dropout) | data=Fashion-MNIST | optimizer=Adam | causes=eval_mode
"""CNN with BatchNorm and Dropout on Fashion-MNIST, Adam, a validation pass after each epoch. BUG: the validation
puts the model in eval mode and training never puts it back."""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from fmnist import load


def validate(model, loader, crit):
    model.eval()
    total, correct = 0.0, 0
    with torch.no_grad():
        for xb, yb in loader:
            out = model(xb)
            total += crit(out, yb).item() * len(yb)
            correct += (out.argmax(1) == yb).sum().item()
    return total / len(loader.dataset), correct / len(loader.dataset)


torch.manual_seed(25)
(x, y), (xt, yt) = load()
train = DataLoader(TensorDataset((x.float() / 255).unsqueeze(1), y), batch_size=64, shuffle=True)
test = DataLoader(TensorDataset((xt.float() / 255).unsqueeze(1), yt), batch_size=500)
model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Dropout(0.3), nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
                      nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.3), nn.Linear(32 * 49, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
crit = nn.CrossEntropyLoss()
model.train()
for epoch in range(3):
    for xb, yb in train:  # BUG: no model.train() here after the first validation
        opt.zero_grad()
        crit(model(xb), yb).backward()
        opt.step()
    print(epoch, validate(model, test, crit))
