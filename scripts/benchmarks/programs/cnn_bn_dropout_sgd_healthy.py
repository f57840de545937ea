# bench: family=CNN (BatchNorm, Dropout) | data=Fashion-MNIST | optimizer=SGD | causes=none
"""CNN with BatchNorm and Dropout on Fashion-MNIST, SGD with momentum, model in a class: healthy."""
import torch
import torch.nn.functional as F
from torch import nn

from fmnist import load


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16)
        self.conv2, self.bn2 = nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32)
        self.drop = nn.Dropout(0.3)
        self.fc = nn.Linear(32 * 7 * 7, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        return self.fc(self.drop(x.flatten(1)))


def evaluate(model, xt, yt):
    model.eval()
    with torch.no_grad():
        out = model(xt)
    return F.cross_entropy(out, yt).item(), (out.argmax(1) == yt).float().mean().item()


def main():
    torch.manual_seed(1)
    (x, y), (xt, yt) = load()
    x, xt = (x.float() / 255).unsqueeze(1), (xt.float() / 255).unsqueeze(1)
    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for epoch in range(3):
        model.train()
        perm = torch.randperm(len(x))
        for i in range(0, len(x), 128):
            idx = perm[i:i + 128]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        print(epoch, evaluate(model, xt, yt))


if __name__ == "__main__":
    main()
