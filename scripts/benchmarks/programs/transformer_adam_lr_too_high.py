# bench: family=Transformer | data=markers | optimizer=Adam | causes=lr_too_high
"""A Transformer encoder on the synthetic marker task, Adam. BUG: learning rate 0.05 (a Transformer wants ~1e-3)."""
import torch
from torch import nn

import markers


class Encoder(nn.Module):
    def __init__(self, d=48):
        super().__init__()
        self.embed = nn.Embedding(markers.VOCAB, d)
        self.pos = nn.Parameter(torch.zeros(1, markers.LENGTH, d))
        layer = nn.TransformerEncoderLayer(d, nhead=4, dim_feedforward=96, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=2)
        self.out = nn.Linear(d, markers.CLASSES)

    def forward(self, tokens):
        return self.out(self.encoder(self.embed(tokens) + self.pos).mean(1))


torch.manual_seed(13)
(x, y), (xt, yt) = markers.load()
model = Encoder()
opt = torch.optim.Adam(model.parameters(), lr=0.05)  # BUG
crit = nn.CrossEntropyLoss()
for epoch in range(4):
    model.train()
    for idx in torch.randperm(len(x)).split(64):
        loss = crit(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        out = model(xt)
        print(epoch, crit(out, yt).item(), (out.argmax(-1) == yt).float().mean().item())
