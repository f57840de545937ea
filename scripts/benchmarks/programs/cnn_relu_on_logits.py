# bench: family=CNN (BatchNorm, Dropout) | data=Fashion-MNIST | optimizer=RMSprop | causes=output_activation
"""A CNN on Fashion-MNIST, RMSprop. BUG: a ReLU after the last layer: every negative logit is cut to 0."""
import torch
import torch.nn.functional as F
from torch import nn

from fmnist import load


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 16, 3, padding=1), nn.Conv2d(16, 32, 3, padding=1)
        self.fc1, self.fc2 = nn.Linear(32 * 49, 64), nn.Linear(64, 10)
        self.relu = nn.ReLU()

    def forward(self, x):
        x = F.max_pool2d(self.relu(self.conv1(x)), 2)
        x = F.max_pool2d(self.relu(self.conv2(x)), 2)
        return self.relu(self.fc2(self.relu(self.fc1(x.flatten(1)))))  # BUG: relu on the logits


torch.manual_seed(32)
(x, y), (xt, yt) = load()
x, xt = (x.float() / 255).unsqueeze(1), (xt.float() / 255).unsqueeze(1)
model = Net()
opt = torch.optim.RMSprop(model.parameters(), lr=1e-3)
for epoch in range(3):
    model.train()
    for idx in torch.randperm(len(x)).split(64):
        opt.zero_grad()
        F.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        out = model(xt)
    print(epoch, F.cross_entropy(out, yt).item(), (out.argmax(1) == yt).float().mean().item())
