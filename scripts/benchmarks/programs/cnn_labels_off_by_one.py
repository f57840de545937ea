# bench: family=CNN (BatchNorm, Dropout) | data=Fashion-MNIST | optimizer=SGD | causes=labels_misaligned | held_out=1
"""A CNN on Fashion-MNIST, SGD with Nesterov momentum. BUG: the labels are paired with the next image (an off-by-one
when the author dropped a header row from the label file only). Held out: written after the rules were fixed."""
import torch
import torch.nn.functional as F
from torch import nn

from fmnist import load

torch.manual_seed(102)
(x, y), (xt, yt) = load()
x, y = x[:-1], y[1:]  # BUG: image i gets the label of image i + 1
x, xt = x.float().div(255).unsqueeze(1), xt.float().div(255).unsqueeze(1)
model = nn.Sequential(nn.Conv2d(1, 8, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 5), nn.ReLU(),
                      nn.MaxPool2d(2), nn.Flatten(), nn.Linear(256, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
for epoch in range(3):
    model.train()
    for idx in torch.randperm(len(x)).split(50):
        opt.zero_grad()
        F.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        out = model(xt)
    print(epoch, F.cross_entropy(out, yt).item(), out.argmax(1).eq(yt).float().mean().item())
