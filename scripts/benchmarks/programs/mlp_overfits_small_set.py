# bench: family=MLP | data=Fashion-MNIST | optimizer=Adam | causes=overfitting
"""A wide MLP on 300 Fashion-MNIST images, Adam, 40 epochs, the last epoch's model kept. BUG: far too little data for
the model and no early stopping: the test loss bottoms out early and then climbs."""
import torch
from torch import nn

from fmnist import load

torch.manual_seed(42)
(x, y), (xt, yt) = load(train=300, test=1000)  # BUG: 300 training images for 470k parameters, 40 epochs
x, xt = x.float() / 255, xt.float() / 255
model = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 128), nn.ReLU(),
                      nn.Linear(128, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
crit = nn.CrossEntropyLoss()
for epoch in range(40):
    model.train()
    for idx in torch.randperm(len(x)).split(32):
        opt.zero_grad()
        crit(model(x[idx]), y[idx]).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        out = model(xt)
    print(epoch, crit(out, yt).item(), (out.argmax(1) == yt).float().mean().item())
