# bench: family=CNN (BatchNorm, Dropout) | data=Fashion-MNIST | optimizer=SGD | causes=not_optimized
"""A CNN in a class with a features part and a classifier, SGD with momentum. BUG: the optimizer is given only the
features' parameters."""
import torch
import torch.nn.functional as F
from torch import nn

from fmnist import load


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                                      nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Linear(32 * 49, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


torch.manual_seed(28)
(x, y), (xt, yt) = load()
x, xt = (x.float() / 255).unsqueeze(1), (xt.float() / 255).unsqueeze(1)
net = Net()
opt = torch.optim.SGD(net.features.parameters(), lr=0.05, momentum=0.9)  # BUG: net.parameters()
for epoch in range(3):
    net.train()
    for idx in torch.randperm(len(x)).split(64):
        loss = F.cross_entropy(net(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        out = net(xt)
    print(epoch, F.cross_entropy(out, yt).item())
