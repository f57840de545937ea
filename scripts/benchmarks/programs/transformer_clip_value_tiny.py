# bench: family=Transformer | data=markers | optimizer=SGD | causes=grad_clip | held_out=1
"""A Transformer encoder on the synthetic marker task, SGD with momentum. BUG: every gradient entry clipped to
1e-5 (clip_grad_value_, meant clip_grad_norm_ at 1.0). Held out: written after the rules were fixed."""
import torch
from torch import nn

import markers

torch.manual_seed(108)
(x, y), (xt, yt) = markers.load()
embed = nn.Embedding(markers.VOCAB, 32)
encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(32, 4, 64, dropout=0.1, batch_first=True), 1)
head = nn.Linear(32, markers.CLASSES)
model = nn.ModuleDict({"embed": embed, "encoder": encoder, "head": head})


def forward(tokens):
    return model["head"](model["encoder"](model["embed"](tokens)).mean(1))


class Wrapper(nn.Module):  # one module to call, so that train and eval go through the same path
    def __init__(self, parts):
        super().__init__()
        self.parts = parts

    def forward(self, tokens):
        return forward(tokens)


net = Wrapper(model)
opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(4):
    net.train()
    for idx in torch.randperm(len(x)).split(64):
        opt.zero_grad()
        loss_fn(net(x[idx]), y[idx]).backward()
        nn.utils.clip_grad_value_(net.parameters(), 1e-5)  # BUG
        opt.step()
    net.eval()
    with torch.no_grad():
        print(epoch, loss_fn(net(xt), yt).item())
