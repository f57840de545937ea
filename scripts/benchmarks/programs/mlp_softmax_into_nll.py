# bench: family=MLP | data=Fashion-MNIST | optimizer=RMSprop | causes=double_softmax,output_activation | held_out=1
"""MLP on Fashion-MNIST, RMSprop. BUG: the model ends in softmax and feeds nn.NLLLoss, which expects
log-probabilities: the loss is -p instead of -log p. Held out: written after the rules were fixed."""
import torch
from torch import nn

from fmnist import load

torch.manual_seed(107)
(x, y), (xt, yt) = load()
x, xt = x.float() / 255, xt.float() / 255
model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10), nn.Softmax(dim=1))  # BUG
opt = torch.optim.RMSprop(model.parameters(), lr=1e-3)
nll = nn.NLLLoss()
for epoch in range(4):
    model.train()
    for idx in torch.randperm(len(x)).split(64):
        opt.zero_grad()
        nll(model(x[idx]), y[idx]).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        out = model(xt)
    print(epoch, nll(out, yt).item(), (out.argmax(1) == yt).float().mean().item())
