# bench: family=Transformer | data=markers | optimizer=Adam | causes=output_activation
"""A Transformer encoder on the synthetic marker task, Adam. BUG: a sigmoid on the class scores before
CrossEntropyLoss (as if it were a multi-label task): the logits are squeezed into (0, 1)."""
import torch
from torch import nn

import markers


class Encoder(nn.Module):
    def __init__(self, d=48):
        super().__init__()
        self.embed = nn.Embedding(markers.VOCAB, d)
        layer = nn.TransformerEncoderLayer(d, nhead=4, dim_feedforward=96, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=2)
        self.out = nn.Sequential(nn.Linear(d, markers.CLASSES), nn.Sigmoid())  # BUG

    def forward(self, tokens):
        return self.out(self.encoder(self.embed(tokens)).mean(1))


torch.manual_seed(33)
(x, y), (xt, yt) = markers.load()
model = Encoder()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
crit = nn.CrossEntropyLoss()
for epoch in range(4):
    model.train()
    for idx in torch.randperm(len(x)).split(64):
        opt.zero_grad()
        crit(model(x[idx]), y[idx]).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        out = model(xt)
    print(epoch, crit(out, yt).item(), (out.argmax(-1) == yt).float().mean().item())
