# bench: family=MLP | data=Fashion-MNIST | optimizer=Adam | causes=probability_clip,input_scale
"""MLP on Fashion-MNIST, Adam, the loss written by hand as Keras computes it (softmax probabilities clamped to
[1e-7, 1 - 1e-7], then -log p). BUG: raw 0..255 pixels: most samples start beyond the clamp, where they pass no
gradient."""
import torch
from torch import nn

from fmnist import load


def keras_loss(logits, target, eps=1e-7):
    p = torch.softmax(logits, dim=1).clamp(eps, 1 - eps)
    return -torch.log(p.gather(1, target[:, None])).mean()


torch.manual_seed(22)
(x, y), (xt, yt) = load()
x, xt = x.float(), xt.float()  # BUG: never divided by 255
model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
nn.init.xavier_uniform_(model[1].weight)
nn.init.xavier_uniform_(model[3].weight)
opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
for epoch in range(4):
    model.train()
    for idx in torch.randperm(len(x)).split(32):
        opt.zero_grad()
        keras_loss(model(x[idx]), y[idx]).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        out = model(xt)
    print(epoch, keras_loss(out, yt).item(), (out.argmax(1) == yt).float().mean().item())
